"""Draw an ``Inspection`` onto its image (used by the batch scorer and the dashboard)."""

from __future__ import annotations

from PIL import Image, ImageDraw

from .results import Inspection

PALETTE = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
)


def annotate(image: Image.Image, inspection: Inspection, class_names: tuple[str, ...] = ()) -> Image.Image:
    """Return a copy of ``image`` with each defect's box, label and score drawn."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    for d in inspection.defects:
        idx = class_names.index(d.label) if d.label in class_names else abs(hash(d.label))
        colour = PALETTE[idx % len(PALETTE)]
        draw.rectangle(d.box, outline=colour, width=2)
        draw.text((d.box[0] + 2, max(0, d.box[1] - 11)), f"{d.label} {d.score:.2f}", fill=colour)
    draw.text((3, 3), inspection.verdict, fill=(0, 200, 0) if inspection.ok else (255, 40, 40))
    return out

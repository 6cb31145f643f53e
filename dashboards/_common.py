"""Helpers shared by the dashboard pages: colours, box drawing and batch summaries.

Only the public ``deepseek_apps`` API is used here, so the pages stay thin and these
helpers can be tested without Streamlit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from deepseek_apps import Inspection

# Distinct, colour-blind-friendly colours (Okabe-Ito), cycled when there are more classes.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")


def class_colours(class_names: Sequence[str]) -> dict[str, str]:
    """One stable colour per class, in the model's class order."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(class_names)}


def keep_above(inspection: Inspection, threshold: float) -> Inspection:
    """The same inspection with only the defects scoring at least ``threshold``."""
    return dataclasses.replace(inspection, defects=[d for d in inspection.defects if d.score >= threshold])


def draw_defects(
    image: Image.Image, inspection: Inspection, colours: dict[str, str], min_side: int = 400
) -> Image.Image:
    """A copy of ``image`` (upscaled to at least ``min_side`` px) with labelled boxes drawn."""
    scale = max(1.0, min_side / max(image.width, image.height))
    canvas = image.convert("RGB").resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=max(12, round(canvas.height / 28)))
    line = max(2, round(canvas.height / 150))
    for defect in inspection.defects:
        colour = colours.get(defect.label, PALETTE[-1])
        x0, y0, x1, y1 = (v * scale for v in defect.box)
        draw.rectangle((x0, y0, x1, y1), outline=colour, width=line)
        text = f"{defect.label} {defect.score:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tx, ty = x0, max(0.0, y0 - (bottom - top) - 2 * line)
        draw.rectangle((tx, ty, tx + right - left + 2 * line, ty + bottom - top + 2 * line), fill=colour)
        draw.text((tx + line - left, ty + line - top), text, fill="black", font=font)
    return canvas


def class_counts(inspections: Sequence[Inspection], class_names: Sequence[str]) -> pd.DataFrame:
    """Defects per class over a batch, every class listed (zeros included), indexed by class."""
    counts = dict.fromkeys(class_names, 0)
    for inspection in inspections:
        for defect in inspection.defects:
            counts[defect.label] = counts.get(defect.label, 0) + 1
    return pd.DataFrame({"defects": list(counts.values())}, index=pd.Index(list(counts), name="class"))


def summarise(inspections: Sequence[Inspection]) -> dict[str, float]:
    """Images, OK, NG, ERROR counts, defect total and mean latency (ms, over inspected images)."""
    verdicts = [r.verdict for r in inspections]
    timed = [r.latency_ms for r in inspections if r.error is None]
    return {
        "images": len(inspections),
        "ok": verdicts.count("OK"),
        "ng": verdicts.count("NG"),
        "errors": verdicts.count("ERROR"),
        "defects": sum(len(r.defects) for r in inspections),
        "mean_latency_ms": sum(timed) / len(timed) if timed else 0.0,
    }

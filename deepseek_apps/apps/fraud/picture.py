"""The picture of an ``Explanation``: the explained transaction, its account and merchant, their neighbours.

Example:
    >>> FraudDetector().explain("t42").draw().size  # doctest: +SKIP
    (520, 520)
"""

from __future__ import annotations

import math


def _colour(v: float, scale: float) -> tuple[int, int, int]:
    a = min(1.0, abs(v) / scale) if scale > 0 else 0.0
    return (
        (int(255 - 40 * a), int(230 - 190 * a), int(230 - 190 * a))
        if v >= 0
        else (int(230 - 190 * a), int(230 - 140 * a), 255)
    )


def draw_explanation(exp, size: int = 520):
    """The subgraph: account left, merchant right, the explained transaction between, neighbours around."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    cx, cy, r = size / 2, size / 2, size * 0.035
    acc, mer = (size * 0.3, cy), (size * 0.7, cy)
    scale = max([abs(n.influence) for n in exp.neighbours] + [1e-6])
    groups = {
        "account": [n for n in exp.neighbours if n.via == "account"],
        "merchant": [n for n in exp.neighbours if n.via == "merchant"],
    }
    for (hx, hy), group, side in ((acc, groups["account"], -1), (mer, groups["merchant"], 1)):
        for i, n in enumerate(group):
            ang = (
                math.pi / 2
                - side * (math.pi / 2)
                + (i - (len(group) - 1) / 2) * (math.pi * 0.9 / max(len(group) - 1, 1))
            )
            px, py = hx + math.cos(ang) * size * 0.22, hy + math.sin(ang) * size * 0.22
            draw.line([(px, py), (hx, hy)], fill=(170, 170, 170), width=1)
            draw.ellipse(
                [px - r * 0.7, py - r * 0.7, px + r * 0.7, py + r * 0.7],
                fill=_colour(n.influence, scale),
                outline=(200, 0, 0) if n.label == 1 else (90, 90, 90),
                width=3 if n.label == 1 else 1,
            )
            draw.text((px - r, py + r * 0.8), n.id[:10], fill=(60, 60, 60))
    draw.line([acc, (cx, cy), mer], fill=(60, 60, 60), width=3)
    for (x, y), label, fill in ((acc, exp.source, (120, 170, 220)), (mer, exp.destination, (140, 200, 140))):
        draw.rectangle([x - r, y - r, x + r, y + r], fill=fill, outline=(40, 40, 40))
        draw.text((x - r, y + r + 2), label[:12], fill=(0, 0, 0))
    seed_fill = (220, 50, 50) if exp.alert else (250, 200, 80)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=seed_fill, outline=(0, 0, 0), width=2)
    draw.text(
        (8, 8), f"transaction {exp.id}  score {exp.score:.3f}  {'ALERT' if exp.alert else 'no alert'}", fill=(0, 0, 0)
    )
    draw.text((8, size - 18), "red: raises the score  blue: lowers it  red ring: labelled fraud", fill=(80, 80, 80))
    return img

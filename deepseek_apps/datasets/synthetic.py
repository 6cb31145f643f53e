"""Seeded synthetic steel-surface images with the six NEU-DET defect classes and exact boxes.

The generator feeds the tests and the demo so neither needs outside data. It is not a
substitute for real training data: it renders plausible textures (rolled steel grain,
noise, vignetting) and one to three defects per image whose boxes are exact by construction.

Example:
    >>> from deepseek_apps.datasets.synthetic import generate_samples
    >>> samples = generate_samples(4, seed=0)
    >>> samples[0].image.size, samples[0].boxes.shape[1]
    ((200, 200), 4)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .types import NEU_CLASSES, DetectionSample


def _base_surface(rng: np.random.Generator, size: int) -> np.ndarray:
    """Grey rolled-steel texture: horizontal grain, fine noise and a soft vignette."""
    level = rng.uniform(90, 170)
    column = np.convolve(rng.normal(0, rng.uniform(3, 9), size=size + 2), np.ones(3) / 3, mode="valid")
    grain = column[:, None].repeat(size, axis=1)
    noise = rng.normal(0, rng.uniform(4, 10), size=(size, size))
    yy, xx = np.mgrid[0:size, 0:size] / size - 0.5
    vignette = -rng.uniform(0, 40) * (xx**2 + yy**2)
    return level + grain + noise + vignette


def _box(rng: np.random.Generator, size: int, wmin: int, wmax: int, hmin: int, hmax: int):
    w = int(rng.integers(wmin, wmax + 1))
    h = int(rng.integers(hmin, hmax + 1))
    x0 = int(rng.integers(0, size - w + 1))
    y0 = int(rng.integers(0, size - h + 1))
    return x0, y0, x0 + w, y0 + h


def _draw_crazing(rng, img, size):
    box = _box(rng, size, 60, size, 60, size)
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    for _ in range(int(rng.integers(25, 60))):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        for _ in range(int(rng.integers(2, 5))):
            nx = float(np.clip(x + rng.normal(0, 8), x0, x1 - 1))
            ny = float(np.clip(y + rng.normal(0, 4), y0, y1 - 1))
            draw.line([(x, y), (nx, ny)], fill=int(rng.uniform(-45, -20)), width=1)
            x, y = nx, ny
    return box


def _draw_inclusion(rng, img, size):
    box = _box(rng, size, 6, 30, 10, 70)
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    draw.ellipse([x0, y0, x1 - 1, y1 - 1], fill=int(rng.uniform(-80, -45)))
    return box


def _draw_patches(rng, img, size):
    box = _box(rng, size, 30, 110, 30, 110)
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    angles = np.sort(rng.uniform(0, 2 * np.pi, 9))
    pts = [
        (
            cx + (x1 - x0) / 2 * np.cos(a) * rng.uniform(0.75, 1.0),
            cy + (y1 - y0) / 2 * np.sin(a) * rng.uniform(0.75, 1.0),
        )
        for a in angles
    ]
    draw.polygon(pts, fill=int(rng.choice([-1, 1]) * rng.uniform(35, 60)))
    return _tight(pts, size)


def _draw_pitted(rng, img, size):
    box = _box(rng, size, 20, 80, 20, 80)
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    for _ in range(int(rng.integers(10, 30))):
        r = rng.uniform(1, 3)
        x, y = rng.uniform(x0 + r, x1 - r), rng.uniform(y0 + r, y1 - r)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=int(rng.uniform(-70, -35)))
    return box


def _draw_rolled_in_scale(rng, img, size):
    box = _box(rng, size, 25, 100, 25, 100)
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    for _ in range(int(rng.integers(8, 20))):
        w, h = rng.uniform(4, 12), rng.uniform(2, 6)
        x, y = rng.uniform(x0, x1 - w), rng.uniform(y0, y1 - h)
        draw.rectangle([x, y, x + w, y + h], fill=int(rng.uniform(-55, -25)))
    return box


def _draw_scratches(rng, img, size):
    vertical = rng.random() < 0.5
    length = int(rng.integers(60, size))
    start = int(rng.integers(0, size - length + 1))
    pos = int(rng.integers(10, size - 10))
    drift = int(rng.integers(-8, 9))
    draw = ImageDraw.Draw(img)
    value = int(rng.choice([-1, 1]) * rng.uniform(40, 70))
    if vertical:
        pts = [(pos, start), (pos + drift, start + length - 1)]
    else:
        pts = [(start, pos), (start + length - 1, pos + drift)]
    draw.line(pts, fill=value, width=2)
    return _tight(pts, size, pad=2)


def _tight(points, size: int, pad: int = 0):
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0 = max(0, int(np.floor(min(xs))) - pad)
    y0 = max(0, int(np.floor(min(ys))) - pad)
    x1 = min(size, int(np.ceil(max(xs))) + 1 + pad)
    y1 = min(size, int(np.ceil(max(ys))) + 1 + pad)
    return x0, y0, x1, y1


_PAINTERS = {
    "crazing": _draw_crazing,
    "inclusion": _draw_inclusion,
    "patches": _draw_patches,
    "pitted_surface": _draw_pitted,
    "rolled-in_scale": _draw_rolled_in_scale,
    "scratches": _draw_scratches,
}


def render_sample(rng: np.random.Generator, size: int = 200, index: int = 0) -> DetectionSample:
    """Render one image: a random defect class, one to three instances, exact boxes."""
    surface = _base_surface(rng, size)
    label = int(rng.integers(0, len(NEU_CLASSES)))
    count = 1 if NEU_CLASSES[label] == "crazing" else int(rng.integers(1, 4))
    boxes = []
    for _ in range(count):
        # Defects are painted as signed offsets on a float layer ("F" mode) then added.
        layer = Image.new("F", (size, size), 0.0)
        boxes.append(_PAINTERS[NEU_CLASSES[label]](rng, layer, size))
        surface = surface + np.asarray(layer)
    pixels = np.clip(surface, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, mode="L").convert("RGB")
    return DetectionSample(
        image=image,
        boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        labels=np.full(len(boxes), label, dtype=np.int64),
        name=f"synthetic_{NEU_CLASSES[label]}_{index:05d}",
    )


def generate_samples(count: int, seed: int = 0, size: int = 200) -> list[DetectionSample]:
    """Render ``count`` samples deterministically from ``seed``."""
    rng = np.random.default_rng(seed)
    return [render_sample(rng, size=size, index=i) for i in range(count)]


def write_voc(directory: str | Path, count: int, seed: int = 0, size: int = 200) -> Path:
    """Write ``count`` samples as a Pascal VOC folder (``JPEGImages/`` + ``Annotations/``)."""
    from .voc import write_voc_sample

    root = Path(directory)
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    for sample in generate_samples(count, seed=seed, size=size):
        write_voc_sample(root, sample, NEU_CLASSES)
    return root


LARGE_CLASSES = ("pit", "spot")


def render_large(rng: np.random.Generator, side: int = 1024, defects: int = 8, sizes: tuple[int, int] = (10, 16)):
    """A ``side x side`` plate with ``defects`` small dark pits (class 0) and bright spots (class 1).

    The tiling tests' data: defects of ``sizes`` pixels, far apart, which
    shrink below what a detector resolves when the whole plate is resized to 640.
    Returns the image and its YOLO label lines.
    """
    canvas = _base_surface(rng, side)
    lines: list[str] = []
    taken: list[tuple[int, int]] = []
    while len(lines) < defects:
        d = int(rng.integers(sizes[0], sizes[1] + 1))
        x, y = int(rng.integers(2, side - d - 2)), int(rng.integers(2, side - d - 2))
        if any(abs(x - tx) < 60 and abs(y - ty) < 60 for tx, ty in taken):
            continue
        taken.append((x, y))
        label = len(lines) % 2
        yy, xx = np.mgrid[0:d, 0:d]
        disc = ((yy - (d - 1) / 2) ** 2 + (xx - (d - 1) / 2) ** 2) <= (d / 2) ** 2
        patch = canvas[y : y + d, x : x + d]
        patch[disc] = patch[disc] - rng.uniform(55, 80) if label == 0 else patch[disc] + rng.uniform(55, 80)
        lines.append(f"{label} {(x + d / 2) / side:.6f} {(y + d / 2) / side:.6f} {d / side:.6f} {d / side:.6f}")
    return Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8)), lines


def write_large_yolo(directory: str | Path, splits: dict[str, int], side: int = 1024, seed: int = 0) -> Path:
    """Write large plates with small defects as a YOLO folder with its own split (``images/<split>``)."""
    root = Path(directory)
    rng = np.random.default_rng(seed)
    (root / "classes.txt").parent.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("\n".join(LARGE_CLASSES) + "\n")
    for split, count in splits.items():
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            image, lines = render_large(rng, side)
            image.save(root / "images" / split / f"plate_{i:03d}.png")
            (root / "labels" / split / f"plate_{i:03d}.txt").write_text("\n".join(lines) + "\n")
    return root

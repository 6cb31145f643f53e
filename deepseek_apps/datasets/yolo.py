"""YOLO text-label loader (Ultralytics / Darknet layout).

``root/images/`` holds the images and ``root/labels/`` one ``<stem>.txt`` per image, each
line ``class cx cy w h`` normalised to 0..1. One level of sub-folders (``images/train`` +
``labels/train``) is paired by relative path. An image without a label file has no boxes.
A segmentation line (``class x1 y1 x2 y2 ...``) becomes the bounding box of its polygon.

The data set's own split is kept (``sample.meta["split"]``): from ``train:`` / ``val:`` /
``test:`` in ``data.yaml`` when it names them (folders or ``.txt`` image lists; labels found
by the Ultralytics rule, the last ``images`` path part replaced by ``labels``), else from
sub-folder names (``train``, ``val`` / ``valid``, ``test``).

Class names come from ``class_names``, else ``classes.txt`` (in ``root`` or ``labels/``), else
``names:`` in ``data.yaml`` / ``dataset.yaml``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ErrorCode, InvalidInputError, MissingResourceError
from .io import IMAGE_SUFFIXES, image_size, list_images
from .types import DetectionDataset, DetectionSample, split_name
from .voc import check_box

COORD_TOLERANCE = 0.01  # normalised overshoot clipped silently; beyond it the box is refused


def load_yolo(root: str | Path, class_names: Sequence[str] | None = None) -> DetectionDataset:
    """Load a YOLO folder; ``class_names`` overrides the names found on disk.

    Example:
        >>> ds = load_yolo("datasets/coco8")  # doctest: +SKIP
    """
    root = Path(root)
    if not root.is_dir():
        raise MissingResourceError(
            ErrorCode.DIRECTORY_NOT_FOUND,
            "YOLO folder not found",
            value=str(root),
            hint="pass the folder that holds images/ and labels/ (or data.yaml)",
        )
    listed = _yaml_split_images(root)
    if listed:
        names = tuple(class_names) if class_names is not None else _names_on_disk(root)
        return DetectionDataset(
            [_sample(path, _label_for(path), path.relative_to(root), names, split) for path, split in listed], names
        )
    image_dir, label_dir = root / "images", root / "labels"
    for folder in (image_dir, label_dir):
        if not folder.is_dir():
            raise MissingResourceError(
                ErrorCode.DIRECTORY_NOT_FOUND,
                "YOLO folder not found",
                value=str(folder),
                hint="expected root/images/ and root/labels/ (optionally with train/val sub-folders)",
            )
    names = tuple(class_names) if class_names is not None else _names_on_disk(root)
    images = _images_under(image_dir)
    if not images:
        raise InvalidInputError(
            ErrorCode.DATASET_EMPTY, "no images found", value=str(image_dir), hint="check the folder layout"
        )
    _refuse_orphan_labels(images, image_dir, label_dir)
    samples = []
    for image_path in images:
        rel = image_path.relative_to(image_dir)
        split = split_name(rel.parts[0]) if len(rel.parts) > 1 else None
        samples.append(_sample(image_path, label_dir / rel.with_suffix(".txt"), rel, names, split))
    return DetectionDataset(samples, names)


def _sample(image_path: Path, label_path: Path, rel: Path, names: tuple, split: str | None) -> DetectionSample:
    boxes, labels = _read_labels(label_path, image_path, len(names)) if label_path.is_file() else ([], [])
    return DetectionSample(
        image=None,
        boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        labels=np.asarray(labels, dtype=np.int64),
        name=rel.with_suffix("").as_posix(),
        path=image_path,
        meta={"split": split} if split else {},
    )


def _label_for(image_path: Path) -> Path:
    """Ultralytics' rule: the last ``images`` part of the path becomes ``labels``, the suffix ``.txt``."""
    parts = list(image_path.parts)
    if "images" in parts:
        at = len(parts) - 1 - parts[::-1].index("images")
        parts[at] = "labels"
    return Path(*parts).with_suffix(".txt")


def _yaml_split_images(root: Path) -> list[tuple[Path, str]]:
    """``(image, split)`` for every image ``data.yaml`` lists under train / val / test; empty if it lists none."""
    yaml_path = next((p for p in (root / "data.yaml", root / "dataset.yaml") if p.is_file()), None)
    if yaml_path is None:
        return []
    keys = _yaml_keys(yaml_path)
    declared = Path(str(keys.get("path") or "."))  # an absolute path from the author's machine falls back to root
    base = root / declared if not declared.is_absolute() else declared if declared.is_dir() else root
    listed: dict[Path, str] = {}
    for key in ("train", "val", "test"):
        entries = keys.get(key)
        if not entries:
            continue
        for entry in entries if isinstance(entries, list) else [entries]:
            for image in _split_entry_images(str(entry), base, root, yaml_path, key):
                if image in listed and listed[image] != key:
                    raise InvalidInputError(
                        ErrorCode.DETECTOR_SPLIT_INVALID,
                        f"image {image.name} is listed in both '{listed[image]}' and '{key}' of {yaml_path.name}",
                        value=str(image),
                        hint="give each split its own images, or remove train:/val:/test: to split at random",
                    )
                listed[image] = key
    return sorted(((path, split) for path, split in listed.items()), key=lambda item: str(item[0]))


def _split_entry_images(entry: str, base: Path, root: Path, yaml_path: Path, key: str) -> list[Path]:
    """Images of one ``train:`` / ``val:`` / ``test:`` entry: a folder (searched recursively) or a ``.txt`` list."""
    candidates = [base / entry, root / entry, root / entry.lstrip("./")]  # Roboflow writes ../train/images
    found = next((c for c in candidates if c.exists()), None)
    if found is None:
        raise InvalidInputError(
            ErrorCode.DETECTOR_SPLIT_INVALID,
            f"'{key}: {entry}' in {yaml_path.name} names no folder or list under {root}",
            value=entry,
            hint="fix the path in data.yaml (relative to its 'path:' or to the data set folder)",
        )
    if found.is_file():
        lines = [line.strip() for line in found.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [p if p.is_absolute() else (found.parent / p).resolve() for p in map(Path, lines)]
    return sorted(p for p in found.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _yaml_keys(path: Path) -> dict:
    """Top-level keys of ``data.yaml`` (PyYAML when installed, else ``key: value`` scalars)."""
    text = path.read_text(encoding="utf-8")
    try:
        import yaml
    except ImportError:
        return {m.group(1): _scalar(_strip_comment(m.group(2))) for m in re.finditer(r"(?m)^(\w+)\s*:\s*(\S.*)$", text)}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInputError(
            ErrorCode.ANNOTATION_INVALID, f"cannot parse YAML ({exc})", value=str(path), hint="fix data.yaml"
        ) from exc
    return data if isinstance(data, dict) else {}


def _images_under(image_dir: Path) -> list[Path]:
    """Images directly in ``image_dir`` and one level of sub-folders below it."""
    images = list_images(image_dir)
    for sub in sorted(p for p in image_dir.iterdir() if p.is_dir()):
        images += list_images(sub)
    return images


def _refuse_orphan_labels(images: list[Path], image_dir: Path, label_dir: Path) -> None:
    expected = {p.relative_to(image_dir).with_suffix("") for p in images}
    for label in sorted(label_dir.glob("*.txt")) + sorted(label_dir.glob("*/*.txt")):
        rel = label.relative_to(label_dir).with_suffix("")
        if rel not in expected and label.name != "classes.txt":
            raise MissingResourceError(
                ErrorCode.FILE_NOT_FOUND,
                f"image for label file {label.relative_to(label_dir)} not found in {image_dir}",
                value=str(label),
                hint="put the image at the same relative path under images/, or remove the label file",
            )


def _read_labels(label_path: Path, image_path: Path, num_classes: int) -> tuple[list[list[float]], list[int]]:
    width, height = image_size(image_path)
    boxes, labels = [], []
    for number, line in enumerate(label_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{label_path}:{number}"
        cls, corners = _parse_line(line, where)
        if not 0 <= cls < num_classes:
            raise InvalidInputError(
                ErrorCode.UNKNOWN_CLASS,
                f"class id {cls} out of range 0..{num_classes - 1}",
                value=where,
                hint="fix the label, or pass class_names / classes.txt listing every class",
            )
        if min(corners) < -COORD_TOLERANCE or max(corners) > 1 + COORD_TOLERANCE:
            raise InvalidInputError(
                ErrorCode.BOX_OUT_OF_IMAGE,
                f"normalised coordinates {[round(c, 4) for c in corners]} lie outside 0..1",
                value=where,
                hint="YOLO labels are 'class cx cy w h' divided by the image width and height",
            )
        x0, y0, x1, y1 = (min(max(c, 0.0), 1.0) for c in corners)
        boxes.append(check_box([x0 * width, y0 * height, x1 * width, y1 * height], width, height, where))
        labels.append(cls)
    return boxes, labels


def _parse_line(line: str, where: str) -> tuple[int, list[float]]:
    """Return the class id and normalised corners ``[x0, y0, x1, y1]`` of one label line."""
    parts = line.split()
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    is_box = len(values) == 5
    is_polygon = len(values) >= 7 and len(values) % 2 == 1
    if not (is_box or is_polygon) or not all(math.isfinite(v) for v in values) or not values[0].is_integer():
        raise InvalidInputError(
            ErrorCode.ANNOTATION_INVALID,
            f"malformed label line '{line.strip()}'",
            value=where,
            hint="each line is 'class cx cy w h' with an integer class and four numbers",
        )
    if is_box:
        cx, cy, w, h = values[1:]
        return int(values[0]), [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
    xs, ys = values[1::2], values[2::2]
    return int(values[0]), [min(xs), min(ys), max(xs), max(ys)]


def _names_on_disk(root: Path) -> tuple[str, ...]:
    for path in (root / "classes.txt", root / "labels" / "classes.txt"):
        if path.is_file():
            names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            if names:
                return tuple(names)
    for path in (root / "data.yaml", root / "dataset.yaml"):
        if path.is_file():
            return _names_from_yaml(path)
    raise MissingResourceError(
        ErrorCode.FILE_NOT_FOUND,
        "no class names for the YOLO labels",
        value=str(root),
        hint="pass class_names, or add classes.txt (one name a line) or data.yaml with 'names:'",
    )


def _names_from_yaml(path: Path) -> tuple[str, ...]:
    try:
        names = _yaml_names(path.read_text(encoding="utf-8"))
        if isinstance(names, dict):
            by_id = {int(k): v for k, v in names.items()}
            if sorted(by_id) != list(range(len(by_id))):
                raise ValueError(f"names keys {sorted(by_id)} are not 0..{len(by_id) - 1}")
            names = [by_id[k] for k in range(len(by_id))]
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(
            ErrorCode.ANNOTATION_INVALID,
            f"cannot read 'names:' ({exc})",
            value=str(path),
            hint="write names as a list (names: [a, b]) or a mapping (names: {0: a, 1: b})",
        ) from exc
    if not isinstance(names, list) or not names:
        raise InvalidInputError(
            ErrorCode.ANNOTATION_INVALID,
            "no 'names:' list or mapping",
            value=str(path),
            hint="add names: [a, b] or names: {0: a, 1: b}, or pass class_names",
        )
    return tuple(str(n) for n in names)


def _yaml_names(text: str) -> list | dict | None:
    """``names:`` via PyYAML when installed, else via ``parse_yaml_names``."""
    try:
        import yaml
    except ImportError:
        return parse_yaml_names(text)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from exc
    return data.get("names") if isinstance(data, dict) else None


def parse_yaml_names(text: str) -> list[str] | dict[int, str] | None:
    """Read the top-level ``names:`` of a YAML file without PyYAML (flow or block, list or map).

    Only this key is understood; quoted names may not contain commas in flow style.
    """
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"names\s*:(.*)$", line)
        if not match:
            continue
        rest = _strip_comment(match.group(1).strip())
        follow = iter(lines[index + 1 :])
        while rest and rest[0] in "[{" and rest[-1] not in "]}":
            rest += " " + _strip_comment(next(follow, "]").strip())  # a flow spread over lines
        if rest.startswith("["):
            return [_scalar(item) for item in _flow_items(rest)]
        if rest.startswith("{"):
            return dict(_pair(item) for item in _flow_items(rest))
        if rest:
            return None
        block = []
        for item in follow:
            if not item.strip() or item.lstrip().startswith("#"):
                continue
            if not item[0].isspace() and not item.startswith("-"):
                break
            block.append(_strip_comment(item.strip()))
        if block and all(item.startswith("-") for item in block):
            return [_scalar(item[1:]) for item in block]
        return dict(_pair(item) for item in block)
    return None


def _flow_items(flow: str) -> list[str]:
    inner = flow.strip()[1:-1]
    return [m.strip() for m in re.findall(r"""'[^']*'|"[^"]*"|[^,]+""", inner) if m.strip()]


def _pair(item: str) -> tuple[int, str]:
    key, _, value = item.partition(":")
    return int(key.strip()), _scalar(value)


def _scalar(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _strip_comment(value: str) -> str:
    return re.sub(r"""\s+#[^'"]*$""", "", value)

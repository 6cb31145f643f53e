"""COCO JSON (object detection) loader.

``root`` is the JSON file itself, or a folder holding ``annotations.json`` or
``annotations/*.json`` (``instances_*.json`` preferred). Each ``file_name`` is resolved
against ``images/``, the JSON's own folder, and (for ``instances_train2017.json``) ``train2017/``.
Boxes ``[x, y, w, h]`` become ``[x0, y0, x1, y1]``; ``iscrowd=1`` regions are skipped.

A folder with one file per split (``annotations/instances_train2017.json`` +
``instances_val2017.json``, or Roboflow's ``train/_annotations.coco.json`` + ``valid/...``)
loads as one data set that keeps that split (``sample.meta["split"]``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ErrorCode, InvalidInputError, MissingResourceError
from .io import image_size
from .types import DetectionDataset, DetectionSample, split_name
from .voc import check_box


def load_coco(root: str | Path, class_names: Sequence[str] | None = None) -> DetectionDataset:
    """Load a COCO detection file; ``class_names`` fixes the label order (categories by id, if None).

    Example:
        >>> ds = load_coco("coco/annotations/instances_val2017.json")  # doctest: +SKIP
    """
    per_split = _split_files(Path(root))
    if len(per_split) > 1:
        parts = [(split, load_coco(path, class_names)) for split, path in per_split]
        names = tuple(class_names) if class_names is not None else parts[0][1].class_names
        samples = []
        for split, part in parts:
            if class_names is None and part.class_names != names:
                part = load_coco(dict(per_split)[split], names)  # same classes, this file's ids
            for sample in part.samples:
                sample.meta["split"] = split
            samples += part.samples
        return DetectionDataset(samples, names)
    json_path = _find_json(Path(root))
    data = _read_json(json_path)
    names, label_of = _class_map(data.get("categories", []), class_names, json_path)
    image_dirs = _image_dirs(Path(root), json_path)
    samples = {}
    for image in data["images"]:
        sample = _sample(image, image_dirs, json_path)
        samples[image["id"]] = (sample, [], [])
    for ann in data.get("annotations", []):
        where = f"{json_path.name}: annotation {ann.get('id', '?')}"
        if ann.get("iscrowd", 0):
            continue
        if ann.get("image_id") not in samples:
            raise InvalidInputError(
                ErrorCode.ANNOTATION_INVALID,
                f"annotation refers to unknown image id {ann.get('image_id')!r}",
                value=where,
                hint="every annotation's image_id must match an entry of 'images'",
            )
        if ann.get("category_id") not in label_of:
            raise InvalidInputError(
                ErrorCode.UNKNOWN_CLASS,
                f"annotation uses unknown category id {ann.get('category_id')!r}",
                value=where,
                hint=f"known category ids: {sorted(label_of)}; add the category or fix the annotation",
            )
        sample, boxes, labels = samples[ann["image_id"]]
        width, height = sample.meta["size"]
        boxes.append(check_box(_xywh_to_corners(ann.get("bbox"), where), width, height, where))
        labels.append(label_of[ann["category_id"]])
    if not samples:
        raise InvalidInputError(
            ErrorCode.DATASET_EMPTY, "the 'images' list is empty", value=str(json_path), hint="check the file"
        )
    for sample, boxes, labels in samples.values():
        sample.boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        sample.labels = np.asarray(labels, dtype=np.int64)
    return DetectionDataset([sample for sample, _, _ in samples.values()], names)


def _split_files(root: Path) -> list[tuple[str, Path]]:
    """``(split, json)`` for a folder holding one annotation file per split, train first."""
    if not root.is_dir():
        return []
    found = {}
    for path in sorted((root / "annotations").glob("*.json")) if (root / "annotations").is_dir() else []:
        split = split_name(re.sub(r"\d+$", "", path.stem.removeprefix("instances_")))
        if split and split not in found:
            found[split] = path
    for path in sorted(root.glob("*/_annotations.coco.json")):
        split = split_name(path.parent.name)
        if split and split not in found:
            found[split] = path
    return sorted(found.items(), key=lambda item: ("train", "val", "test").index(item[0]))


def _find_json(root: Path) -> Path:
    if root.is_file():
        return root
    if not root.is_dir():
        raise MissingResourceError(
            ErrorCode.DIRECTORY_NOT_FOUND,
            "COCO file or folder not found",
            value=str(root),
            hint="pass the annotation JSON or the folder that holds it",
        )
    if (root / "annotations.json").is_file():
        return root / "annotations.json"
    found = sorted((root / "annotations").glob("*.json")) if (root / "annotations").is_dir() else []
    instances = [p for p in found if p.name.startswith("instances_")]
    if instances or found:
        return (instances or found)[0]
    raise MissingResourceError(
        ErrorCode.FILE_NOT_FOUND,
        "no COCO annotation file found",
        value=str(root),
        hint="expected annotations.json or annotations/*.json under the folder",
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            ErrorCode.ANNOTATION_INVALID, f"malformed JSON ({exc})", value=str(path), hint="fix or re-export the file"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise InvalidInputError(
            ErrorCode.ANNOTATION_INVALID,
            "not a COCO detection file: no 'images' list",
            value=str(path),
            hint="expected an object with 'images', 'annotations' and 'categories'",
        )
    return data


def _class_map(
    categories: list[dict], class_names: Sequence[str] | None, json_path: Path
) -> tuple[tuple[str, ...], dict[Any, int]]:
    """Class names in label order and a map from category id to label."""
    try:
        by_id = {c["id"]: str(c["name"]) for c in categories}
    except (KeyError, TypeError) as exc:
        raise InvalidInputError(
            ErrorCode.ANNOTATION_INVALID,
            "category entry without 'id' or 'name'",
            value=str(json_path),
            hint="every entry of 'categories' needs id and name",
        ) from exc
    if class_names is None:
        names = tuple(by_id[i] for i in sorted(by_id))
    else:
        names = tuple(class_names)
        for cat_id, name in by_id.items():
            if name not in names:
                raise InvalidInputError(
                    ErrorCode.UNKNOWN_CLASS,
                    f"category '{name}' (id {cat_id}) in {json_path.name} is not in class_names",
                    value=name,
                    hint=f"known classes: {', '.join(names)}; pass class_names to include it",
                )
    return names, {cat_id: names.index(name) for cat_id, name in by_id.items()}


def _image_dirs(root: Path, json_path: Path) -> list[Path]:
    base = root if root.is_dir() else json_path.parent
    split = json_path.stem.removeprefix("instances_")
    candidates = [base / "images", json_path.parent / "images", json_path.parent, base, base / split]
    candidates += [json_path.parent.parent / split, json_path.parent.parent / "images"]
    return list(dict.fromkeys(c for c in candidates if c.is_dir()))


def _xywh_to_corners(bbox: Any, where: str) -> list[float]:
    try:
        x, y, w, h = (float(v) for v in bbox)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            ErrorCode.ANNOTATION_INVALID,
            f"bbox is not four numbers: {bbox!r}",
            value=where,
            hint="COCO boxes are [x, y, width, height] in pixels",
        ) from exc
    return [x, y, x + w, y + h]


def _sample(image: Any, image_dirs: list[Path], json_path: Path) -> DetectionSample:
    """An empty sample for one ``images`` entry, its file found and its size known."""
    if not isinstance(image, dict) or "id" not in image or "file_name" not in image:
        raise InvalidInputError(
            ErrorCode.ANNOTATION_INVALID,
            "image entry without 'id' or 'file_name'",
            value=f"{json_path.name}: {image}",
            hint="every entry of 'images' needs id and file_name",
        )
    file_name = image["file_name"]
    path = next((d / file_name for d in image_dirs if (d / file_name).is_file()), None)
    if path is None:
        raise MissingResourceError(
            ErrorCode.FILE_NOT_FOUND,
            f"image of {json_path.name} not found in {', '.join(str(d) for d in image_dirs) or json_path.parent}",
            value=file_name,
            hint="put the images in images/ or next to the JSON, with the file_name the JSON gives",
        )
    width, height = image.get("width"), image.get("height")
    if not width or not height:
        width, height = image_size(path)
    return DetectionSample(
        image=None,
        boxes=np.zeros((0, 4), dtype=np.float32),
        labels=np.zeros(0, dtype=np.int64),
        name=Path(file_name).with_suffix("").as_posix(),
        path=path,
        meta={"image_id": image["id"], "size": (int(width), int(height))},
    )

"""Pascal VOC XML loader.

Three layouts are recognised under ``root``:

- ``Annotations/`` + ``JPEGImages/`` (classic VOC),
- ``ANNOTATIONS/`` + ``IMAGES/`` (the NEU-DET copy),
- images and XML files side by side in one folder.

The data set's own split is kept (``sample.meta["split"]``) when ``ImageSets/Main/`` holds
``train.txt`` / ``trainval.txt`` / ``val.txt`` / ``test.txt`` (one image stem a line).

Example:
    >>> from deepseek_apps.datasets.voc import load_voc
    >>> ds = load_voc("../shared/data/neu_det")  # doctest: +SKIP
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ErrorCode, InvalidInputError, MissingResourceError
from .io import IMAGE_SUFFIXES, image_size
from .types import DetectionDataset, DetectionSample

_LAYOUTS = (("Annotations", "JPEGImages"), ("ANNOTATIONS", "IMAGES"))


def _find_layout(root: Path) -> tuple[Path, Path]:
    for ann, img in _LAYOUTS:
        if (root / ann).is_dir() and (root / img).is_dir():
            return root / ann, root / img
    if any(root.glob("*.xml")):
        return root, root
    raise MissingResourceError(
        ErrorCode.DIRECTORY_NOT_FOUND,
        "no Pascal VOC layout found",
        value=str(root),
        hint="expected Annotations/+JPEGImages/, ANNOTATIONS/+IMAGES/, or *.xml next to the images",
    )


def _image_for(xml_path: Path, image_dir: Path, filename: str | None) -> Path:
    candidates = []
    if filename:
        candidates.append(image_dir / filename)
    candidates += [image_dir / (xml_path.stem + s) for s in IMAGE_SUFFIXES]
    candidates += [image_dir / (xml_path.stem + s.upper()) for s in IMAGE_SUFFIXES]
    for c in candidates:
        if c.is_file():
            return c
    raise MissingResourceError(
        ErrorCode.FILE_NOT_FOUND,
        f"image for annotation {xml_path.name} not found in {image_dir}",
        value=filename or xml_path.stem,
        hint="put the image next to its XML or in the images folder with the same stem",
    )


def parse_voc_xml(
    xml_path: Path, class_names: Sequence[str] | None, strict_classes: bool = True
) -> tuple[str | None, tuple[int, int] | None, list[tuple[str, list[float]]]]:
    try:
        tree = ET.parse(xml_path)
    except ET.ParseError as exc:
        raise InvalidInputError(
            ErrorCode.ANNOTATION_INVALID, f"malformed XML ({exc})", value=str(xml_path), hint="fix or remove the file"
        ) from exc
    root = tree.getroot()
    filename = root.findtext("filename")
    size = root.find("size")
    wh = None
    if size is not None and size.findtext("width") and size.findtext("height"):
        wh = (int(float(size.findtext("width"))), int(float(size.findtext("height"))))
    objects = []
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        bb = obj.find("bndbox")
        if bb is None:
            raise InvalidInputError(
                ErrorCode.ANNOTATION_INVALID,
                "object without <bndbox>",
                value=f"{xml_path}:{name}",
                hint="every <object> needs xmin/ymin/xmax/ymax",
            )
        try:
            box = [float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                ErrorCode.ANNOTATION_INVALID,
                "non-numeric box coordinate",
                value=f"{xml_path}:{name}",
                hint="xmin/ymin/xmax/ymax must be numbers",
            ) from exc
        if class_names is not None and name not in class_names:
            if strict_classes:
                raise InvalidInputError(
                    ErrorCode.UNKNOWN_CLASS,
                    f"unknown class '{name}' in {xml_path.name}",
                    value=name,
                    hint=f"known classes: {', '.join(class_names)}; pass class_names to include it",
                )
            continue
        objects.append((name, box))
    return filename, wh, objects


def check_box(box: list[float], width: int, height: int, where: str, tolerance: float = 1.0) -> list[float]:
    """Validate one box against the image size; clip sub-pixel overshoot, refuse the rest."""
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        raise InvalidInputError(
            ErrorCode.ANNOTATION_INVALID,
            "box has zero or negative size",
            value=f"{where}: {box}",
            hint="boxes are (xmin, ymin, xmax, ymax) with xmax > xmin and ymax > ymin",
        )
    if x0 < -tolerance or y0 < -tolerance or x1 > width + tolerance or y1 > height + tolerance:
        raise InvalidInputError(
            ErrorCode.BOX_OUT_OF_IMAGE,
            f"box lies outside the {width}x{height} image",
            value=f"{where}: {box}",
            hint="fix the annotation; coordinates are pixels of the original image",
        )
    return [max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1)]


def load_voc(
    root: str | Path,
    class_names: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    layout: tuple[str, str] | None = None,
) -> DetectionDataset:
    """Load a VOC folder. ``class_names`` fixes the label order (sorted names found, if None).

    ``exclude`` lists file stems to leave out (for instance a held-out check set);
    ``layout`` names other ``(annotations, images)`` sub-folders, e.g.
    ``("Validation_Annotations", "Validation_Images")`` for NEU-DET's check set.
    """
    root = Path(root)
    if not root.is_dir():
        raise MissingResourceError(
            ErrorCode.DIRECTORY_NOT_FOUND,
            "dataset folder not found",
            value=str(root),
            hint="pass the folder that holds the images and XML files",
        )
    ann_dir, img_dir = (root / layout[0], root / layout[1]) if layout else _find_layout(root)
    if not ann_dir.is_dir() or not img_dir.is_dir():
        raise MissingResourceError(
            ErrorCode.DIRECTORY_NOT_FOUND,
            "annotation or image folder not found",
            value=f"{ann_dir}, {img_dir}",
            hint="check the layout folder names",
        )
    xmls = sorted(p for p in ann_dir.glob("*.xml") if p.stem not in set(exclude))
    parsed = [(x, *parse_voc_xml(x, class_names)) for x in xmls]
    if class_names is None:
        class_names = tuple(sorted({name for *_, objs in parsed for name, _ in objs}))
    names = tuple(class_names)
    samples = []
    for xml_path, filename, wh, objects in parsed:
        image_path = _image_for(xml_path, img_dir, filename)
        if wh is None or wh[0] <= 0 or wh[1] <= 0:
            wh = image_size(image_path)
        boxes = [check_box(b, wh[0], wh[1], xml_path.name) for _, b in objects]
        samples.append(
            DetectionSample(
                image=None,
                boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
                labels=np.asarray([names.index(n) for n, _ in objects], dtype=np.int64),
                name=xml_path.stem,
                path=image_path,
            )
        )
    if not samples:
        raise InvalidInputError(
            ErrorCode.DATASET_EMPTY, "no annotated images found", value=str(root), hint="check the folder layout"
        )
    own = _own_splits(root)
    for sample in samples:
        split = own.get(sample.name)
        if split:
            sample.meta["split"] = split
    return DetectionDataset(samples, names)


SPLIT_FILES = (("trainval", "train"), ("train", "train"), ("val", "val"), ("test", "test"))  # later files win


def _own_splits(root: Path) -> dict[str, str]:
    """Image stem -> split from ``ImageSets/Main/*.txt`` (empty when the data set has no split files)."""
    folder = root / "ImageSets" / "Main"
    found = {}
    for file_stem, split in SPLIT_FILES:
        path = folder / f"{file_stem}.txt"
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.split():
                    found[line.split()[0]] = split
    return found


def write_voc_sample(root: Path, sample: DetectionSample, class_names: Sequence[str]) -> None:
    """Write one sample as ``JPEGImages/<name>.png`` + ``Annotations/<name>.xml``."""
    image = sample.load()
    image.save(root / "JPEGImages" / f"{sample.name}.png")
    ann = ET.Element("annotation")
    ET.SubElement(ann, "filename").text = f"{sample.name}.png"
    size = ET.SubElement(ann, "size")
    for key, val in (("width", image.width), ("height", image.height), ("depth", 3)):
        ET.SubElement(size, key).text = str(val)
    for box, label in zip(sample.boxes, sample.labels, strict=True):
        obj = ET.SubElement(ann, "object")
        ET.SubElement(obj, "name").text = class_names[int(label)]
        bb = ET.SubElement(obj, "bndbox")
        for key, val in zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True):
            ET.SubElement(bb, key).text = str(int(round(float(val))))
    ET.ElementTree(ann).write(root / "Annotations" / f"{sample.name}.xml")

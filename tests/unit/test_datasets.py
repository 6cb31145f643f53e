"""Dataset loaders (VOC, YOLO, COCO, masks) on small synthetic fixtures, and the generator itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepseek_apps.datasets import NEU_CLASSES, load_dataset
from deepseek_apps.datasets.coco import load_coco
from deepseek_apps.datasets.masks import _label_bfs, load_masks, mask_boxes
from deepseek_apps.datasets.synthetic import generate_samples, write_voc
from deepseek_apps.datasets.voc import load_voc
from deepseek_apps.datasets.yolo import load_yolo, parse_yaml_names
from deepseek_apps.errors import DeepSeekAppsError, ErrorCode

SEED = 3
NEU_DET = Path(__file__).parents[2].parent / "shared/data/neu_det"


@pytest.fixture(scope="module")
def samples():
    return generate_samples(4, seed=SEED)


def _write_images(folder: Path, samples) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for s in samples:
        s.image.save(folder / f"{s.name}.png")


def _assert_matches(dataset, samples, class_names=NEU_CLASSES) -> None:
    assert dataset.class_names == tuple(class_names)
    loaded = {s.path.stem: s for s in dataset.samples}
    assert set(loaded) == {s.name for s in samples}
    for truth in samples:
        got = loaded[truth.name]
        assert got.image is None and got.path.is_file()  # lazy
        order = np.lexsort(got.boxes.T[::-1]), np.lexsort(truth.boxes.T[::-1])
        np.testing.assert_allclose(got.boxes[order[0]], truth.boxes[order[1]], atol=1.0)
        names = [dataset.class_names[i] for i in got.labels[order[0]]]
        assert names == [NEU_CLASSES[i] for i in truth.labels[order[1]]]


def _raises(code: ErrorCode, fragment: str, fn, *args, **kwargs) -> DeepSeekAppsError:
    with pytest.raises(DeepSeekAppsError) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, str(info.value)
    assert fragment in str(info.value)
    return info.value


# --- synthetic generator ---------------------------------------------------------------------


def test_generator_is_deterministic_and_boxes_lie_inside(samples):
    again = generate_samples(4, seed=SEED)
    other = generate_samples(4, seed=SEED + 1)
    for a, b in zip(samples, again, strict=True):
        assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
        assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.labels, b.labels)
    assert not all(
        np.array_equal(np.asarray(a.image), np.asarray(b.image)) for a, b in zip(samples, other, strict=True)
    )
    for s in samples:
        w, h = s.image.size
        assert len(s.boxes) >= 1 and (s.boxes[:, :2] >= 0).all()
        assert (s.boxes[:, 2] <= w).all() and (s.boxes[:, 3] <= h).all()
        assert (s.boxes[:, 2:] > s.boxes[:, :2]).all()


# --- VOC --------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["classic", "neu", "side_by_side"])
def test_voc_layouts(tmp_path, samples, layout):
    root = write_voc(tmp_path / "voc", 4, seed=SEED)
    if layout == "neu":
        (root / "Annotations").rename(root / "ANNOTATIONS")
        (root / "JPEGImages").rename(root / "IMAGES")
    elif layout == "side_by_side":
        for sub in ("Annotations", "JPEGImages"):
            for f in (root / sub).iterdir():
                f.rename(root / f.name)
            (root / sub).rmdir()
    _assert_matches(load_voc(root, NEU_CLASSES), samples)


def test_voc_unknown_class_and_missing_folder(tmp_path):
    root = write_voc(tmp_path / "voc", 2, seed=SEED)
    _raises(ErrorCode.UNKNOWN_CLASS, "unknown class", load_voc, root, ["nothing"])
    _raises(ErrorCode.DIRECTORY_NOT_FOUND, "missing", load_voc, tmp_path / "missing")


# --- YOLO -------------------------------------------------------------------------------------


def _write_yolo(root: Path, samples, split: str = "") -> None:
    _write_images(root / "images" / split, samples)
    (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    for s in samples:
        w, h = s.image.size
        lines = [
            f"{label} {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} {(y1 - y0) / h:.6f}"
            for (x0, y0, x1, y1), label in zip(s.boxes.tolist(), s.labels.tolist(), strict=True)
        ]
        (root / "labels" / split / f"{s.name}.txt").write_text("\n".join(lines) + "\n")


def test_yolo_split_folders_and_unlabelled_image(tmp_path, samples):
    _write_yolo(tmp_path, samples[:3], "train")
    _write_yolo(tmp_path, samples[3:], "val")
    (tmp_path / "classes.txt").write_text("\n".join(NEU_CLASSES) + "\n")
    Image.new("RGB", (50, 40)).save(tmp_path / "images" / "val" / "clean.png")
    ds = load_dataset(tmp_path, "yolo")
    clean = next(s for s in ds.samples if s.name == "val/clean")
    assert clean.boxes.shape == (0, 4) and clean.labels.shape == (0,)
    ds.samples = [s for s in ds.samples if s is not clean]
    _assert_matches(ds, samples)


@pytest.mark.parametrize(
    "names_yaml",
    [
        "names: [{}]".format(", ".join(f"'{n}'" for n in NEU_CLASSES)),
        "names:\n" + "".join(f"  - {n}\n" for n in NEU_CLASSES),
        "names:\n" + "".join(f"  {i}: {n}  # comment\n" for i, n in enumerate(NEU_CLASSES)),
        "names: {" + ", ".join(f"{i}: {n}" for i, n in enumerate(NEU_CLASSES)) + "}",
    ],
    ids=["flow_list", "block_list", "block_map", "flow_map"],
)
def test_yolo_class_names_from_data_yaml(tmp_path, samples, names_yaml):
    _write_yolo(tmp_path, samples)
    (tmp_path / "data.yaml").write_text(f"path: .\ntrain: images\nnc: {len(NEU_CLASSES)}\n{names_yaml}\n")
    _assert_matches(load_yolo(tmp_path), samples)
    parsed = parse_yaml_names(names_yaml + "\nval: images\n")  # the fallback, also when PyYAML is installed
    assert list(parsed.values() if isinstance(parsed, dict) else parsed) == list(NEU_CLASSES)


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("9 0.5 0.5 0.1 0.1", ErrorCode.UNKNOWN_CLASS),
        ("0 0.5 0.5", ErrorCode.ANNOTATION_INVALID),
        ("zero 0.5 0.5 0.1 0.1", ErrorCode.ANNOTATION_INVALID),
        ("0 1.2 0.5 0.2 0.2", ErrorCode.BOX_OUT_OF_IMAGE),
    ],
)
def test_yolo_bad_line_names_file_and_line(tmp_path, samples, line, code):
    _write_yolo(tmp_path, samples[:1])
    label = tmp_path / "labels" / f"{samples[0].name}.txt"
    label.write_text("0 0.5 0.5 0.2 0.2\n" + line + "\n")
    _raises(code, f"{label}:2", load_yolo, tmp_path, NEU_CLASSES)


def test_yolo_missing_pieces(tmp_path, samples):
    _write_images(tmp_path / "images", samples[:1])
    _raises(ErrorCode.DIRECTORY_NOT_FOUND, "labels", load_yolo, tmp_path, NEU_CLASSES)
    _write_yolo(tmp_path, samples[:1])
    _raises(ErrorCode.FILE_NOT_FOUND, "class_names", load_yolo, tmp_path)
    (tmp_path / "labels" / "stray.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    _raises(ErrorCode.FILE_NOT_FOUND, "stray.txt", load_yolo, tmp_path, NEU_CLASSES)


# --- COCO -------------------------------------------------------------------------------------


def _coco(samples) -> dict:
    images, annotations = [], []
    for image_id, s in enumerate(samples, start=1):
        images.append({"id": image_id, "file_name": f"{s.name}.png", "width": 200, "height": 200})
        for (x0, y0, x1, y1), label in zip(s.boxes.tolist(), s.labels.tolist(), strict=True):
            bbox = [x0, y0, x1 - x0, y1 - y0]
            annotations.append(
                {"id": len(annotations) + 1, "image_id": image_id, "category_id": label + 1, "bbox": bbox}
            )
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(NEU_CLASSES)]
    return {"images": images, "annotations": annotations, "categories": categories[::-1]}


def test_coco_boxes_skip_crowd_and_read_missing_size(tmp_path, samples):
    _write_images(tmp_path / "images", samples)
    data = _coco(samples)
    del data["images"][0]["width"], data["images"][0]["height"]
    data["annotations"].append({"id": 99, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "iscrowd": 1})
    (tmp_path / "annotations.json").write_text(json.dumps(data))
    ds = load_dataset(tmp_path, "coco")
    _assert_matches(ds, samples)  # categories sorted by id, crowd region left out


def test_coco_annotations_folder_prefers_instances_and_honours_class_names(tmp_path, samples):
    _write_images(tmp_path / "images", samples)
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "captions_val.json").write_text("{not json")
    (tmp_path / "annotations" / "instances_val.json").write_text(json.dumps(_coco(samples)))
    names = NEU_CLASSES[::-1]
    _assert_matches(load_coco(tmp_path, names), samples, class_names=names)


@pytest.mark.parametrize(
    ("breakage", "code", "fragment"),
    [
        ("malformed_json", ErrorCode.ANNOTATION_INVALID, "malformed JSON"),
        ("missing_image", ErrorCode.FILE_NOT_FOUND, "gone.png"),
        ("unknown_image_id", ErrorCode.ANNOTATION_INVALID, "unknown image id 77"),
        ("box_out_of_image", ErrorCode.BOX_OUT_OF_IMAGE, "annotation 1"),
        ("unknown_category", ErrorCode.UNKNOWN_CLASS, "crazing"),
    ],
)
def test_coco_errors(tmp_path, samples, breakage, code, fragment):
    _write_images(tmp_path / "images", samples)
    data = _coco(samples)
    class_names = None
    if breakage == "missing_image":
        data["images"][0]["file_name"] = "gone.png"
    elif breakage == "unknown_image_id":
        data["annotations"][0]["image_id"] = 77
    elif breakage == "box_out_of_image":
        data["annotations"][0]["bbox"] = [150, 150, 80, 80]
    elif breakage == "unknown_category":
        class_names = [n for n in NEU_CLASSES if n != "crazing"]
    path = tmp_path / "annotations.json"
    path.write_text("{broken" if breakage == "malformed_json" else json.dumps(data))
    _raises(code, fragment, load_coco, path, class_names)


# --- masks ------------------------------------------------------------------------------------


def _mask_of(sample) -> Image.Image:
    mask = np.zeros(sample.image.size[::-1], dtype=np.uint8)
    for x0, y0, x1, y1 in sample.boxes.astype(int):
        mask[y0:y1, x0:x1] = 255
    return Image.fromarray(mask)


def test_masks_single_class_from_synthetic(tmp_path, samples):
    single = [s for s in samples if len(s.boxes) == 1]
    assert single, "fixture needs a sample with one box"
    _write_images(tmp_path / "images", samples)
    (tmp_path / "masks").mkdir()
    for i, s in enumerate(single):
        _mask_of(s).save(tmp_path / "masks" / f"{s.name}{'_mask' if i % 2 else ''}.png")
    ds = load_masks(tmp_path)
    assert ds.class_names == ("defect",)
    by_name = {s.name: s for s in ds.samples}
    for s in samples:
        expected = s.boxes if len(s.boxes) == 1 else np.zeros((0, 4))
        np.testing.assert_allclose(by_name[s.name].boxes, expected)


def test_masks_two_blobs_two_boxes_and_per_class_folders(tmp_path):
    (tmp_path / "images").mkdir()
    Image.new("RGB", (30, 20)).save(tmp_path / "images" / "plate.png")
    mask = np.zeros((20, 30), dtype=np.uint8)
    mask[2:6, 3:9] = 1
    mask[10:18, 20:28] = 1
    mask[0, 29] = 1  # a 1-pixel speck, under min_area
    for cls in ("scratches", "patches"):
        (tmp_path / "masks" / cls).mkdir(parents=True)
    Image.fromarray(mask * 255).save(tmp_path / "masks" / "scratches" / "plate.png")
    ds = load_masks(tmp_path)
    assert ds.class_names == ("patches", "scratches")
    np.testing.assert_array_equal(ds[0].boxes, [[3, 2, 9, 6], [20, 10, 28, 18]])
    assert ds[0].labels.tolist() == [1, 1]
    _raises(ErrorCode.UNKNOWN_CLASS, "patches", load_masks, tmp_path, ["scratches"])


def test_masks_size_mismatch_names_both_sizes(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    Image.new("RGB", (30, 20)).save(tmp_path / "images" / "plate.png")
    Image.new("L", (10, 10)).save(tmp_path / "masks" / "plate_mask.png")
    err = _raises(ErrorCode.IMAGE_SHAPE, "10x10", load_masks, tmp_path)
    assert "30x20" in str(err)


def test_component_fallback_matches_scipy():
    ndimage = pytest.importorskip("scipy.ndimage")
    binary = np.random.default_rng(0).random((40, 40)) > 0.7
    expected, count = ndimage.label(binary, structure=np.ones((3, 3)))
    labels, n = _label_bfs(binary)
    assert n == count and np.array_equal(labels, expected)
    assert mask_boxes(np.eye(5), min_area=5) == [[0.0, 0.0, 5.0, 5.0]]  # diagonal = one blob


# --- dispatch and real data -------------------------------------------------------------------


def test_unknown_format_is_refused(tmp_path):
    _raises(ErrorCode.INVALID_ARGUMENT, "pascal", load_dataset, tmp_path, "pascal")


@pytest.mark.realdata
def test_neu_det_loads():
    if not NEU_DET.is_dir():
        pytest.skip(f"NEU-DET not found at {NEU_DET}; see ../shared/data/README.md")
    ds = load_dataset(NEU_DET, "voc")
    assert len(ds) == 1770
    assert ds.class_names == NEU_CLASSES
    assert all(s.image is None and len(s.boxes) == len(s.labels) for s in ds.samples)

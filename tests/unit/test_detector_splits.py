"""A data set's own split is kept (YOLO folders and data.yaml, VOC ImageSets, COCO per-split files)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepseek_apps.apps.inspector.splits import plan_split
from deepseek_apps.datasets import DetectionDataset, DetectionSample, load_dataset
from deepseek_apps.datasets.synthetic import write_voc
from deepseek_apps.errors import ErrorCode, InvalidInputError

KOLEKTOR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "kolektorsdd"


def _image(path: Path, size=(64, 48)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 90, 90)).save(path)


def _yolo(root: Path, parts: dict[str, int], images="images/{part}", labels="labels/{part}") -> Path:
    for part, count in parts.items():
        for i in range(count):
            _image(root / images.format(part=part) / f"{part}{i}.png")
            label = root / labels.format(part=part) / f"{part}{i}.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("0 0.5 0.5 0.25 0.25\n" if i % 2 == 0 else "")
    (root / "classes.txt").write_text("scratch\n")
    return root


def test_yolo_subfolders_keep_their_split(tmp_path):
    ds = load_dataset(_yolo(tmp_path, {"train": 4, "val": 2, "test": 3}), "yolo")
    assert ds.own_splits == {"train": 4, "val": 2, "test": 3}
    assert {s.name: s.meta["split"] for s in ds.samples}["val/val1"] == "val"
    plan = plan_split(ds, 0.1, 0.15, seed=0)
    assert plan.source == "dataset" and len(plan.train) == 4 and len(plan.val) == 2 and len(plan.test) == 3
    assert {ds.samples[i].meta["split"] for i in plan.test} == {"test"}


def test_data_yaml_roboflow_layout_with_valid_folder(tmp_path):
    root = _yolo(tmp_path, {"train": 6, "valid": 2}, images="{part}/images", labels="{part}/labels")
    (root / "data.yaml").write_text("train: ../train/images\nval: ../valid/images\nnames: ['scratch']\n")
    ds = load_dataset(root, "yolo")
    assert ds.own_splits == {"train": 6, "val": 2} and ds.class_names == ("scratch",)
    assert sum(len(s.boxes) for s in ds.samples) == 4  # labels found next to the images/ folders
    plan = plan_split(ds, 0.34, 0.15, seed=0)
    # no test part: the data set's val is held out as test, validation carved from train
    assert {ds.samples[i].meta["split"] for i in plan.test} == {"val"} and len(plan.test) == 2
    assert len(plan.val) == 2 and len(plan.train) == 4 and "held out as the test set" in plan.description


def test_data_yaml_naming_a_missing_folder_is_a_coded_error(tmp_path):
    root = _yolo(tmp_path, {"train": 2})
    (root / "data.yaml").write_text("train: images/train\nval: images/nowhere\nnames: [scratch]\n")
    with pytest.raises(InvalidInputError) as err:
        load_dataset(root, "yolo")
    assert err.value.code == ErrorCode.DETECTOR_SPLIT_INVALID and "images/nowhere" in str(err.value.value)


def test_data_yaml_listing_one_image_in_two_splits_is_refused(tmp_path):
    root = _yolo(tmp_path, {"train": 2})
    (root / "data.yaml").write_text("train: images/train\nval: images/train\nnames: [scratch]\n")
    with pytest.raises(InvalidInputError) as err:
        load_dataset(root, "yolo")
    assert err.value.code == ErrorCode.DETECTOR_SPLIT_INVALID


def test_voc_imagesets_split_and_random_split_without_them(tmp_path):
    root = write_voc(tmp_path / "voc", 10, seed=1)
    stems = sorted(p.stem for p in (root / "Annotations").glob("*.xml"))
    assert plan_split(load_dataset(root, "voc"), 0.2, 0.2, seed=0).source == "random"
    sets = root / "ImageSets" / "Main"
    sets.mkdir(parents=True)
    (sets / "trainval.txt").write_text("\n".join(stems[:8]) + "\n")
    (sets / "test.txt").write_text("\n".join(stems[8:]) + "\n")
    (sets / "scratches_trainval.txt").write_text(f"{stems[0]} 1\n")  # per-class lists are not splits
    ds = load_dataset(root, "voc")
    assert ds.own_splits == {"train": 8, "test": 2}
    plan = plan_split(ds, 0.25, 0.15, seed=0)
    assert sorted(ds.samples[i].name for i in plan.test) == stems[8:] and len(plan.val) >= 1


def test_coco_one_file_per_split(tmp_path):
    for split, names in (("train", ["a", "b", "c"]), ("val", ["d"])):
        images = []
        for i, name in enumerate(names):
            _image(tmp_path / "images" / f"{name}.png")
            images.append({"id": i + 1, "file_name": f"{name}.png", "width": 64, "height": 48})
        doc = {
            "images": images,
            "annotations": [{"id": 1, "image_id": 1, "category_id": 7, "bbox": [4, 4, 10, 10]}],
            "categories": [{"id": 7, "name": "dent"}],
        }
        (tmp_path / "annotations").mkdir(exist_ok=True)
        (tmp_path / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(doc))
    ds = load_dataset(tmp_path, "coco")
    assert ds.own_splits == {"train": 3, "val": 1} and ds.class_names == ("dent",)
    assert sum(len(s.boxes) for s in ds.samples) == 2


def test_a_split_without_training_images_is_refused():
    samples = [
        DetectionSample(None, np.zeros((0, 4), np.float32), np.zeros(0, np.int64), f"v{i}", meta={"split": "val"})
        for i in range(3)
    ]
    with pytest.raises(InvalidInputError) as err:
        plan_split(DetectionDataset(samples, ("x",)), 0.1, 0.1, seed=0)
    assert err.value.code == ErrorCode.DETECTOR_SPLIT_INVALID


@pytest.mark.realdata
def test_kolektorsdd_keeps_its_train_val_split():
    if not (KOLEKTOR / "data.yaml").is_file():
        pytest.skip(f"real data not found at {KOLEKTOR} (see ../shared/data/README.md)")
    ds = load_dataset(KOLEKTOR, "yolo")
    assert ds.own_splits == {"train": 320, "val": 79}
    plan = plan_split(ds, 0.1, 0.15, seed=0)
    assert plan.source == "dataset" and len(plan.test) == 79
    assert {ds.samples[i].meta["split"] for i in plan.train + plan.val} == {"train"}

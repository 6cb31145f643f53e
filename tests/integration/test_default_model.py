"""The shipped default: size, manifest, card, and quality on NEU-DET's 30 check images."""

import json

import pytest

from deepseek_apps import QualityInspector
from deepseek_apps.core.registry import get_model
from deepseek_apps.core.runtime.bundle import read_bundle
from deepseek_apps.datasets.voc import load_voc

DEFAULT_BUNDLE = get_model("inspector").path
DEFAULT_TORCH = get_model("inspector", "neu_det-torch").path
ASSETS = DEFAULT_BUNDLE.parent


def test_default_bundle_is_small_verified_and_documented():
    assert DEFAULT_BUNDLE.stat().st_size <= 10 * 1024 * 1024
    bundle = read_bundle(DEFAULT_BUNDLE)  # verifies every sha256
    manifest = bundle.manifest
    assert manifest["application"] == "inspector" and manifest["precision"] == "int8"
    assert manifest["class_names"] == [
        "crazing",
        "inclusion",
        "patches",
        "pitted_surface",
        "rolled-in_scale",
        "scratches",
    ]
    assert 0 < manifest["metrics"]["map50"] <= 1
    card = bundle.files["MODEL_CARD.md"].decode()
    assert "Reproduce" in card and "deepseek-apps inspector train" in card
    assert (ASSETS / "MODEL_CARD.md").read_text() == card
    assert "python scripts/release_inspector.py" in card  # the maintainer script, not a package module
    config = json.loads((DEFAULT_TORCH / "config.json").read_text())
    assert config["class_names"] == manifest["class_names"]
    # the registry (``deepseek-apps models``) states the release's own figures and backbone
    assert get_model("inspector").metrics["test_map50"] == round(manifest["metrics"]["map50"], 3)
    assert get_model("inspector", "neu_det-torch").metrics["test_map50"] == round(config["test_metrics"]["map50"], 3)
    assert get_model("inspector").metrics["check_map50"] == round(manifest["metrics"]["check_set"]["map50"], 3)
    backbone = {"tiny": "residual", "efficientnet_lite0": "EfficientNet-Lite0"}[config["detector"]["backbone"]]
    assert backbone in get_model("inspector").description and backbone in card


@pytest.mark.realdata
def test_default_on_the_check_images_never_used_in_training(neu_det):
    check = load_voc(neu_det, layout=("Validation_Annotations", "Validation_Images"))
    names = {s.name for s in check.samples}
    split = read_bundle(DEFAULT_BUNDLE).manifest["split"]
    assert not names & set(split.get("val_names", [])) and not names & set(split.get("test_names", []))
    result = QualityInspector().evaluate(check)
    assert result.num_images == 30
    assert result.map50 >= 0.5, result  # card: measured value; this floor only catches a broken model
    fp32 = QualityInspector.pretrained("neu_det-torch").evaluate(check)
    # INT8 right on this CPU too: 8-bit weights lost 0.2 mAP on CPUs without VNNI (0.566 vs 0.770 test, AMD EPYC)
    assert result.map50 >= fp32.map50 - 0.03, (result.map50, fp32.map50)


def test_pretrained_names_open_the_bundle_and_its_weights():
    assert QualityInspector.pretrained().model_.metadata["precision"] == "int8"
    torch_model = QualityInspector.pretrained("neu_det-torch").model_
    assert torch_model.is_torch and torch_model.class_names == QualityInspector().class_names
    assert QualityInspector.default_weights == DEFAULT_TORCH

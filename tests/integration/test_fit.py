"""QualityInspector.fit from code on a small synthetic VOC set: train, reload, evaluate, resume."""

import json

import pytest

from deepseek_apps import QualityInspector
from deepseek_apps.apps.inspector.model import DetectorConfig
from deepseek_apps.core.train import TrainConfig
from deepseek_apps.errors import ErrorCode, InvalidInputError

TINY = DetectorConfig(input_size=96, widths=(8, 16, 16, 32, 32), fpn_channels=32, backbone="tiny")


def _inspector(out, epochs):
    return QualityInspector(
        detector_config=TINY,
        train_config=TrainConfig(epochs=epochs, batch_size=4, out_dir=str(out), progress=False, threads=2),
    )


def test_fit_save_reload_evaluate_and_resume(tmp_path, synthetic_voc, sample_images):
    inspector = _inspector(tmp_path / "run", 2).fit(synthetic_voc, format="voc", val_fraction=0.2, test_fraction=0.2)
    assert inspector.metrics_["best_epoch"] in (1, 2)
    assert 0.0 <= inspector.metrics_["test_map50"] <= 1.0
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and all("per_class" in h for h in history)
    results = inspector.predict(sample_images[:2])
    assert len(results) == 2

    saved = inspector.save(tmp_path / "saved")
    for source in (tmp_path / "run", saved):  # a training folder and a saved model both load
        reloaded = QualityInspector(model_path=source)
        assert reloaded.class_names == inspector.class_names
        test = reloaded.evaluate(synthetic_voc, split="test")
        assert test.num_images == 5 and test.split == "test"  # 20% of 24, stratified
        assert test.to_dict()["split"] == "test"

    again = _inspector(tmp_path / "run", 2)
    config = again.train_config
    resumed = again.fit(synthetic_voc, val_fraction=0.2, test_fraction=0.2, epochs=3)  # epochs= overrides the config's
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]  # picked up after epoch 2
    assert resumed.metrics_["best_epoch"] >= 1
    assert again.train_config is config and config.epochs == 2  # the argument is never rewritten
    assert QualityInspector.load(resumed.out_dir_).class_names == inspector.class_names


def test_a_detector_config_that_contradicts_the_loaded_model_is_refused(tmp_path):
    with pytest.raises(InvalidInputError) as info:
        QualityInspector.load(QualityInspector.default_weights, detector_config=TINY)
    assert "detector_config" in str(info.value)
    same = DetectorConfig.from_dict(
        json.loads((QualityInspector.default_weights / "config.json").read_text())["detector"]
    )
    assert QualityInspector.load(QualityInspector.default_weights, detector_config=same).model_.is_torch


def test_unknown_format_and_bad_split_are_clear(tmp_path, synthetic_voc):
    with pytest.raises(InvalidInputError) as info:
        _inspector(tmp_path, 1).fit(synthetic_voc, format="pascal")
    assert info.value.code == ErrorCode.INVALID_ARGUMENT and "pascal" in str(info.value)
    with pytest.raises(InvalidInputError):
        QualityInspector().evaluate(synthetic_voc, split="test")  # the default bundle records NEU-DET names only

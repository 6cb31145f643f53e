"""A run that learned nothing says so (log, metrics, card) and export refuses it (4110) unless forced."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from deepseek_apps import QualityInspector
from deepseek_apps.apps.inspector.health import diagnose
from deepseek_apps.core.runtime.bundle import read_bundle
from deepseek_apps.errors import ErrorCode, RuntimeFailure

CLI = [sys.executable, "-m", "deepseek_apps.cli"]


def run_cli(*args):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory, synthetic_voc):
    """One epoch at 64 px on 24 generated images: the training check fails, as it should."""
    out = tmp_path_factory.mktemp("health") / "run"
    flags = ("--epochs", "1", "--input-size", "64", "--batch-size", "8", "--head-convs", "1", "--backbone", "tiny")
    flags = (*flags, "--no-progress")
    proc = run_cli("inspector", "train", "--data", synthetic_voc, "--out", out, *flags)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out, proc


def test_cli_says_plainly_that_training_failed_and_why(failed_run):
    out, proc = failed_run
    assert "TRAINING FAILED" in proc.stderr and "validation mAP@0.5 stayed near zero" in proc.stderr
    assert "objects too small for the resolution" in proc.stderr  # the causes come from the data
    assert "input size 64: given" in proc.stderr and "split (random)" in proc.stderr
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["training_health"]["status"] == "failed" and last["split"] == "random"
    card = (out / "MODEL_CARD.md").read_text()
    assert "Status: **failed**" in card and "likely cause:" in card


def test_export_refuses_a_failed_model_unless_forced(failed_run, tmp_path):
    out, _ = failed_run
    refused = run_cli("inspector", "export", "--model", out, "--out", tmp_path / "b.zip", "--no-int8")
    assert refused.returncode != 0 and "DSA-4110" in refused.stderr and "--force" in refused.stderr
    assert not (tmp_path / "b.zip").exists()
    with pytest.raises(RuntimeFailure) as err:
        QualityInspector.load(out).export(tmp_path / "c.zip", int8=False)
    assert err.value.code == ErrorCode.DETECTOR_NOT_LEARNED and "stayed near zero" in err.value.message
    bundle = QualityInspector.load(out).export(tmp_path / "d.zip", int8=False, force=True)
    manifest = read_bundle(bundle).manifest
    assert manifest["training"]["training_health"]["status"] == "failed"
    assert "Training check: failed" in read_bundle(bundle).files["MODEL_CARD.md"].decode()


def test_diagnose_names_the_data_causes():
    checks = {
        "input_size": 192,
        "train_images": 100,
        "train_images_with_defects": 5,
        "train_boxes": 30,
        "boxes_per_class": {"a": 29, "b": 1},
        "small_box_share": 0.6,
        "short_side_p10_px": 3.0,
        "boxes_outside_or_degenerate": 2,
        "val_images": 10,
        "val_boxes": 0,
    }
    history = [{"epoch": e, "loss": 1.0, "map50": 0.0} for e in range(1, 7)]
    verdict = diagnose(history, checks)
    assert verdict.failed and len(verdict.problems) == 2  # near-zero mAP and a flat loss
    text = " ".join(verdict.likely_causes)
    for cause in ("too small", "too few positives", "fewer than 10", "imbalance", "outside", "no annotated defects"):
        assert cause in text


def test_a_learning_run_is_ok():
    history = [{"epoch": e, "loss": 2.0 / e, "map50": 0.1 * e} for e in range(1, 6)]
    assert diagnose(history, {"train_boxes": 500, "train_images": 100}).status == "ok"


def test_the_fallback_advice_suggests_the_pretrained_backbone_only_to_a_scratch_run():
    history = [{"epoch": e, "loss": 2.0 - 0.1 * e, "map50": 0.0} for e in range(1, 6)]
    checks = {
        "train_boxes": 500,
        "train_images": 100,
        "train_images_with_defects": 100,
        "boxes_per_class": {"a": 250, "b": 250},
    }
    tiny = diagnose(history, checks)
    lite = diagnose(history, checks, backbone="efficientnet_lite0")
    assert tiny.failed and lite.failed
    assert "--backbone efficientnet_lite0" in tiny.likely_causes[0]
    assert "--backbone" not in lite.likely_causes[0] and "a lower --lr" in lite.likely_causes[0]


def test_cli_refuses_a_monitor_the_validation_split_cannot_measure(synthetic_voc, tmp_path):
    """Every generated image has a defect, so nothing can be ranked against them: 1019 before any epoch."""
    flags = ("--epochs", "1", "--input-size", "64", "--backbone", "tiny", "--no-progress")
    proc = run_cli(
        "inspector", "train", "--data", synthetic_voc, "--out", tmp_path / "run", "--monitor", "image_auroc", *flags
    )
    assert proc.returncode == 2 and "DSA-1019" in proc.stderr and "good and defective" in proc.stderr
    assert not (tmp_path / "run" / "last.safetensors").exists()

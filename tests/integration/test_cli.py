"""The `deepseek-apps inspector` commands end to end: train, predict/score (resumable), evaluate, export, optimize."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from deepseek_apps.core.runtime.bundle import read_bundle

CLI = [sys.executable, "-m", "deepseek_apps.cli"]


def run_cli(*args, check=True, timeout=300):
    proc = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    from deepseek_apps.datasets.synthetic import generate_samples

    folder = tmp_path_factory.mktemp("imgs")
    for s in generate_samples(120, seed=9):
        s.image.save(folder / f"{s.name}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return folder


def _records(path: Path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_help_is_clear():
    out = run_cli("inspector", "--help").stdout
    for cmd in ("train", "evaluate", "predict", "score", "export", "optimize"):
        assert cmd in out
    train = run_cli("inspector", "train", "--help").stdout
    assert "--format" in train and "--arch" in train and "--head-norm" not in train  # old name still parses
    assert "--no-int8" in run_cli("inspector", "export", "--help").stdout


def test_train_prints_final_metrics_last_and_writes_a_loadable_model(tmp_path, synthetic_voc):
    from deepseek_apps import QualityInspector

    out = tmp_path / "run"
    args = ("--epochs", "1", "--input-size", "64", "--batch-size", "8", "--arch", "fcos-bn", "--backbone", "tiny")
    args = (*args, "--no-progress")
    proc = run_cli("inspector", "train", "--data", synthetic_voc, "--out", out, *args)
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["out"] == str(out) and last["best_epoch"] == 1 and "test_map50" in last
    model = QualityInspector.load(out).model_
    assert model.input_size == 64 and model.metadata["detector_config"].head_norm == "bn"
    metrics = json.loads(run_cli("inspector", "evaluate", "--model", out, "--data", synthetic_voc).stdout)
    assert metrics["num_images"] == 24 and metrics["split"] == "all"


def test_score_records_errors_and_summarises(tmp_path, image_dir):
    out = tmp_path / "r.jsonl"
    proc = run_cli(
        "inspector",
        "score",
        image_dir,
        str(image_dir / "*.png"),
        "--out",
        out,
        "--save-annotated",
        tmp_path / "ann",
        "--no-progress",
    )
    recs = _records(out)
    assert len(recs) == 121 and len({r["source"] for r in recs}) == 121  # folder + glob: no duplicates
    broken = [r for r in recs if r["source"].endswith("broken.png")]
    assert broken[0]["verdict"] == "ERROR" and broken[0]["error"]["code"] == 1001
    assert len(list((tmp_path / "ann").iterdir())) == 120
    assert "NG" in proc.stdout and "images/s" in proc.stdout
    again = run_cli("inspector", "predict", image_dir, "--out", out, "--no-progress")  # nothing left; score = predict
    line = next(x for x in again.stdout.splitlines() if x.startswith("scored this run"))
    assert line.split()[-1] == "0" and len(_records(out)) == 121


def test_score_survives_sigkill_and_resumes_exactly_once(tmp_path, image_dir):
    out = tmp_path / "r.jsonl"
    cmd = [*CLI, "inspector", "score", str(image_dir), "--out", str(out), "--batch-size", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or len(out.read_bytes().splitlines()) < 10):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(out.read_bytes().splitlines())
    assert 10 <= partial < 121, "the job should have been killed part way"
    with open(out, "a") as fh:  # a torn line, as a kill in the middle of a write leaves
        fh.write('{"source": "/half')
    run_cli("inspector", "score", image_dir, "--out", out, "--batch-size", "2", "--no-progress")
    sources = [r["source"] for r in _records(out)]
    expected = sorted(str(p.resolve()) for p in image_dir.iterdir())
    assert sorted(sources) == expected  # every file exactly once


def test_evaluate_json(synthetic_voc):
    proc = run_cli("inspector", "evaluate", "--data", synthetic_voc, "--format", "voc", "--json")
    result = json.loads(proc.stdout)
    assert 0.0 <= result["map50"] <= 1.0 and result["num_images"] == 24
    assert set(result["per_class"]) == {
        "crazing",
        "inclusion",
        "patches",
        "pitted_surface",
        "rolled-in_scale",
        "scratches",
    }


def test_evaluate_on_openvino_agrees_with_onnxruntime(synthetic_voc):
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    args = ("inspector", "evaluate", "--data", synthetic_voc, "--format", "voc", "--json")
    ort = json.loads(run_cli(*args).stdout)["map50"]
    ov = json.loads(run_cli(*args, "--backend", "openvino").stdout)["map50"]
    assert ort > 0 and abs(ort - ov) <= 0.05, (ort, ov)  # the same INT8 bundle; rounding differs slightly


def test_bad_input_gives_our_error_not_a_traceback(tmp_path):
    proc = run_cli("inspector", "evaluate", "--data", tmp_path / "nowhere", "--json", check=False)
    assert proc.returncode == 2
    assert "DSA-2002" in proc.stderr and "Traceback" not in proc.stderr


def test_export_int8_bundle_agrees_with_pytorch(tmp_path, synthetic_voc, default_torch_path):
    from deepseek_apps import QualityInspector

    bundle = tmp_path / "int8.zip"
    proc = run_cli("inspector", "export", "--out", bundle, "--calib", Path(synthetic_voc) / "JPEGImages")
    summary = json.loads(proc.stdout)
    assert summary["precision"] == "int8" and summary["parity_max_abs_diff"] < 0.01
    manifest = read_bundle(bundle).manifest
    fp32 = QualityInspector(model_path=default_torch_path, confidence_threshold=0.4)
    params = sum(p.numel() for p in fp32.model_.metadata["torch_module"].parameters())
    assert manifest["files"]["model.onnx"]["bytes"] < 1.5 * params  # INT8 weights: about 1 byte each (FP32: 4)
    images = sorted((Path(synthetic_voc) / "JPEGImages").iterdir())[:12]
    int8 = QualityInspector(model_path=bundle, confidence_threshold=0.4).predict(images)
    fp32 = fp32.predict(images)
    agree = total = 0
    for a, b in zip(int8, fp32):
        for d in b.defects:
            total += 1
            ious = [_iou(d.box, e.box) for e in a.defects if e.label == d.label]
            agree += bool(ious) and max(ious) > 0.7
    assert total == 0 or agree / total >= 0.8


def _iou(a, b):
    a, b = np.array(a), np.array(b)
    lt, rb = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = np.prod(np.clip(rb - lt, 0, None))
    return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)


def test_optimize_a_torchvision_classifier_from_arch_and_weights(tmp_path, synthetic_voc):
    from safetensors.torch import save_file

    from deepseek_apps.apps.classifier import build_classifier

    weights = tmp_path / "w.safetensors"
    model = build_classifier("mobilenet_v3_small", 6)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    proc = run_cli(
        "optimize",
        "classifier",
        "--arch",
        "mobilenet_v3_small",
        "--weights",
        weights,
        "--data",
        synthetic_voc,
        "--format",
        "voc",
        "--input-size",
        "64",
        "--level",
        "1",
        "--out",
        tmp_path / "c.zip",
    )
    assert "speed-up" in proc.stdout and "graph optimisation" in proc.stdout
    manifest = read_bundle(tmp_path / "c.zip").manifest
    assert manifest["application"] == "classifier" and manifest["preprocessing"]["size"] == 64
    bad = run_cli(
        "optimize",
        "classifier",
        "--arch",
        "resnet18",
        "--weights",
        weights,
        "--data",
        synthetic_voc,
        "--out",
        tmp_path / "d.zip",
        check=False,
    )
    assert bad.returncode == 2 and "DSA-3003" in bad.stderr  # mobilenet weights do not fit resnet18


def test_optimize_inspector_level1(tmp_path, synthetic_voc):
    proc = run_cli("optimize", "inspector", "--level", "1", "--data", synthetic_voc, "--out", tmp_path / "o.zip")
    assert "graph optimisation" in proc.stdout and "bundle:" in proc.stdout
    manifest = read_bundle(tmp_path / "o.zip").manifest
    assert manifest["application"] == "inspector" and "optimize_report" in manifest["metrics"]


def test_inspector_optimize_verb_is_the_top_level_optimize(tmp_path, synthetic_voc):
    """``inspector optimize`` and ``optimize inspector`` parse the same flags and run the same function
    (the level-1 run above covers what it does)."""
    from deepseek_apps.apps.inspector.cli_optimize import run_optimize
    from deepseek_apps.cli import _optimize, build_parser

    flags = ["--level", "3", "--data", str(synthetic_voc), "--out", str(tmp_path / "o.zip"), "--prune-ratios", "0.4"]
    verb = build_parser().parse_args(["inspector", "optimize", *flags, "--qat", "never", "--fold-groupnorm"])
    top = build_parser().parse_args(["optimize", "inspector", *flags, "--qat", "never", "--fold-groupnorm"])
    assert verb.func is run_optimize and top.func is _optimize
    shared = (
        "level",
        "data",
        "format",
        "model",
        "max_drop",
        "finetune_epochs",
        "fold_groupnorm",
        "prune_ratios",
        "qat",
        "out",
    )
    assert {k: getattr(verb, k) for k in shared} == {k: getattr(top, k) for k in shared}


def test_optimize_help_names_the_recovery_defaults_and_the_groupnorm_swap():
    proc = run_cli("optimize", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "--fold-groupnorm" in text and "inspector 60, classifier 20" in text


def test_optimize_rejects_bad_pruning_ratios(tmp_path, synthetic_voc):
    args = ("optimize", "inspector", "--level", "3", "--data", synthetic_voc, "--out", tmp_path / "o.zip")
    out_of_range = run_cli(*args, "--prune-ratios", "0.5,1.5", check=False)
    assert out_of_range.returncode == 2 and "DSA-1000" in out_of_range.stderr and "1.5" in out_of_range.stderr
    not_numbers = run_cli(*args, "--prune-ratios", "half", check=False)
    assert not_numbers.returncode == 2 and "comma-separated fractions" in not_numbers.stderr
    assert not (tmp_path / "o.zip").exists()

"""Tiled detection end to end: trained on tiles through the CLI, recorded with the model, the same in every backend."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from deepseek_apps import QualityInspector
from deepseek_apps.apps.inspector.resolution import ResolutionChoice, plan_tiling
from deepseek_apps.core.runtime.bundle import read_bundle
from deepseek_apps.core.runtime.edge import EdgeRuntime
from deepseek_apps.core.runtime.tiling import Tiling
from deepseek_apps.datasets.synthetic import render_large, write_large_yolo
from deepseek_apps.errors import ErrorCode

CLI = [sys.executable, "-m", "deepseek_apps.cli"]


def run_cli(*args):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=600)


def _large_image(rng):
    return render_large(rng, side=768, defects=6, sizes=(12, 16))


@pytest.fixture(scope="module")
def large_yolo(tmp_path_factory):
    return write_large_yolo(tmp_path_factory.mktemp("large"), {"train": 8, "test": 2}, side=768, seed=5)


@pytest.fixture(scope="module")
def tiled_run(tmp_path_factory, large_yolo):
    out = tmp_path_factory.mktemp("tiled") / "run"
    flags = ("--epochs", "1", "--batch-size", "8", "--head-convs", "1", "--no-progress", "--seed", "3")
    flags = (*flags, "--backbone", "tiny")
    proc = run_cli("inspector", "train", "--data", large_yolo, "--format", "yolo", "--tile", 256, "--out", out, *flags)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_training_on_tiles_is_recorded_in_the_log_metrics_config_and_card(tiled_run):
    out, proc = tiled_run
    assert "tiling: {'tile': 256" in proc.stderr and "input size 256" in proc.stderr
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["tiling"] == {"tile": 256, "overlap": 0.25, "whole_image": True}
    assert last["input_size"] == 256 and "test_map50" in last
    config = json.loads((out / "config.json").read_text())
    assert config["tiling"]["tile"] == 256 and config["detector"]["input_size"] == 256
    assert "Tiling: 256 px tiles, 25% overlap, plus the whole image" in (out / "MODEL_CARD.md").read_text()


def _top(boxes, scores, k=5):
    order = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)[order], np.asarray(scores)[order]


def test_pytorch_bundle_and_edge_runtime_tile_the_same_way(tiled_run, tmp_path):
    out, _ = tiled_run
    bundle = QualityInspector.load(out).export(tmp_path / "tiled.zip", int8=False, force=True)
    assert read_bundle(bundle).manifest["preprocessing"]["tiling"] == {
        "tile": 256,
        "overlap": 0.25,
        "whole_image": True,
    }
    image, _ = _large_image(np.random.default_rng(99))
    torch_found = QualityInspector(out, confidence_threshold=0.05).predict([image])[0].defects
    bundle_found = QualityInspector(bundle, confidence_threshold=0.05).predict([image])[0].defects
    edge = EdgeRuntime(bundle, score_threshold=0.05)
    assert edge.tiling == Tiling(256)
    edge_found = edge.predict([image])[0]
    assert torch_found, "the tiled model found nothing to compare"
    tb, ts = _top([d.box for d in torch_found], [d.score for d in torch_found])
    bb, bs = _top([d.box for d in bundle_found], [d.score for d in bundle_found])
    eb, es = _top(edge_found.boxes, edge_found.scores)
    np.testing.assert_allclose(bb, tb, atol=0.5)
    np.testing.assert_allclose(bs, ts, atol=1e-3)
    np.testing.assert_allclose(eb, bb, atol=1e-3)  # the edge runtime is the app's bundle path exactly
    np.testing.assert_allclose(es, bs, atol=1e-6)


def test_tile_zero_turns_it_off_and_a_bad_tile_is_a_coded_error(tiled_run, tmp_path):
    out, _ = tiled_run
    assert QualityInspector(out).tiling_() == Tiling(256)
    assert QualityInspector(out, tile=0).tiling_() is None
    assert QualityInspector(out, tile=384, tile_overlap=0.5).tiling_() == Tiling(384, 0.5)
    image, _ = _large_image(np.random.default_rng(7))
    image.save(tmp_path / "plate.png")
    proc = run_cli(
        "inspector", "score", tmp_path / "plate.png", "--model", out, "--out", tmp_path / "r.jsonl", "--tile", 10
    )
    assert proc.returncode != 0 and f"DSA-{int(ErrorCode.DETECTOR_TILING_INVALID)}" in proc.stderr
    proc = run_cli("inspector", "score", tmp_path / "plate.png", "--model", out, "--out", tmp_path / "r.jsonl")
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads((tmp_path / "r.jsonl").read_text().splitlines()[0])
    assert record["error"] is None and record["width"] == 768


def test_evaluate_measures_a_tiled_model_on_whole_images(tiled_run, large_yolo):
    out, _ = tiled_run
    proc = run_cli("inspector", "evaluate", "--model", out, "--data", large_yolo, "--format", "yolo", "--split", "test")
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads(proc.stdout.strip().splitlines()[-1])
    recorded = json.loads((out / "config.json").read_text())["test_metrics"]
    assert metrics["map50"] == pytest.approx(recorded["map50"], abs=1e-6)  # training's test number, same tiled path


def test_auto_tiling_only_when_the_largest_input_would_shrink_the_defects_too_much():
    capped = ResolutionChoice(640, "capped", "auto", small_box_relative=0.008, small_box_px=5.1, image_side=2000)
    choice, tiling = plan_tiling(capped, None)
    assert tiling == Tiling(640) and "tiles of 640 px" in choice.reason
    tiny = ResolutionChoice(640, "capped", "auto", small_box_relative=0.004, small_box_px=2.6, image_side=2000)
    _, tiling = plan_tiling(tiny, None)  # 8-px defects: tiles of 320 px enlarged to 640
    assert tiling == Tiling(320)
    fits = ResolutionChoice(320, "fits", "auto", small_box_relative=0.06, small_box_px=19.2, image_side=200)
    assert plan_tiling(fits, None) == (fits, None)
    given = ResolutionChoice(640, "given: 640", "given", image_side=2000)
    assert plan_tiling(given, None)[1] is None and plan_tiling(capped, 0)[1] is None
    assert plan_tiling(capped, 1000)[0].size == 640 and plan_tiling(given, 1000)[1] == Tiling(1000)

"""`deepseek-apps recommender` end to end: train, evaluate, score (resumable), export."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from deepseek_apps.core.runtime.bundle import read_bundle

CLI = [sys.executable, "-m", "deepseek_apps.cli", "recommender"]


def run_cli(*args) -> str:
    """In process (the subprocess start-up is paid once, in the last test); returns stdout."""
    import contextlib
    import io

    from deepseek_apps.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["recommender", *map(str, args)])
    assert code == 0, buf.getvalue()[-2000:]
    return buf.getvalue()


@pytest.fixture(scope="module")
def log_csv(tmp_path_factory) -> Path:
    from deepseek_apps.apps.recommender.synthetic import generate_log

    log = generate_log(n_users=50, n_items=70, seed=8)
    path = tmp_path_factory.mktemp("log") / "clicks.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["user_id", "item_id", "timestamp", "category", "segment"])
        for u, i, t in zip(log.users, log.items, log.timestamps):
            w.writerow([u, i, int(t), log.item_categories[int(i)], log.user_features["segment"][int(u)]])
    return path


@pytest.fixture(scope="module")
def trained(log_csv, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model")
    proc = run_cli(
        "train",
        "--data",
        log_csv,
        "--user-columns",
        "segment",
        "--epochs",
        "2",
        "--max-len",
        "15",
        "--threads",
        "1",
        "--no-progress",
        "--out",
        out,
    )
    summary = json.loads(proc.strip().splitlines()[-1])
    assert summary["test"]["auc"] > 0.6 and summary["samples"]["test"] == 100
    return out


def test_evaluate_matches_training_metrics(trained, log_csv):
    proc = run_cli("evaluate", "--model", trained, "--data", log_csv, "--user-columns", "segment")
    metrics = json.loads(proc.strip().splitlines()[-1])
    saved = json.loads((trained / "config.json").read_text())["metrics"]["test"]
    assert metrics["split"] == "test" and metrics["auc"] == pytest.approx(saved["auc"], abs=1e-6)


def test_score_is_resumable_without_loss_or_duplicates(trained, tmp_path):
    out = tmp_path / "top.jsonl"
    run_cli("predict", "--model", trained, "--users", "0,1,2,3,4", "--k", "3", "--out", out, "--no-progress")
    lines = out.read_text().splitlines()
    assert len(lines) == 5
    out.write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])  # a job killed mid-write
    proc = run_cli(
        "score", "--model", trained, "--users", "0,1,2,3,4,5,nobody", "--k", "3", "--out", out, "--no-progress"
    )
    summary = json.loads(proc)
    assert summary["scored_now"] == 4 and summary["skipped"] == 3 and summary["cold_start"] == 1
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(str(r["user_id"]) for r in records) == ["0", "1", "2", "3", "4", "5", "nobody"]
    assert all(len(r["recommendations"]) == 3 and r["error"] is None for r in records)
    assert len(records[0]["recommendations"][0]["attention"]) == len(records[0]["history"])


def test_export_int8_bundle(trained, tmp_path):
    run_cli("export", "--model", trained, "--out", tmp_path / "b.zip")
    bundle = read_bundle(tmp_path / "b.zip")
    assert bundle.manifest["application"] == "recommender" and bundle.manifest["precision"] == "int8"
    assert bundle.manifest["metrics"]["parity"]["max_abs_prob_diff"] < 0.05
    run_cli("export", "--model", trained, "--out", tmp_path / "f.zip", "--no-int8")
    assert read_bundle(tmp_path / "f.zip").manifest["precision"] == "fp32"


def test_train_arch_base_writes_a_loadable_base_model(log_csv, tmp_path):
    from deepseek_apps import DINRecommender

    out = tmp_path / "base"
    args = ["train", "--data", log_csv, "--arch", "base", "--epochs", "1", "--max-len", "5", "--no-progress"]
    summary = json.loads(run_cli(*args, "--out", out).strip().splitlines()[-1])
    assert summary["samples"]["test"] == 100
    rec = DINRecommender.load(out)
    assert rec.arch_ == "base" and rec.max_len_ == 5


def test_bad_input_exits_with_a_coded_error(tmp_path):
    cmd = [*CLI, "train", "--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "m")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "DSA-2001" in proc.stderr

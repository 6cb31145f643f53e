"""Batch scoring on Ray Data (``engine="ray"``) against the local job, on a local 2-CPU Ray cluster.

Each app: the records of the folder of parts equal the local job's lines on the same inputs
(order aside), and a re-run scores nothing. Exactly once: an actor killed part-way (SIGKILL,
once) is restarted by Ray and its chunk retried; a driver killed part-way leaves committed
parts, temporary files and a keys file without records, and the next run completes the job
with every item in exactly one part.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

from deepseek_apps.core.scale.parts import PartStore, part_name  # noqa: E402
from deepseek_apps.core.scale.ray_batch import run_batch  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def cluster():
    import sys

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import a test module
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _rounded(value, digits: int = 4):
    """Floats to ``digits`` significant figures: batches of a different composition may differ in the last bits."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items() if k not in ("latency_ms", "seconds", "elapsed_ms")}
    if isinstance(value, list):
        return [_rounded(v, digits) for v in value]
    return value


def _same(local: list[dict], ray_records: list[dict], key: str) -> None:
    assert len(ray_records) == len(local)
    by_key = {r[key]: r for r in ray_records}
    assert len(by_key) == len(ray_records), "an item was written twice"
    for rec in local:
        assert _rounded(by_key[rec[key]]) == _rounded(rec), rec[key]


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    from deepseek_apps.datasets.synthetic import generate_samples

    folder = tmp_path_factory.mktemp("images")
    for i, sample in enumerate(generate_samples(9, seed=3)):
        sample.image.save(folder / f"s{i}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    return folder


def test_inspector_on_ray_equals_local_and_resumes(images, tmp_path):
    from deepseek_apps.apps.inspector.app import QualityInspector
    from deepseek_apps.apps.inspector.scoring import score_files

    inspector = QualityInspector(batch_size=4)
    local = score_files(inspector, [str(images)], tmp_path / "local.jsonl", progress=False)
    on_ray = score_files(inspector, [str(images)], tmp_path / "ray", progress=False, engine="ray", workers=2)
    _same(_lines(tmp_path / "local.jsonl"), PartStore(tmp_path / "ray").records(), "source")
    assert on_ray.to_dict() | {"images_per_s": 0} == local.to_dict() | {"images_per_s": 0}
    assert on_ray.errors == 1 and len(PartStore(tmp_path / "ray").committed()) == 3  # 10 images, chunks of 4
    again = score_files(inspector, [str(images)], tmp_path / "ray", progress=False, engine="ray")
    assert (again.scored_now, again.skipped) == (0, 10)


def test_contracts_on_ray_equal_local(tmp_path):
    from deepseek_apps.apps.contracts.app import ContractParser
    from deepseek_apps.apps.contracts.batch import analyze_files
    from deepseek_apps.apps.contracts.synthetic import generate_contract

    folder = tmp_path / "contracts"
    folder.mkdir()
    for i in range(5):
        (folder / f"c{i}.txt").write_text(generate_contract(seed=70 + i).text, encoding="utf-8")
    (folder / "empty.txt").write_text("", encoding="utf-8")  # recorded as an error, as locally
    parser = ContractParser(clauses=False)
    local = analyze_files(parser, [folder], tmp_path / "local.jsonl", progress=False)
    on_ray = analyze_files(parser, [folder], tmp_path / "ray", progress=False, engine="ray", batch_size=2)
    _same(_lines(tmp_path / "local.jsonl"), PartStore(tmp_path / "ray").records(), "file")
    assert (on_ray.ok, on_ray.failed) == (local.ok, local.failed) == (5, 1)


def test_recommender_on_ray_equals_local(tmp_path):
    from deepseek_apps.apps.recommender.app import DINRecommender
    from deepseek_apps.apps.recommender.scoring import score_users

    rec = DINRecommender()
    users = [*list(rec.catalog_.user_ids)[:12], "nobody-at-all"]
    local = score_users(rec, users, tmp_path / "local.jsonl", k=5, progress=False, chunk=5)
    on_ray = score_users(rec, users, tmp_path / "ray", k=5, progress=False, chunk=5, engine="ray", workers=2)
    _same(_lines(tmp_path / "local.jsonl"), PartStore(tmp_path / "ray").records(), "user_id")
    assert (on_ray.users, on_ray.errors, on_ray.cold_start) == (local.users, local.errors, local.cold_start)


def test_fraud_on_ray_equals_local_with_bad_rows(tmp_path):
    from deepseek_apps.apps.fraud.app import FraudDetector
    from deepseek_apps.apps.fraud.cli import score_file
    from deepseek_apps.apps.fraud.synthetic import generate_transactions, to_frame

    table = generate_transactions(40, seed=5)
    table.ids = np.array([f"new{i}" for i in range(40)], dtype=object)
    table.time = table.time + 90 * 86400
    frame = to_frame(table)
    frame.loc[5, "amount"] = float("nan")  # a bad row: its coded error, the rest scored
    frame.loc[17, "transaction_id"] = "new3"  # a repeated id: one line per row, both times
    path = tmp_path / "new.csv"
    frame.to_csv(path, index=False)
    det = FraudDetector()
    local = score_file(det, str(path), tmp_path / "local.jsonl", batch_size=12, progress=False)
    on_ray = score_file(det, str(path), tmp_path / "ray", batch_size=12, progress=False, engine="ray", workers=2)
    assert on_ray == local
    ray_lines = PartStore(tmp_path / "ray").records()
    local_lines = _lines(tmp_path / "local.jsonl")
    key = lambda r: json.dumps(_rounded(r), sort_keys=True)  # noqa: E731  (ids repeat: compare whole lines)
    assert sorted(map(key, ray_lines)) == sorted(map(key, local_lines)) and len(ray_lines) == 40


class _Paths:
    """A test adapter: scores a path as its size; kills its own process at item ``kill_at``, once."""

    def __init__(self, marker: str, kill_at: str | None = None):
        self.marker = marker
        self.kill_at = kill_at

    def item_key(self, item):
        return item

    def plan(self, todo, batch_size):
        return [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]

    def prepare(self, app):
        return None

    def score(self, app, state, items):
        for item in items:
            if item == self.kill_at and not os.path.exists(self.marker):
                Path(self.marker).write_text("killed once")
                os.kill(os.getpid(), signal.SIGKILL)
        return [{"path": i, "bytes": Path(i).stat().st_size, "error": None} for i in items]


def _app():
    from deepseek_apps.apps.inspector.app import QualityInspector

    return QualityInspector()  # any Application: the test adapter only needs it built


def test_killed_actor_is_restarted_and_each_item_written_once(images, tmp_path):
    items = sorted(str(p) for p in images.iterdir())
    marker = tmp_path / "killed"
    adapter = _Paths(str(marker), kill_at=items[5])
    run = run_batch(_app(), adapter, items, str(tmp_path / "out"), workers=2, batch_size=2, progress=False)
    assert marker.exists(), "the actor was never killed: the test proves nothing"
    records = PartStore(tmp_path / "out").records()
    assert sorted(r["path"] for r in records) == items  # each item exactly once
    assert run.scored_now == len(items) and len(PartStore(tmp_path / "out").committed()) == 5


def test_killed_driver_leaves_parts_the_rerun_completes(images, tmp_path):
    items = sorted(str(p) for p in images.iterdir())
    out = tmp_path / "out"
    out.mkdir()
    store = PartStore(out)
    adapter = _Paths(str(tmp_path / "unused"))
    # what a driver killed mid-job leaves: two committed parts, a keys file whose records were
    # never renamed into place, and half-written temporary files
    for chunk in (items[0:2], items[2:4]):
        store.commit(part_name(chunk), chunk, adapter.score(None, None, chunk))
    orphan = items[4:6]
    (out / f"{part_name(orphan)}.keys.json").write_text(json.dumps({"keys": orphan}) + "\n")
    (out / f".{part_name(orphan)}.jsonl.tmp-dead").write_text('{"path": "torn')
    run = run_batch(_app(), adapter, items, str(out), workers=2, batch_size=2, progress=False)
    assert (run.skipped, run.scored_now) == (4, len(items) - 4)
    records = store.records()
    assert sorted(r["path"] for r in records) == items
    assert not list(out.glob(".*.tmp-*"))
    again = run_batch(_app(), adapter, items, str(out), workers=2, batch_size=2, progress=False)
    assert again.scored_now == 0 and len(store.records()) == len(items)


def test_cli_score_with_engine_ray(images, tmp_path, capsys):
    from deepseek_apps.cli import main

    out = tmp_path / "scores"
    args = ["inspector", "score", str(images), "--out", str(out), "--engine", "ray", "--workers", "1", "--no-progress"]
    assert main(args) == 0
    assert re.search(r"already in output\s+0\n", capsys.readouterr().out)
    assert len(PartStore(out).records()) == 10
    (tmp_path / "file.jsonl").write_text("")
    args[4] = str(tmp_path / "file.jsonl")  # a local job's file is no folder of parts
    assert main(args) == 2
    assert "DSA-4012" in capsys.readouterr().err

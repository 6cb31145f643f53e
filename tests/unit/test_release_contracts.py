"""scripts/release_contracts.py: FP16 weights in place, refuses a run without its stacker / re-ranker."""

import importlib.util
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load, save

from deepseek_apps.apps.contracts.clauses.folder import CONFIG_FILE, WEIGHTS_FILE

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("release_contracts", ROOT / "scripts" / "release_contracts.py")
release_contracts = importlib.util.module_from_spec(spec)
spec.loader.exec_module(release_contracts)


def _run(folder, with_fits=True):
    folder.mkdir()
    weights = {"head.weight": np.random.default_rng(0).normal(size=(41, 8)).astype(np.float32), "step": np.arange(3)}
    (folder / WEIGHTS_FILE).write_bytes(save(weights))
    meta = {"config": {"init": "/tmp/somewhere/c5", "lr": 7e-5}, "validation": {"window": 0.7}}
    if with_fits:
        meta |= {"span_reranker": {"bias": [0.0]}, "window_stacker": {"bias": [0.0]}}
    (folder / CONFIG_FILE).write_text(json.dumps(meta))
    for name in release_contracts.LEXICAL_FILES:
        (folder / name).write_bytes(b"lexical " + name.encode())
    return folder, weights


def test_release_stores_fp16_replaces_the_init_path_and_keeps_files_readable(tmp_path):
    run, weights = _run(tmp_path / "run")
    assets = tmp_path / "assets"
    assets.mkdir()
    old = os.umask(0o022)
    try:
        release_contracts.release(run, "step 5 plus one epoch", assets=assets)
    finally:
        os.umask(old)
    shipped = load((assets / WEIGHTS_FILE).read_bytes())
    assert shipped["head.weight"].dtype == np.float16 and shipped["step"].dtype == weights["step"].dtype
    np.testing.assert_allclose(shipped["head.weight"], weights["head.weight"], atol=2e-3)
    assert load((run / release_contracts.FP32_COPY).read_bytes())["head.weight"].dtype == np.float32
    meta = json.loads((assets / CONFIG_FILE).read_text())
    assert meta["config"]["init"] == meta["continued_from"] == "step 5 plus one epoch"
    assert meta["stored_as"] == "float16" and "validation" not in meta and "span_reranker" in meta
    assert all((assets / n).read_bytes() == (run / n).read_bytes() for n in release_contracts.LEXICAL_FILES)
    assert all(stat.S_IMODE((assets / n).stat().st_mode) == 0o644 for n in os.listdir(assets))
    release_contracts.to_half(run)  # a second call leaves the FP16 file and its FP32 copy as they are
    assert load((run / release_contracts.FP32_COPY).read_bytes())["head.weight"].dtype == np.float32


def test_release_refuses_a_run_without_its_stacker_and_reranker(tmp_path):
    run, _ = _run(tmp_path / "run", with_fits=False)
    with pytest.raises(SystemExit, match="contracts_rerank.py --write"):
        release_contracts.release(run, None, assets=tmp_path)


def test_release_into_another_folder_shares_an_identical_lexical_scorer(tmp_path, monkeypatch):
    from types import SimpleNamespace

    run, _ = _run(tmp_path / "run")
    meta = json.loads((run / CONFIG_FILE).read_text())
    meta["config"]["teacher"] = "/tmp/runs/c6all"
    (run / CONFIG_FILE).write_text(json.dumps(meta))
    shared = tmp_path / "default"
    shared.mkdir()
    monkeypatch.setattr(release_contracts, "get_model", lambda app, name: SimpleNamespace(path=shared))
    for name in release_contracts.LEXICAL_FILES:
        (shared / name).write_bytes(b"another scorer")
    fast = tmp_path / "fast"
    with pytest.raises(SystemExit, match="distilled-from"):
        release_contracts.release(run, "c6", assets=fast, lexical_from="default")
    with pytest.raises(SystemExit, match="not the 'default' model's"):
        release_contracts.release(run, "c6", assets=fast, lexical_from="default", distilled_from="the default")
    for name in release_contracts.LEXICAL_FILES:
        (shared / name).write_bytes((run / name).read_bytes())
    release_contracts.release(run, "c6", assets=fast, lexical_from="default", distilled_from="the default")
    meta = json.loads((fast / CONFIG_FILE).read_text())
    assert meta["lexical_from"] == "default" and meta["config"]["teacher"] == "the default"
    assert sorted(os.listdir(fast)) == sorted([CONFIG_FILE, WEIGHTS_FILE])  # no second copy of the scorer

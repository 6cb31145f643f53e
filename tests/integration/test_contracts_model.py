"""The clause tagger end to end: train (CLI) on a CUAD-layout folder, export, load, analyse.

Training here is a few steps on generated contracts: it checks the machinery (loss, save,
load, ONNX parity, INT8), not the quality; quality is measured on CUAD by
``benchmarks/contracts.py`` and floor-checked on real data below.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from deepseek_apps.apps.contracts.app import ContractParser
from deepseek_apps.apps.contracts.clauses.data import CATEGORIES, load_labelled, write_cuad_layout
from deepseek_apps.apps.contracts.clauses.runtime import ClauseModel
from deepseek_apps.apps.contracts.synthetic import generate_contract, generate_contracts
from deepseek_apps.cli import main
from deepseek_apps.errors import InvalidInputError, MissingResourceError, ModelFormatError

CUAD = Path(__file__).resolve().parents[3] / "shared" / "data" / "cuad"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("clauses")
    data = write_cuad_layout(generate_contracts(4, seed=11), root / "data")
    out = root / "model"
    code = main(
        ["contracts", "train", "--data", str(data), "--out", str(out), "--max-steps", "3", "--rank", "2"]
        + ["--val-fraction", "0.25", "--threads", "2"]
    )
    assert code == 0
    return data, out


def test_train_writes_adapters_config_and_validation_metrics(trained):
    _, out = trained
    meta = json.loads((out / "clause_tagger.json").read_text())
    assert meta["config"]["rank"] == 2 and meta["train_contracts"] == 3 and meta["val_contracts"] == 1
    assert np.isfinite(meta["losses"][0])
    assert 0.0 <= meta["validation"]["window"]["shipped"]["aupr"] <= 1.0
    assert (out / "clause_lexical.json").is_file() and (out / "clause_lexical.safetensors").is_file()
    assert meta["validation"]["span"]["answers"] > 0
    assert "span_reranker" not in meta  # one validation contract: too few to fit the span re-ranker on
    # only adapters and heads are saved: a small fraction of the 22.7M-parameter encoder
    assert (out / "clause_tagger.safetensors").stat().st_size < 1_000_000


def test_onnx_fp32_and_int8_agree_with_pytorch(trained, tmp_path, monkeypatch):
    data, out = trained
    monkeypatch.setenv("DEEPSEEK_APPS_CACHE", str(tmp_path))
    tokens = load_labelled(data)[0].words
    _, torch_windows, torch_words = ClauseModel(out, backend="torch").predict_words(tokens)
    assert ClauseModel(out, backend="torch", stride=45).predict_words(tokens)[1].shape[0] < torch_windows.shape[0]
    _, fp32_windows, fp32_words = ClauseModel(out, backend="onnx").predict_words(tokens)
    _, int8_windows, _ = ClauseModel(out, backend="onnx-int8").predict_words(tokens)
    assert torch_words.shape == (len(tokens), len(CATEGORIES))
    assert np.abs(torch_windows - fp32_windows).max() < 1e-3 and np.abs(torch_words - fp32_words).max() < 1e-3
    assert np.abs(torch_windows - int8_windows).max() < 0.1
    assert len(list(tmp_path.rglob("*.onnx"))) == 2  # exported once, then cached
    if importlib.util.find_spec("openvino") is not None:
        _, bf16_windows, bf16_words = ClauseModel(out, backend="openvino-bf16").predict_words(tokens)
        assert np.abs(torch_windows - bf16_windows).max() < 0.05 and np.abs(torch_words - bf16_words).max() < 0.05
        assert len(list(tmp_path.rglob("*.onnx"))) == 2  # bf16 runs the cached FP32 graph


def test_default_backend_follows_the_cpu(monkeypatch):
    from deepseek_apps.apps.contracts.clauses import inference

    monkeypatch.setattr(inference, "amx_bf16", lambda: False)
    assert inference.default_backend() == "onnx-int8"
    monkeypatch.setattr(inference, "amx_bf16", lambda: True)
    has_openvino = importlib.util.find_spec("openvino") is not None
    assert inference.default_backend() == ("openvino-bf16" if has_openvino else "onnx-int8")
    monkeypatch.setattr(inference.importlib.util, "find_spec", lambda name: None)
    assert inference.default_backend() == "onnx-int8"


def test_bad_weights_are_clear_errors(trained, tmp_path):
    _, out = trained
    with pytest.raises(MissingResourceError) as err:
        ClauseModel(tmp_path / "nothing")
    assert err.value.code == 2004
    (tmp_path / "clause_tagger.json").write_text(
        (out / "clause_tagger.json").read_text().replace('"rank": 2', '"rank": 4')
    )
    (tmp_path / "clause_tagger.safetensors").write_bytes((out / "clause_tagger.safetensors").read_bytes())
    with pytest.raises(ModelFormatError) as err:
        ClauseModel(tmp_path, backend="torch")
    assert err.value.code == 3003


def test_shipped_tagger_finds_clauses_with_evidence():
    contract = generate_contract(seed=5)
    result = ContractParser().analyze(contract.text.encode(), filename="msa.txt")
    assert result.stage == "rules+model" and result.clauses
    law = [c for c in result.clauses if c.category == "Governing Law"]
    truth = contract.facts_of("GOVERNING_LAW")[0]
    assert law and any(c.evidence.start <= truth.start and truth.end <= c.evidence.end for c in law)
    for clause in result.clauses:
        assert contract.text[clause.evidence.start : clause.evidence.end] == clause.evidence.text
        assert 0.5 <= clause.confidence <= 1.0 and clause.evidence.page == 1
    assert "## Clauses" in result.to_markdown()


def test_shipped_int8_tagger_gives_a_document_the_same_clauses_alone_or_in_a_batch():
    """The INT8 encoder quantizes activations per batch, so batches never mix documents:
    ``predict`` of several documents equals ``analyze`` of each alone, exactly, with the real model."""
    contracts = generate_contracts(3, seed=7)
    files = [(f"c{i}.txt", c.text.encode()) for i, c in enumerate(contracts)]
    parser = ContractParser(min_confidence=0.0)
    together = parser.predict(files)
    for (name, data), result in zip(files, together):
        alone = parser.analyze(data, filename=name)
        assert result.clauses and [c.model_dump() for c in result.clauses] == [c.model_dump() for c in alone.clauses]


def test_the_shipped_fast_model_is_three_layers_and_finds_clauses():
    import onnx

    from deepseek_apps.apps.contracts.clauses.export import EXPORT_VERSION, ONNX_FILES, cache_root
    from deepseek_apps.core.registry import get_model
    from deepseek_apps.core.runtime.bundle import sha256

    fast = get_model("contracts", "fast")
    meta = json.loads((fast.path / "clause_tagger.json").read_text())
    assert meta["config"]["layers"] == 3 and meta["lexical_from"] == "default"
    contract = generate_contract(seed=5)
    result = ContractParser.pretrained("fast").analyze(contract.text.encode(), filename="msa.txt")
    law = [c for c in result.clauses if c.category == "Governing Law"]
    truth = contract.facts_of("GOVERNING_LAW")[0]
    assert law and any(c.evidence.start <= truth.start and truth.end <= c.evidence.end for c in law)
    weights = (fast.path / "clause_tagger.safetensors").read_bytes()
    graph = cache_root() / sha256(weights + EXPORT_VERSION.encode())[:16] / ONNX_FILES["onnx-int8"]
    layers = {n.name.split("/")[3] for n in onnx.load(graph).graph.node if n.name.startswith("/encoder/encoder/")}
    assert layers == {"layer.0", "layer.1", "layer.2"}  # the INT8 encoder built on first use has 3 layers


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["default", "fast"])
def test_shipped_tagger_beats_a_floor_on_held_out_cuad(name):
    if not CUAD.is_dir():
        pytest.skip("../shared/data/cuad is not here")
    from deepseek_apps.apps.contracts.clauses.eval import evaluate_tagger
    from deepseek_apps.apps.contracts.evaluate import load_labels, split_contracts

    table, _ = load_labels(CUAD)
    _, val = split_contracts(list(table["Text File"]), fraction=0.2, seed=0)
    shortest = sorted(val, key=lambda n: (CUAD / "contracts" / n).stat().st_size)[:8]
    from deepseek_apps.core.registry import get_model

    model = ClauseModel(get_model("contracts", name).path)
    report = evaluate_tagger(model, load_labelled(CUAD, shortest), progress=False)
    assert report["window"]["shipped"]["aupr"] > 0.5


def test_export_bundle_runs_without_torch_and_matches_the_folder(trained, tmp_path, monkeypatch, capsys):
    import os
    import shutil
    import subprocess
    import sys

    from deepseek_apps.apps.contracts.clauses.folder import default_dir

    _, trained_dir = trained
    out = Path(shutil.copytree(trained_dir, tmp_path / "ranked"))  # with the shipped stacker and re-ranker:
    meta, shipped = (json.loads((d / "clause_tagger.json").read_text()) for d in (out, default_dir()))
    meta.update({k: shipped[k] for k in ("span_reranker", "window_stacker")})  # they run without torch too
    (out / "clause_tagger.json").write_text(json.dumps(meta))
    monkeypatch.setenv("DEEPSEEK_APPS_CACHE", str(tmp_path / "cache"))
    bundle = tmp_path / "contracts_int8.zip"
    assert main(["contracts", "export", "--model", str(out), "--out", str(bundle)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["bundle"] == str(bundle)
    text = generate_contract(seed=5).text.encode()
    # the bundle holds the INT8 graph: the folder on the same runtime must give the same clauses
    folder = ContractParser.load(out, min_confidence=0.0, clause_backend="onnx-int8").predict([text])[0]
    code = (
        "import sys, json; from deepseek_apps.apps.contracts.app import ContractParser\n"
        "p = ContractParser.load(sys.argv[1], min_confidence=0.0)\n"
        "assert p.tagger().reranker is not None and p.tagger().window_stacker is not None\n"
        "r = p.predict([open(sys.argv[2], 'rb').read()])[0]\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'torch was imported'\n"
        "print(json.dumps([[c.category, c.confidence] for c in r.clauses]))"
    )
    (tmp_path / "c.txt").write_bytes(text)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(bundle), str(tmp_path / "c.txt")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "DEEPSEEK_APPS_CACHE": str(tmp_path / "cache")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [[c.category, c.confidence] for c in folder.clauses]
    with pytest.raises(InvalidInputError):  # the bundle fixes the precision
        ContractParser(model_path=bundle, clause_backend="torch").tagger()


def test_train_prints_the_final_metrics_json_last(trained, tmp_path, capsys):
    data, _ = trained
    args = ["contracts", "train", "--data", str(data), "--out", str(tmp_path / "m"), "--max-steps", "1"]
    assert main([*args, "--rank", "2", "--val-fraction", "0.25", "--no-progress"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["out"] == str(tmp_path / "m") and "validation" in last
    code = main(["contracts", "evaluate", "--data", str(data), "--model", str(tmp_path / "m"), "--split", "all"])
    assert code == 0 and "window" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_a_continued_run_keeps_its_split_with_a_new_sample_seed(trained, tmp_path, monkeypatch):
    from deepseek_apps.apps.contracts import fitting

    data, first = trained
    splits = []
    real = fitting.split_names
    monkeypatch.setattr(fitting, "split_names", lambda *a: splits.append(a[-1]) or real(*a))
    args = ["contracts", "train", "--data", str(data), "--out", str(tmp_path / "m"), "--max-steps", "1"]
    args += ["--rank", "2", "--val-fraction", "0.25", "--no-progress", "--init", str(first), "--sample-seed", "5"]
    assert main(args) == 0
    meta = json.loads((tmp_path / "m" / "clause_tagger.json").read_text())
    assert splits == [0] and meta["split_seed"] == 0  # the held-out contracts of the first run ...
    assert meta["config"]["seed"] == 5 and meta["config"]["init"] == str(first)  # ... and fresh draws


def test_the_span_reranker_is_fitted_on_validation_and_ranks_the_shipped_clauses(tmp_path):
    from deepseek_apps.apps.contracts import fitting
    from deepseek_apps.apps.contracts.clauses.eval import evaluate_tagger

    assert ContractParser().tagger().reranker is not None  # the shipped model has one
    contracts = load_labelled(write_cuad_layout(generate_contracts(10, seed=21), tmp_path / "data"))
    runtime = ClauseModel(backend="onnx-int8")
    runtime.reranker = runtime.window_stacker = None  # as a freshly trained tagger
    records: list = []
    before = evaluate_tagger(runtime, contracts, progress=False, rules=False, candidates=records)
    assert len(records) == 10 and "span_decoder" not in before
    meta: dict = {"split_seed": 0}
    fitting.fit_reranker(records[:5], {}, None)  # too few contracts: nothing fitted, no error
    lopsided = [*records[:8]]
    lopsided[1:] = [replace(r, labels=np.zeros_like(r.labels)) for r in lopsided[1:]]  # right answers in one contract
    fitting.fit_reranker(lopsided, skipped := {}, None)  # a fold with none right: logged, the training still ends
    assert "span_reranker" not in skipped
    fitting.fit_reranker(records, meta, runtime)
    assert meta["span_reranker"]["fitted_on"].startswith("10 validation contracts")
    assert meta["validation"]["span_reranked"]["folds"] == 4 and runtime.reranker is not None
    assert 0 <= meta["validation"]["window_stacked"]["aupr"] <= 1 and runtime.window_stacker is not None
    assert meta["window_stacker"]["fitted_on"] == meta["span_reranker"]["fitted_on"]
    after = evaluate_tagger(runtime, contracts, progress=False, rules=False)
    assert after["span_decoder"] == before["span"]  # the decoder's ranking, reported next to the re-ranker's
    assert (
        after["window"]["tagger_lexical_mean"] == before["window"]["shipped"]
    )  # the plain mean, next to the stacker's
    words = contracts[0].words
    spans = runtime.clause_spans(words, runtime.predict_words(words)[2])
    for category in spans:
        assert all(0.0 <= q <= 1.0 for _, _, q in category)
        assert [q for _, _, q in category] == sorted((q for _, _, q in category), reverse=True)


def test_a_shallower_tagger_is_distilled_from_a_trained_one(trained, tmp_path, monkeypatch):
    from safetensors.torch import load

    from deepseek_apps.apps.contracts.clauses import train

    data, teacher = trained
    calls = []
    real = train.load_teacher

    def counting(folder):
        model = real(folder)
        model.register_forward_hook(lambda *_: calls.append(1))
        return model

    monkeypatch.setattr(train, "load_teacher", counting)
    monkeypatch.setenv("DEEPSEEK_APPS_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "student"
    args = ["contracts", "train", "--data", str(data), "--out", str(out), "--max-steps", "2", "--rank", "2"]
    args += ["--val-fraction", "0.25", "--no-progress", "--layers", "2"]
    args += ["--init", str(teacher), "--teacher", str(teacher)]
    assert main(args) == 0
    assert len(calls) == 2  # the teacher read every training batch
    meta = json.loads((out / "clause_tagger.json").read_text())
    assert meta["config"]["layers"] == 2 and meta["config"]["teacher"] == str(teacher)
    layers = {train._layer_of(k) for k in load((out / "clause_tagger.safetensors").read_bytes())} - {None}
    assert layers == {0, 1}  # adapters of the two kept layers only
    model = ClauseModel(out, backend="onnx-int8")
    words = load_labelled(data)[0].words
    _, window_probs, word_probs = model.predict_words(words)
    assert word_probs.shape == (len(words), len(CATEGORIES)) and np.isfinite(window_probs).all()
    graphs = list((tmp_path / "cache").rglob("clause_tagger_int8.onnx"))
    assert len(graphs) == 1 and b"layer.1/" in graphs[0].read_bytes() and b"layer.2/" not in graphs[0].read_bytes()


def test_a_deeper_models_weights_load_only_when_asked(trained):
    from deepseek_apps.apps.contracts.clauses.model import build_tagger
    from deepseek_apps.apps.contracts.clauses.train import load_trained_weights

    _, teacher = trained
    student, _ = build_tagger(rank=2, layers=3)
    with pytest.raises(ModelFormatError):
        load_trained_weights(student, teacher)  # layers 3-5 have nowhere to go
    load_trained_weights(student, teacher, deeper=True)
    with pytest.raises(InvalidInputError, match="6 layers"):
        build_tagger(rank=2, layers=7)
    with pytest.raises(InvalidInputError, match="teacher's share"):
        ContractParser().fit(trained[0], max_steps=1, rank=2, teacher=str(teacher), distill=1.5, progress=False)

"""A pickle (or any non-safetensors file) saved under a weights name is refused with 3003, never unpickled."""

from __future__ import annotations

import pickle
import shutil

import pytest

from deepseek_apps import DINRecommender, QualityInspector
from deepseek_apps.core.registry import get_model
from deepseek_apps.errors import DeepSeekAppsError, ErrorCode


class Boom:
    def __reduce__(self):  # would run on unpickling
        return (exec, ("raise SystemExit('unpickled!')",))


def _poison(folder, name):
    (folder / name).write_bytes(pickle.dumps({"weight": Boom()}))


def test_inspector_folder_with_pickled_weights(tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(get_model("inspector", "neu_det-torch").path, folder)
    _poison(folder, "model.safetensors")
    with pytest.raises(DeepSeekAppsError) as info:
        QualityInspector.load(folder)
    assert info.value.code == ErrorCode.CHECKPOINT_INVALID


@pytest.mark.parametrize("name", ["catalog.safetensors", "model.safetensors"])
def test_recommender_folder_with_pickled_weights(tmp_path, name):
    import hashlib
    import json

    folder = tmp_path / "m"
    shutil.copytree(get_model("recommender").path, folder)
    _poison(folder, name)
    config = json.loads((folder / "config.json").read_text())  # a consistent hash: only the format check is left
    config["sha256"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(DeepSeekAppsError) as info:
        DINRecommender.load(folder)
    assert info.value.code == ErrorCode.CHECKPOINT_INVALID


def test_contract_lexical_model_with_pickled_weights():
    from deepseek_apps.apps.contracts.clauses.lexical import LexicalScorer

    vocab = (get_model("contracts").path / "clause_lexical.json").read_bytes()
    with pytest.raises(DeepSeekAppsError) as info:
        LexicalScorer.from_bytes(vocab, pickle.dumps({"coef": Boom()}))
    assert info.value.code == ErrorCode.CHECKPOINT_INVALID


@pytest.mark.parametrize("name", ["history.safetensors", "gnn.safetensors"])
def test_fraud_model_with_pickled_weights(tmp_path, name):
    from deepseek_apps import FraudDetector
    from deepseek_apps.core.runtime.bundle import read_bundle, write_bundle

    shipped = read_bundle(get_model("fraud").path)
    files = {**shipped.files, name: pickle.dumps({"w": Boom()})}
    manifest = {k: v for k, v in shipped.manifest.items() if k not in ("files",)}
    folder = write_bundle(tmp_path / "m", manifest, files)  # consistent hashes: only the format check is left
    with pytest.raises(DeepSeekAppsError) as info:
        FraudDetector.load(folder)
    assert info.value.code == ErrorCode.CHECKPOINT_INVALID

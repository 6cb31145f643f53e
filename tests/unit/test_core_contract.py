"""The contract's shared machinery (``core.contract``) and the registry of shipped models."""

from __future__ import annotations

import json

import pytest

from deepseek_apps.cli import main
from deepseek_apps.core.contract import Application, NotFittedError, map_items
from deepseek_apps.core.registry import get_model, list_models
from deepseek_apps.errors import DeepSeekAppsError, ErrorCode, InvalidInputError


class Toy(Application):
    app_name = "toy"

    def __init__(self, model_path=None, window: int | None = None, scale: float = 1.0):
        self.model_path = model_path
        self.window = window
        self.scale = scale

    def _load_now(self) -> None:
        self.window_ = self.check_compatible("window", 8)


def test_get_params_and_repr_show_the_arguments_as_given():
    toy = Toy(scale=2.0)
    assert toy.get_params() == {"model_path": None, "window": None, "scale": 2.0}
    assert repr(toy) == "Toy(scale=2.0)"


def test_a_loaded_model_never_rewrites_an_argument():
    toy = Toy.load("somewhere")
    assert toy.window is None and toy.window_ == 8
    assert Toy.load("somewhere", window=8).window_ == 8
    with pytest.raises(InvalidInputError, match="conflicts with the loaded model"):
        Toy.load("somewhere", window=16)
    with pytest.raises(InvalidInputError, match="first argument"):
        Toy.load("a", model_path="b")


def test_not_fitted_and_errors_mode_are_coded():
    with pytest.raises(NotFittedError) as info:
        Toy().check_fitted("model_", "predict")
    assert info.value.code == ErrorCode.MODEL_NOT_FITTED and "fit(" in info.value.hint
    with pytest.raises(InvalidInputError):
        Toy.check_errors_mode("skip")


def test_map_items_records_only_our_errors():
    def work(x):
        if x < 0:
            raise InvalidInputError(ErrorCode.INVALID_ARGUMENT, "negative", value=x)
        if x == 0:
            raise ZeroDivisionError("a bug")
        return x * 2

    out = map_items([1, -1, 3], work, "record", lambda item, exc: exc.code)
    assert out == [2, ErrorCode.INVALID_ARGUMENT, 6]
    with pytest.raises(DeepSeekAppsError):
        map_items([-1], work, "raise", lambda item, exc: None)
    with pytest.raises(ZeroDivisionError):  # a bug is never recorded as bad input
        map_items([0], work, "record", lambda item, exc: None)


def test_registry_lists_every_app_default_and_the_files_exist():
    apps = {m.app for m in list_models()}
    assert apps == {"inspector", "contracts", "recommender", "fraud"}
    for model in list_models():
        assert model.path.exists(), model.path
        assert model.card is not None and model.card.exists()
        assert model.metrics and model.data and model.licence
        json.dumps(model.to_dict())
    assert get_model("inspector").runs_without_torch
    with pytest.raises(InvalidInputError, match="no shipped"):
        get_model("inspector", "nope")
    with pytest.raises(InvalidInputError):
        list_models("vision")


def test_models_command(capsys):
    assert main(["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {(m["app"], m["name"]) for m in listed} >= {("fraud", "default"), ("contracts", "default")}
    assert main(["models", "recommender"]) == 0
    assert "recommender/default" in capsys.readouterr().out

"""One test of the application contract, run over all four applications (``core/contract.py``)."""

from __future__ import annotations

import copy
import importlib
import json

import pytest

from deepseek_apps.core.contract import Application
from deepseek_apps.core.runtime.bundle import read_bundle
from deepseek_apps.errors import DeepSeekAppsError

from .cases import ContractCase

APPS = ["inspector", "contracts", "recommender", "fraud"]
METHODS = ("fit", "predict", "evaluate", "save", "load", "export", "pretrained", "get_params")


def _case(app: str, tmp_path) -> ContractCase:
    return importlib.import_module(f".case_{app}", __package__).make_case(tmp_path)


def _jsonable(result) -> dict:
    data = result.to_dict()
    json.dumps(data, default=str)
    return data


@pytest.mark.slow
@pytest.mark.parametrize("app", APPS)
def test_contract(app, tmp_path):
    case = _case(app, tmp_path)
    assert issubclass(case.cls, Application) and case.cls.app_name == app
    assert all(callable(getattr(case.cls, m, None)) for m in METHODS)

    model = case.cls(**case.params)
    given = copy.deepcopy(model.get_params())
    assert {k: given[k] for k in case.params} == case.params
    assert model.fit(case.fit_data, **case.fit_kwargs) is model

    results = model.predict([*case.good, case.bad], errors="record")
    assert len(results) == len(case.good) + 1
    assert all(_jsonable(r).get("error") is None for r in results[:-1])
    error = _jsonable(results[-1])["error"]
    assert isinstance(error, dict) and isinstance(error["code"], int) and error["message"]
    with pytest.raises(DeepSeekAppsError):
        model.predict([case.bad], errors="raise")
    with pytest.raises(DeepSeekAppsError):
        model.predict(case.good, errors="ignore")

    metrics = model.evaluate(case.eval_data)
    json.dumps(metrics.to_dict(), default=str)

    folder = model.save(tmp_path / "saved")
    loaded = case.cls.load(folder, **case.load_overrides)
    again = loaded.predict(case.good)
    assert [case.comparable(r) for r in again] == [case.comparable(r) for r in results[:-1]]

    bundle = model.export(tmp_path / "bundle.zip", int8=True, **case.export_kwargs)
    assert read_bundle(bundle).manifest["application"] in (app, case.cls.__name__)

    assert model.get_params().keys() == given.keys()
    for key, value in given.items():  # the constructor's arguments survive fit, predict, save and export
        assert model.get_params()[key] is value or model.get_params()[key] == value, key


@pytest.mark.parametrize("app", APPS)
def test_load_missing_path_is_a_coded_error(app, tmp_path):
    cls = importlib.import_module(f".case_{app}", __package__).APP_CLASS
    with pytest.raises(DeepSeekAppsError) as info:
        cls.load(tmp_path / "no-such-model")
    assert info.value.code in (2001, 2002, 3001)

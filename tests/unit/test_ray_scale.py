"""The Ray engine without a cluster: nothing imports ray but core.scale, the coded errors, the part folder."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from deepseek_apps.core.scale.parts import PartStore, part_name
from deepseek_apps.errors import DeepSeekAppsError, ErrorCode

APPS = ["inspector", "contracts", "recommender", "fraud", "classifier"]


def test_package_apps_and_cli_do_not_import_ray():
    code = (
        "import sys, deepseek_apps, deepseek_apps.cli\n"
        + "".join(f"import deepseek_apps.apps.{a}\nimport deepseek_apps.apps.{a}.ray_adapter\n" for a in APPS)
        + "deepseek_apps.cli.build_parser()\n"
        + "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_missing_ray_is_a_coded_error_with_the_pip_command(monkeypatch):
    from deepseek_apps.core.scale.session import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(DeepSeekAppsError) as info:
        require_ray()
    assert info.value.code == ErrorCode.RAY_NOT_INSTALLED == 2006
    assert "pip install 'deepseek-apps[ray]'" in info.value.hint


def test_unknown_engine_is_refused_before_any_work(tmp_path):
    from deepseek_apps.apps.contracts.app import ContractParser
    from deepseek_apps.apps.contracts.batch import analyze_files

    (tmp_path / "c.txt").write_text("This Agreement is made between A and B.")
    with pytest.raises(DeepSeekAppsError) as info:
        analyze_files(ContractParser(clauses=False), [tmp_path], tmp_path / "out", engine="spark", progress=False)
    assert info.value.code == ErrorCode.RAY_ENGINE_UNKNOWN and info.value.value == "spark"


def test_parts_commit_once_and_read_back(tmp_path):
    store = PartStore(tmp_path / "out")
    with store.locked():
        name = part_name(["a", "b"])
        assert name == part_name(["a", "b"]) != part_name(["b", "a"])
        assert store.commit(name, ["a", "b"], [{"k": "a"}, {"k": "b"}])
        assert not store.commit(name, ["a", "b"], [{"k": "a"}, {"k": "b"}])  # a retried chunk: no second copy
        assert store.done_keys() == {"a", "b"}
        assert store.records(key="k") == {"a": {"k": "a"}, "b": {"k": "b"}}
        # keys written, records not yet renamed into place (a kill in between): not done
        (store.folder / f"{part_name(['c'])}.keys.json").write_text(json.dumps({"keys": ["c"]}))
        assert store.done_keys() == {"a", "b"}


def test_parts_holding_an_item_twice_are_refused(tmp_path):
    store = PartStore(tmp_path)
    store.commit("part-1", ["a"], [{"k": "a"}])
    store.commit("part-2", ["a"], [{"k": "a"}])
    with pytest.raises(DeepSeekAppsError) as info:
        store.done_keys()
    assert info.value.code == ErrorCode.RAY_PARTS_INCONSISTENT


def test_a_file_is_not_a_part_folder_and_a_second_job_is_locked_out(tmp_path):
    (tmp_path / "scores.jsonl").write_text("")
    with pytest.raises(DeepSeekAppsError) as info, PartStore(tmp_path / "scores.jsonl").locked():
        pass
    assert info.value.code == ErrorCode.RAY_OUTPUT_NOT_FOLDER
    store = PartStore(tmp_path / "out")
    with store.locked(), pytest.raises(DeepSeekAppsError) as info, PartStore(tmp_path / "out").locked():
        pass
    assert info.value.code == ErrorCode.OUTPUT_LOCKED


def test_cli_flags_map_to_the_batch_functions():
    from deepseek_apps.cli import build_parser
    from deepseek_apps.core.scale.options import engine_options, train_engine_options

    parser = build_parser()
    args = parser.parse_args(["fraud", "score", "t.csv", "--out", "o", "--engine", "ray", "--address", "auto"])
    assert engine_options(args) == {"engine": "ray", "address": "auto", "workers": None}
    assert args.batch_size == 10000  # the command's own --batch-size is kept
    args = parser.parse_args(["inspector", "train", "--data", "d", "--out", "o", "--engine", "ray", "--workers", "3"])
    assert train_engine_options(args) == {"workers": 3, "use_gpu": False, "address": None, "max_failures": 2}
    for argv in (["recommender", "score", "--out", "o"], ["contracts", "score", "x", "--out", "o"]):
        assert parser.parse_args(argv).engine == "local"

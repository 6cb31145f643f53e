"""The training page's helpers: the command, live output of a real subprocess, the final metrics."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
sys.path.insert(0, str(DASHBOARDS))

from _train import APPLICATIONS, TrainRun, last_json, model_hint, train_command  # noqa: E402

from deepseek_apps.errors import ErrorCode, InvalidInputError  # noqa: E402


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def _until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the subprocess"
        time.sleep(0.02)


def test_the_command_is_the_cli_train_verb_with_the_contract_flags():
    command = train_command("fraud", "synthetic:500", "/tmp/m", 3, 7, python="py")
    assert command == ["py", "-m", "deepseek_apps.cli", "fraud", "train", "--data", "synthetic:500", "--out", "/tmp/m",
                       "--epochs", "3", "--seed", "7"]  # fmt: skip
    with pytest.raises(InvalidInputError) as info:
        train_command("classifier", "d", "o", 1, 0)
    assert info.value.code == ErrorCode.INVALID_ARGUMENT and "classifier" in str(info.value)


@pytest.mark.parametrize("app", list(APPLICATIONS))
def test_every_application_cli_accepts_the_command(app):
    from deepseek_apps.cli import build_parser

    args = build_parser().parse_args(train_command(app, "data", "out", 2, 5)[3:])
    assert (args.data, args.out, args.epochs, args.seed) == ("data", "out", 2, 5)


def test_last_json_reads_the_final_metrics_line_or_an_indented_block():
    assert last_json(["epoch 1", '{"auc": 0.9, "loss": 0.1}', ""]) == {"auc": 0.9, "loss": 0.1}
    assert last_json(["log", "{", '  "auc": 0.9', "}"]) == {"auc": 0.9}
    assert last_json(['{"auc": 0.9}', "done"]) is None  # the JSON must end the output
    assert last_json(["[1, 2]"]) is None and last_json([]) is None


def test_a_run_streams_stdout_and_the_latest_progress_bar_before_it_ends(tmp_path):
    go_on = tmp_path / "go_on"
    run = TrainRun.start(
        _python(f"""
            import json, os, sys, time
            print("loading data")
            sys.stderr.write("\\r 10%|#   | 1/10"); sys.stderr.write("\\r 50%|##  | 5/10"); sys.stderr.flush()
            while not os.path.exists({str(go_on)!r}):
                time.sleep(0.02)
            sys.stderr.write("\\r100%|####| 10/10\\n")
            sys.stderr.write("warning: few samples\\n")
            print("epoch 1: loss 0.25")
            print(json.dumps({{"val_auc": 0.875, "epochs": 1}}))
        """)
    )
    try:
        _until(lambda: run.stdout == ["loading data"] and run.progress == "50%|##  | 5/10")
        assert run.running and run.returncode is None and run.metrics is None
        go_on.touch()
        assert run.wait(timeout=30) == 0
    finally:
        run.stop()
    assert run.returncode == 0 and not run.running
    assert run.stdout == ["loading data", "epoch 1: loss 0.25", '{"val_auc": 0.875, "epochs": 1}']
    assert run.metrics == {"val_auc": 0.875, "epochs": 1}
    assert run.progress == "warning: few samples"  # the latest stderr line
    assert list(run.stderr_tail) == ["100%|####| 10/10", "warning: few samples"]  # bars redrawn in place are not kept


def test_a_failed_run_keeps_its_error_and_has_no_metrics():
    run = TrainRun.start(_python("import sys; print('start'); sys.exit('error: DSA-2001 data not found')"))
    assert run.wait(timeout=30) == 1
    assert run.metrics is None and list(run.stderr_tail) == ["error: DSA-2001 data not found"]


def test_stop_ends_a_running_job():
    run = TrainRun.start(_python("import time; print('training', flush=True); time.sleep(120)"))
    _until(lambda: run.stdout == ["training"])
    started = time.monotonic()
    run.stop()
    run.wait(timeout=10)
    assert time.monotonic() - started < 10 and run.returncode not in (None, 0)


def test_model_hint_names_the_page_and_the_load_call():
    hint = model_hint("recommender", "/tmp/din")
    assert "DIN Recommender" in hint and "DINRecommender.load('/tmp/din')" in hint


def test_the_page_shows_its_controls_and_waits_for_data():
    pytest.importorskip("streamlit", reason="the dashboard extra is not installed")
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(DASHBOARDS / "Home.py"), default_timeout=60).run()
    at.switch_page("pages/7_Train.py").run()
    assert not at.exception
    assert at.title[0].value == "Train a model"
    assert len(at.selectbox(key="app").options) == len(APPLICATIONS) and at.button(key="train").disabled  # no data
    at.selectbox(key="app").set_value("fraud").run()
    assert at.text_input(key="data_fraud").value == "synthetic:2000" and not at.button(key="train").disabled
    assert "deepseek-apps fraud train --data synthetic:2000" in at.code[0].value

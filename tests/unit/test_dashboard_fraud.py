"""The fraud page renders, moves the threshold consistently and explains an alert (AppTest)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit", reason="the dashboard extra is not installed (pip install deepseek-apps[dashboard])")
pytest.importorskip("torch_geometric", reason="the fraud extra is not installed (pip install deepseek-apps[fraud])")

from streamlit.testing.v1 import AppTest  # noqa: E402

HOME = Path(__file__).resolve().parents[2] / "dashboards" / "Home.py"
PAGE = "pages/6_Fraud_Detector.py"


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_fraud_page_threshold_and_explanation():
    at = AppTest.from_file(str(HOME), default_timeout=120).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    m = _metrics(at)
    assert int(m["Transactions"]) == 2000 and int(m["Alerts"]) > 0
    assert any(s.value == "Top alerts" for s in at.subheader)
    assert at.image  # the explained alert's subgraph picture
    low = int(m["Alerts"])
    at.slider(key="threshold").set_value(0.99).run()
    assert not at.exception
    assert int(_metrics(at)["Alerts"]) <= low


def test_fraud_page_opens_the_users_own_model(tmp_path):
    from deepseek_apps import FraudDetector

    FraudDetector().save(tmp_path / "mine")
    at = AppTest.from_file(str(HOME), default_timeout=120).run()
    at.switch_page(PAGE).run()
    at.text_input(key="model_path").set_value(str(tmp_path / "missing")).run()
    assert at.error and not at.exception  # a bad path is said, not raised
    at.text_input(key="model_path").set_value(str(tmp_path / "mine")).run()
    assert not at.exception, at.exception
    assert int(_metrics(at)["Transactions"]) == 2000

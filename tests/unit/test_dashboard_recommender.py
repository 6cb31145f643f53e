"""The DIN recommender dashboard page renders a user's top-k, attention and service stats."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit", reason="the dashboard extra is not installed (pip install deepseek-apps[dashboard])")
pytest.importorskip("pandas", reason="the dashboard extra is not installed (pip install deepseek-apps[dashboard])")

from streamlit.testing.v1 import AppTest  # noqa: E402

PAGE = Path(__file__).resolve().parents[2] / "dashboards" / "pages" / "5_DIN_Recommender.py"


def test_page_shows_top_k_attention_and_metrics():
    at = AppTest.from_file(str(PAGE), default_timeout=60).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["Test AUC"]) > 0.5 and float(metrics["Test GAUC"]) > 0.5
    assert metrics["Latency p50 / p99"].endswith("ms")
    top, heat, history = at.dataframe[0].value, at.dataframe[1].value, at.dataframe[2].value
    assert len(top) == 10 and list(top["rank"]) == list(range(1, 11))
    assert heat.shape[0] == 10 and heat.shape[1] == 20
    assert len(history) > 0
    at.slider(key="k").set_value(5).run()
    assert len(at.dataframe[0].value) == 5
    assert "%" in {m.label: m.value for m in at.metric}["Cache hit rate"]

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


def _write_csv(log, path: Path) -> Path:
    import csv

    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["user_id", "item_id", "timestamp", "category", "segment"])
        for u, i, t in zip(log.users, log.items, log.timestamps):
            w.writerow([u, i, int(t), log.item_categories[int(i)], log.user_features["segment"][int(u)]])
    return path


def test_page_opens_your_own_model_and_log(tmp_path):
    from deepseek_apps import DINRecommender
    from deepseek_apps.apps.recommender.synthetic import generate_log

    log = generate_log(n_users=15, n_items=30, events_per_user=(6, 10), seed=2)
    folder = DINRecommender(max_len=8).fit(log, epochs=1, progress=False).save(tmp_path / "model")
    csv_path = _write_csv(log, tmp_path / "clicks.csv")
    at = AppTest.from_file(str(PAGE), default_timeout=60).run()
    at.text_input(key="model_path").set_value(str(folder)).run()
    assert not at.exception and not at.error
    at.text_input(key="log_path").set_value(str(csv_path)).run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert 0.0 <= float(metrics["Your log: AUC"]) <= 1.0 and metrics["Your log: held-out samples"] == "30"
    assert list(at.selectbox(key="user").options) == [str(u) for u in range(15)]
    assert len(at.dataframe[0].value) == 10


def test_page_reports_a_model_path_that_does_not_exist(tmp_path):
    at = AppTest.from_file(str(PAGE), default_timeout=60).run()
    at.text_input(key="model_path").set_value(str(tmp_path / "nowhere")).run()
    assert not at.exception and at.error and "DSA-2001" in at.error[0].value

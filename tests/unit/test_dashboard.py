"""The Streamlit pages render and compute consistent results (``streamlit.testing`` AppTest)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

pytest.importorskip("streamlit", reason="the dashboard extra is not installed (pip install deepseek-apps[dashboard])")
pytest.importorskip("pandas", reason="the dashboard extra is not installed (pip install deepseek-apps[dashboard])")

from streamlit.testing.v1 import AppTest  # noqa: E402

HOME = Path(__file__).resolve().parents[2] / "dashboards" / "Home.py"
INSPECTOR_PAGE = "pages/1_Quality_Inspector.py"
TIMEOUT = 60  # the first run loads the model; the machine may be busy


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.fixture(scope="module")
def inspector_app() -> AppTest:
    """The inspector page after clicking "Use generated samples" (4 samples, seed 3)."""
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    at.switch_page(INSPECTOR_PAGE).run()
    assert not at.exception
    at.slider(key="n_samples").set_value(4)
    at.number_input(key="seed").set_value(3)
    at.button(key="use_samples").click().run()
    return at


def test_home_renders_and_lists_the_applications():
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.title[0].value == "deepseek-apps"
    text = " ".join(e.value for e in [*at.subheader, *at.markdown])
    for name in ("QualityInspector", "ContractParser", "DINRecommender", "FraudDetector"):
        assert name in text


def test_inspector_page_waits_for_input():
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    at.switch_page(INSPECTOR_PAGE).run()
    assert not at.exception
    assert not [s for s in at.subheader if s.value == "Results"]
    assert at.info


def test_generated_samples_give_consistent_results(inspector_app: AppTest):
    at = inspector_app
    assert not at.exception
    assert not at.error
    assert [s.value for s in at.subheader] == ["Results"]
    metrics = _metrics(at)
    assert int(metrics["Images"]) == 4
    assert int(metrics["OK"]) + int(metrics["NG"]) == 4
    assert int(metrics["Errors"]) == 0
    assert float(metrics["Mean latency (ms)"]) > 0
    verdicts = [m.value for m in at.markdown if "**OK**" in m.value or "**NG**" in m.value]
    assert len(verdicts) == 4
    assert sum("**NG**" in v for v in verdicts) == int(metrics["NG"])


def _defect_total(at: AppTest) -> int:
    caption = next(m.value for m in at.markdown if m.value.startswith("**Defects per class**"))
    return int(caption.split("(")[1].split()[0])


def test_higher_confidence_keeps_or_drops_defects(inspector_app: AppTest):
    at = inspector_app
    at.slider(key="confidence").set_value(0.05).run()
    low, low_ng = _defect_total(at), int(_metrics(at)["NG"])
    at.slider(key="confidence").set_value(0.99).run()
    assert not at.exception
    assert [s.value for s in at.subheader] == ["Results"]  # the batch survives the rerun
    high, high_ng = _defect_total(at), int(_metrics(at)["NG"])
    assert high <= low
    assert high_ng <= low_ng
    assert int(_metrics(at)["OK"]) + high_ng == 4


def test_uploads_report_unreadable_files_without_crashing():
    from deepseek_apps.datasets.synthetic import generate_samples

    png = io.BytesIO()
    generate_samples(1, seed=5)[0].image.save(png, format="PNG")
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    at.switch_page(INSPECTOR_PAGE).run()
    at.file_uploader(key="uploads").set_value(
        [("good.png", png.getvalue(), "image/png"), ("broken.png", b"not an image", "image/png")]
    ).run()
    assert not at.exception
    metrics = _metrics(at)
    assert (metrics["Images"], metrics["Errors"]) == ("2", "1")
    assert int(metrics["OK"]) + int(metrics["NG"]) == 1
    assert len(at.error) == 1 and "broken.png" in at.error[0].value


def test_inspector_page_opens_the_users_model_and_explains_a_bad_path(tmp_path):
    from deepseek_apps import QualityInspector

    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    at.switch_page(INSPECTOR_PAGE).run()
    assert at.text_input(key="model_path").value.endswith("neu_det_int8.zip")  # the shipped model by default
    at.text_input(key="model_path").set_value(str(tmp_path / "no-such-model")).run()
    assert not at.exception
    assert len(at.error) == 1 and "no-such-model" in at.error[0].value and "DSA-2001" in at.error[0].value
    at.text_input(key="model_path").set_value(str(QualityInspector.default_weights)).run()  # PyTorch weights
    assert not at.exception and not at.error
    at.slider(key="n_samples").set_value(2)
    at.button(key="use_samples").click().run()
    assert not at.exception and int(_metrics(at)["Images"]) == 2
    assert any("PyTorch weights" in c.value for c in at.caption)


LAB_PAGE = "pages/2_Optimization_Lab.py"


def test_optimization_lab_takes_the_users_dataset_folder():
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    at.switch_page(LAB_PAGE).run()
    at.radio(key="source").set_value("Your dataset folder").run()
    assert at.text_input(key="data_path") is not None and at.selectbox(key="data_format").value == "voc"
    at.button(key="run").click().run()  # no folder typed yet: told so, nothing runs
    assert not at.exception and len(at.error) == 1 and "dataset folder" in at.error[0].value


def test_optimization_lab_runs_a_level_and_reports():
    import glob
    import tempfile

    bundles_before = set(glob.glob(f"{tempfile.gettempdir()}/dsa-lab-*/level*.zip"))
    at = AppTest.from_file(str(HOME), default_timeout=300).run()
    at.switch_page(LAB_PAGE).run()
    assert not at.exception
    assert at.checkbox(key="fold").value is False  # GroupNorm -> BatchNorm is opt-in
    at.selectbox(key="level").set_value(1)
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    assert any(s.value == "Report" for s in at.subheader)
    labels = {m.label: m.value for m in at.metric}
    assert labels["Speed-up at batch 1"].endswith("x") and labels["Smaller by"].endswith("x")
    assert any("graph optimisation" in m.value for m in at.markdown)
    at.selectbox(key="level").set_value(0)
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    runs = at.session_state["lab_runs"]
    assert [r["name"] for r in runs] == ["run 1: level 1", "run 2: level 0"]  # both points on the chart
    assert all(r["p50_ms_b1"] > 0 for r in runs)
    assert at.session_state["lab"]["bundle_bytes"][:2] == b"PK"  # the download is the zip bundle itself
    assert set(glob.glob(f"{tempfile.gettempdir()}/dsa-lab-*/level*.zip")) == bundles_before  # no temp bundle left

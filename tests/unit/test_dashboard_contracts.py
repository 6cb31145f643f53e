"""The contract page analyses a generated sample and shows a bad upload's error code (AppTest)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

pytest.importorskip("streamlit", reason="the dashboard extra is not installed (pip install deepseek-apps[dashboard])")
pytest.importorskip("pypdfium2", reason="the contracts extra is not installed (pip install deepseek-apps[contracts])")
pytest.importorskip("docx", reason="the contracts extra is not installed (pip install deepseek-apps[contracts])")

from streamlit.testing.v1 import AppTest  # noqa: E402

HOME = Path(__file__).resolve().parents[2] / "dashboards" / "Home.py"
PAGE = "pages/3_Contract_Parser.py"
TIMEOUT = 60


def _page() -> AppTest:
    """The contract page in its rules-only mode (the clause model's load is not what is tested here)."""
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    at.toggle(key="use_clauses").set_value(False).run()
    assert not at.exception
    return at


def test_home_links_the_contract_page():
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    text = " ".join(m.value for m in at.markdown)
    assert "ContractParser" in [s.value for s in at.subheader]
    assert "In progress" not in text


@pytest.mark.parametrize("fmt", ["Text PDF", "Word (DOCX)"])
def test_generated_sample_shows_facts_text_and_download(fmt):
    from deepseek_apps.apps.contracts.synthetic import generate_contract

    at = _page()
    assert at.info and not at.dataframe  # waits for input
    at.selectbox(key="sample_format").set_value(fmt)
    at.number_input(key="sample_seed").set_value(4)
    at.button(key="use_sample").click().run()
    assert not at.exception, at.exception
    assert not at.error and not at.warning
    truth = generate_contract(seed=4)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Kind"] == ("pdf" if fmt == "Text PDF" else "docx") and int(metrics["Pages"]) >= 1
    facts = at.dataframe[0].value
    assert list(facts.columns) == ["label", "kind", "value", "page", "evidence", "derived"]
    law = truth.facts_of("GOVERNING_LAW")[0]
    assert ((facts["label"] == "GOVERNING_LAW") & (facts["value"] == law.value)).any()
    assert set(facts["label"]) >= {"PARTY", "DATE", "MONEY", "DURATION"}
    assert len(at.dataframe[1].value) >= 3  # relations: roles, payment, law, term/renewal/notice
    parties = set(facts.loc[facts["label"] == "PARTY", "value"])
    assert {" ".join(f.text.split()) for f in truth.facts_of("PARTY")} <= {" ".join(p.split()) for p in parties}
    highlighted = " ".join(h.proto.body for h in at.get("html"))
    analysis = at.session_state["contract"]["analysis"]
    shown = [f for f in analysis.facts if f.label in ("PARTY", "DATE", "MONEY", "DURATION", "GOVERNING_LAW")]
    for fact in shown:
        if not fact.derived:
            assert f">{html.escape(fact.evidence.text)}</mark>" in highlighted
    assert highlighted.count("<mark") >= len(shown)
    download = at.get("download_button")
    assert len(download) == 1 and download[0].proto.label == "Download JSON"
    summary = " ".join(m.value for m in at.markdown)
    assert law.value in summary


def test_bad_upload_shows_the_error_code_not_a_traceback():
    at = _page()
    at.file_uploader(key="contract_upload").set_value(("broken.pdf", b"%PDF-1.4\n garbage", "application/pdf")).run()
    assert not at.exception, at.exception
    assert len(at.error) == 1
    assert "DSA-1303" in at.error[0].value and "broken.pdf" in at.error[0].value
    assert not at.dataframe


def test_highlight_helpers_escape_text_and_skip_mismatched_spans():
    import sys

    sys.path.insert(0, str(HOME.parent))
    from _contracts import highlight_html

    from deepseek_apps import ContractParser

    text = "ACME <b>Corp</b> agrees. This Agreement is governed by the laws of the State of Ohio."
    analysis = ContractParser(clauses=False).analyze(text.encode(), filename="a.txt")
    rendered = highlight_html(text, analysis)
    assert "&lt;b&gt;" in rendered and "<b>" not in rendered
    assert ">the State of Ohio</mark>" in rendered
    moved = analysis.model_copy(deep=True)
    moved.facts_of("GOVERNING_LAW")[0].evidence.start += 3  # evidence no longer matches the text: not drawn
    assert highlight_html(text, moved).count("<mark") == rendered.count("<mark") - 1
    assert json.loads(analysis.to_json())["governing_law"] == ["Ohio"]


def test_clauses_are_underlined_and_tabled_when_present():
    import sys

    sys.path.insert(0, str(HOME.parent))
    from _contracts import clauses_frame, highlight_html, legend_html

    from deepseek_apps import ContractParser
    from deepseek_apps.apps.contracts.results import Clause, Evidence

    text = (
        "1. Fees. The Buyer shall pay USD 5,000. 2. Law. This Agreement is governed by the laws of the State of Ohio."
    )
    analysis = ContractParser(clauses=False).analyze(text.encode(), filename="a.txt")
    start = text.index("This Agreement")
    evidence = Evidence(page=1, start=start, end=len(text) - 1, text=text[start:-1])
    analysis.clauses = [Clause(category="Governing Law", confidence=0.91, evidence=evidence)]
    rendered = highlight_html(text, analysis)
    assert rendered.count('title="Clause: Governing Law (0.91)"') >= 2  # cut around the law entity inside it
    assert ">the State of Ohio</mark></span>" in rendered  # the entity inside the clause keeps its mark
    assert "clause" in legend_html(True) and "clause" not in legend_html(False)
    table = clauses_frame(analysis)
    assert table.to_dict("records") == [
        {"category": "Governing Law", "confidence": 0.91, "page": 1, "evidence": text[start:-1]}
    ]


def test_clause_toggle_on_runs_the_model_or_says_why_not():
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    at.switch_page(PAGE).run()
    assert at.toggle(key="use_clauses").value is True
    at.selectbox(key="sample_format").set_value("Plain text")
    at.button(key="use_sample").click().run()
    assert not at.exception, at.exception
    analysis = at.session_state["contract"]["analysis"]
    if analysis.stage == "rules+model":  # a clause model is shipped: its clauses are tabled
        assert not at.warning
        assert len(at.dataframe) == (3 if analysis.clauses else 2)
    else:  # none could be loaded: the rules ran and the page says why
        assert "Clause model unavailable (DSA-" in at.warning[0].value
        assert not analysis.clauses and len(at.dataframe) == 2


def test_a_missing_model_path_falls_back_to_the_rules_with_a_note(tmp_path):
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    at.switch_page(PAGE).run()
    at.text_input(key="contract_model_path").set_value(str(tmp_path / "no-model")).run()
    at.button(key="use_sample").click().run()
    assert not at.exception, at.exception
    assert len(at.warning) == 1 and "DSA-2002" in at.warning[0].value and "rules only" in at.warning[0].value
    assert at.session_state["contract"]["analysis"].stage == "rules"

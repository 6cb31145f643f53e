"""Contract rules, normalisation, synthetic ground truth, results schema and the facade."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepseek_apps.apps.contracts.app import ContractParser
from deepseek_apps.apps.contracts.evaluate import gold_parties, score_fields, split_contracts
from deepseek_apps.apps.contracts.normalize import add_duration, parse_date, parse_duration, parse_money
from deepseek_apps.apps.contracts.results import ContractAnalysis, schema_json
from deepseek_apps.apps.contracts.synthetic import generate_contract, generate_contracts
from deepseek_apps.apps.contracts.synthetic.render import render_docx, render_pdf
from deepseek_apps.errors import ErrorCode, InvalidInputError, MissingResourceError, ModelFormatError

pytest.importorskip("pypdfium2", reason="the contracts extra is not installed")

SCHEMA = (
    Path(__file__).resolve().parents[2] / "deepseek_apps" / "assets" / "contracts" / "contract_analysis.schema.json"
)


@pytest.mark.parametrize(
    "text, iso",
    [
        ("May 8, 2014", "2014-05-08"),
        ("the 22nd day of August, 2005", "2005-08-22"),
        ("10th day of January 2000", "2000-01-10"),
        ("Sept. 1, 2010", "2010-09-01"),
        ("2019-09-30", "2019-09-30"),
        ("5/8/14", None),  # reads day-first and month-first: ambiguous without the document's evidence
        ("February 30, 2020", None),
    ],
)
def test_parse_date(text, iso):
    assert parse_date(text) == iso


def test_parse_money_and_duration():
    assert parse_money("$1,250,000.00").model_dump() == {"amount": 1250000.0, "currency": "USD", "amount_high": None}
    assert (parse_money("EUR 50,000").amount, parse_money("EUR 50,000").currency) == (50000.0, "EUR")
    assert parse_money("£2.5 million").amount == 2500000.0
    assert parse_money("no money here") is None
    assert parse_duration("sixty (60) days").model_dump() == {"value": 60, "unit": "day", "days": None}
    assert parse_duration("twelve months").model_dump() == {"value": 12, "unit": "month", "days": None}
    assert add_duration("2016-02-29", {"value": 1, "unit": "year"}) == "2017-02-28"


def test_synthetic_ground_truth_is_exact():
    for contract in generate_contracts(5, seed=0):
        assert contract.facts, contract.seed
        for fact in contract.facts:
            assert contract.text[fact.start : fact.end] == fact.text
    assert generate_contract(3).text == generate_contract(3).text


def _expected(contract) -> dict:
    truth = {f.label: f.value for f in contract.facts if f.label != "PARTY"}
    expiration = truth.get("EXPIRATION_DATE")
    if expiration is None:
        start = truth.get("EFFECTIVE_DATE", truth["AGREEMENT_DATE"])
        expiration = add_duration(start, truth["TERM"])
    return {
        "parties": [(f.value["name"], [f.value["role"]]) for f in contract.facts_of("PARTY")],
        "dates": (truth["AGREEMENT_DATE"], truth.get("EFFECTIVE_DATE"), expiration),
        "law": truth["GOVERNING_LAW"],
        "money": truth["MONEY"],
        "percent": truth["PERCENT"],
        "renewal": truth["RENEWAL_TERM"],
        "notice": truth["NOTICE_PERIOD"],
    }


def _found(result: ContractAnalysis) -> dict:
    money = result.facts_of("MONEY")[0].value.model_dump(exclude_none=True)
    return {
        "parties": [(p.name, p.roles) for p in result.parties],
        "dates": (result.dates.agreement, result.dates.effective, result.dates.expiration),
        "law": result.governing_law[0],
        "money": money,
        "percent": result.facts_of("PERCENT")[0].value,
        "renewal": result.facts_of("DURATION", "renewal_term")[0].value.model_dump(exclude_none=True),
        "notice": result.facts_of("DURATION", "notice_period")[0].value.model_dump(exclude_none=True),
    }


@pytest.mark.parametrize("fmt", ["txt", "pdf", "docx"])
def test_rules_recover_synthetic_ground_truth(fmt):
    parser = ContractParser(clauses=False)
    render = {"txt": lambda c: c.text.encode(), "pdf": render_pdf, "docx": render_docx}[fmt]
    for contract in generate_contracts(6, seed=20):
        result = parser.analyze(render(contract), filename=f"c.{fmt}")
        assert _found(result) == _expected(contract), (fmt, contract.seed)


def test_spans_and_pages_are_exact_on_text():
    contract = generate_contract(seed=4)
    result = ContractParser(clauses=False).analyze(contract.text.encode(), filename="c.txt")
    law = contract.facts_of("GOVERNING_LAW")[0]
    evidence = result.facts_of("GOVERNING_LAW")[0].evidence
    assert (evidence.start, evidence.end, evidence.text, evidence.page) == (law.start, law.end, law.text, 1)
    truth_spans = {(f.start, f.end) for f in contract.facts if f.label == "PARTY"}
    assert {(p.evidence.start, p.evidence.end) for p in result.parties} == truth_spans
    assert any(d.term == "Confidential Information" for d in result.definitions)


def test_pdf_evidence_points_at_the_right_page():
    contract = generate_contract(seed=7)
    parser = ContractParser(clauses=False)
    pdf = render_pdf(contract)
    document = parser.read(pdf, filename="c.pdf")
    result = parser.analyze_document(document)
    law = result.facts_of("GOVERNING_LAW")[0].evidence
    assert document.text[law.start : law.end] == law.text
    assert law.page == len(document.pages) > 1


def test_user_glossary_extends_matching(tmp_path):
    text = b"The Reseller shall keep the price list under wraps. Payment of 500 widgets-dollars is due."
    glossary = tmp_path / "terms.json"
    glossary.write_text(json.dumps({"terms": [{"term": "under wraps", "category": "Confidentiality", "synonyms": []}]}))
    plain = ContractParser(clauses=False).analyze(text, filename="a.txt")
    extended = ContractParser(clauses=False, legal_terms_db=glossary).analyze(text, filename="a.txt")
    assert not plain.facts_of("LEGAL_TERM", "Confidentiality")
    assert extended.facts_of("LEGAL_TERM", "Confidentiality")[0].evidence.text == "under wraps"


def test_bad_glossary_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"terms": [{"term": 3}]}')
    with pytest.raises(ModelFormatError) as e:
        ContractParser(clauses=False, legal_terms_db=bad).analyze(b"text", filename="a.txt")
    assert e.value.code == ErrorCode.CONTRACT_LEGAL_TERMS_INVALID
    bad.write_text("{not json")
    with pytest.raises(ModelFormatError):
        ContractParser(clauses=False, legal_terms_db=bad).analyze(b"text", filename="a.txt")
    with pytest.raises(MissingResourceError):
        ContractParser(clauses=False, legal_terms_db=tmp_path / "none.json").analyze(b"text", filename="a.txt")


def test_output_formats_and_schema():
    contract = generate_contract(seed=9)
    data = contract.text.encode()
    model = ContractParser(clauses=False).analyze(data, filename="c.txt")
    as_dict = ContractParser(clauses=False, output_format="dict").analyze(data, filename="c.txt")
    as_json = ContractParser(clauses=False, output_format="json").analyze(data, filename="c.txt")
    markdown = ContractParser(clauses=False, output_format="markdown").analyze(data, filename="c.txt")
    assert isinstance(model, ContractAnalysis) and model.stage == "rules"
    assert json.loads(as_json)["parties"] == as_dict["parties"] == model.to_dict()["parties"]
    assert ContractAnalysis.model_validate_json(as_json).dates == model.dates
    assert "## Parties" in markdown and model.parties[0].name in markdown
    assert SCHEMA.read_text() == schema_json(), "regenerate the published schema file"
    schema = json.loads(SCHEMA.read_text())
    assert {"document", "parties", "dates", "facts"} <= set(schema["properties"])
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(as_dict, schema)


def test_analyze_many_records_failures(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text(generate_contract(seed=1).text)
    results = ContractParser(clauses=False).analyze_many([good, tmp_path / "missing.pdf"], on_error="record")
    assert isinstance(results[0], ContractAnalysis)
    assert results[0].error is None
    assert isinstance(results[1], ContractAnalysis) and results[1].error["code"] == ErrorCode.FILE_NOT_FOUND
    assert results[1].document.name == str(tmp_path / "missing.pdf")
    with pytest.raises(MissingResourceError):
        ContractParser(clauses=False).analyze_many([tmp_path / "missing.pdf"])


def test_predict_takes_named_bytes_and_records_bad_ones():
    text = generate_contract(seed=3).text.encode()
    results = ContractParser(clauses=False).predict([("a.txt", text), ("x.pdf", b"%PDF-1.4 junk")], errors="record")
    assert results[0].document.name == "a.txt" and results[0].error is None
    assert results[1].document.name == "x.pdf" and results[1].error["code"] == ErrorCode.CONTRACT_PDF_CORRUPT
    assert results[1].to_dict()["error"]["hint"]


def test_field_scoring_counts():
    contract = generate_contract(seed=5)
    result = ContractParser(clauses=False).analyze(contract.text.encode(), filename="c.txt")
    names = "; ".join(f'{p.name} ("{p.roles[0]}")' for p in result.parties)
    row = {
        "Agreement Date-Answer": "1/1/99",
        "Effective Date-Answer": float("nan"),
        "Expiration Date-Answer": "Perpetual",
        "Governing Law-Answer": result.governing_law[0],
        "Parties-Answer": names,
    }
    scores = score_fields([(result, row)])
    assert scores["Agreement Date"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 1, "fn": 1}
    assert scores["Governing Law"]["f1"] == 1.0 and scores["Parties (names)"]["f1"] == 1.0
    assert scores["Expiration Date"]["tp"] + scores["Expiration Date"]["fn"] == 0  # "Perpetual" is skipped
    assert gold_parties('Acme Inc. ("Company"); Bob ("Consultant")') == (["Acme Inc", "Bob"], ["Company", "Consultant"])
    train, val = split_contracts([f"c{i}" for i in range(10)], 0.2, seed=0)
    assert len(val) == 2 and not set(train) & set(val)
    assert split_contracts([f"c{i}" for i in range(10)][::-1], 0.2, seed=0)[1] == val


def test_missing_data_dir_is_a_clear_error(tmp_path):
    from deepseek_apps.apps.contracts.evaluate import load_labels

    with pytest.raises(MissingResourceError) as e:
        load_labels(tmp_path)
    assert e.value.code == ErrorCode.CONTRACT_DATA_NOT_FOUND


def test_benchmark_runner_smoke(tmp_path):
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "contracts_rules.py"
    spec = importlib.util.spec_from_file_location("contracts_rules_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    report = bench.main(["--no-quality", "--docs", "2", "--ocr-pages", "0", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "contracts_rules.json").read_text())
    assert saved["speed"]["pages"] == report["speed"]["pages"] >= 2
    assert saved["speed"]["read_pypdfium2_pages_per_s"] > 0
    assert "pages/s" in (tmp_path / "contracts_rules.md").read_text()


def test_ocr_language_option_accepts_installed_languages():
    from deepseek_apps.apps.contracts.reading.ocr import check_language, installed_languages, tesseract_available

    if not tesseract_available():
        pytest.skip("tesseract is not installed (apt-get install tesseract-ocr)")
    check_language("eng")
    if "chi_sim" in installed_languages():
        check_language("eng+chi_sim")


@pytest.mark.parametrize(
    "module",
    [
        "app",
        "reading.documents",
        "reading.pages",
        "evaluate",
        "glossary",
        "normalize",
        "parties",
        "relations",
        "results",
        "rules",
        "synthetic.generate",
        "model_io",
        "clauses.data",
        "clauses.decode",
        "clauses.eval",
        "clauses.lexical",
        "clauses.train",
    ],  # fmt: skip
)
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"deepseek_apps.apps.contracts.{module}"))
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("fmt", ["txt", "pdf"])
def test_relations_on_synthetic_contracts(fmt):
    render = {"txt": lambda c: c.text.encode(), "pdf": render_pdf}[fmt]
    for contract in generate_contracts(4, seed=40):
        result = ContractParser(clauses=False).analyze(render(contract), filename=f"c.{fmt}")
        parties = [f.value for f in contract.facts_of("PARTY")]  # the second party pays the first
        pays = [r for r in result.relations if r.kind == "pays"]
        assert [(r.subject, r.object) for r in pays] == [(parties[1]["name"], parties[0]["name"])]
        assert pays[0].value.model_dump(exclude_none=True) == contract.facts_of("MONEY")[0].value
        roles = {(r.subject, r.object) for r in result.relations if r.kind == "party_role"}
        assert roles == {(p["name"], p["role"]) for p in parties}
        triple = next(r for r in result.relations if r.kind == "term_renewal_notice").value
        assert triple["renewal_term"] == contract.facts_of("RENEWAL_TERM")[0].value
        assert triple["notice_period"] == contract.facts_of("NOTICE_PERIOD")[0].value


def test_constructor_stores_arguments_and_clause_model_is_a_deprecated_alias(tmp_path):
    parser = ContractParser(clause_model=tmp_path / "a", clauses=False)
    assert parser.get_params()["clause_model"] == tmp_path / "a" and parser.get_params()["model_path"] is None
    assert set(vars(parser)) == set(parser.get_params())  # nothing but the arguments
    with pytest.warns(DeprecationWarning), pytest.raises(MissingResourceError) as err:
        parser.source()
    assert err.value.code == ErrorCode.DIRECTORY_NOT_FOUND
    with pytest.raises(InvalidInputError) as err:
        ContractParser(model_path=tmp_path / "a", clause_model=tmp_path / "b").source()
    assert err.value.code == ErrorCode.CONTRACT_BAD_OPTION


def test_shipped_model_loads_by_name_with_its_metrics():
    parser = ContractParser.pretrained(clauses=False)
    assert parser.model_path.name == "contracts" and parser.metrics_["val_window_aupr"] > 0.5
    assert parser.get_params()["clauses"] is False

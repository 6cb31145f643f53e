"""Contract Parser: upload a contract (or generate one), see its facts with evidence in the text.

The clause model is the shipped one unless a model folder (``ContractParser.save`` /
``deepseek-apps contracts train``) or an exported bundle (``contracts export``) is named.

The document is read once (text layer, Word, plain text or OCR) and analysed; the page shows
the body text with every extracted entity highlighted where it was read, the facts, the
relations between them and, when the clause model ran, the clauses. Bad files show the
library's error code and hint instead of a traceback.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import streamlit as st

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # when this page is run on its own
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _contracts import clauses_frame, facts_frame, highlight_html, legend_html, relations_frame  # noqa: E402

from deepseek_apps import ContractAnalysis, ContractParser  # noqa: E402
from deepseek_apps.errors import DeepSeekAppsError  # noqa: E402

UPLOAD_TYPES = ["pdf", "docx", "txt", "png", "jpg", "jpeg", "tif", "tiff"]
SAMPLE_FORMATS = ("Text PDF", "Word (DOCX)", "Scanned PDF (OCR)", "Plain text", "Page image (PNG, OCR)")

st.set_page_config(page_title="Contract Parser · deepseek-apps", layout="wide")


@st.cache_resource(show_spinner="Loading the contract parser…")
def load_parser(clauses: bool, model_path: str = "") -> tuple[ContractParser | None, dict | None]:
    """One parser per server process, mode and model (glossary and clause model load once).

    ``model_path``: a model folder or bundle ("" = the shipped model). Returns (parser, None),
    or (None, error) when the model cannot be loaded.
    """
    try:
        if model_path and clauses:
            return ContractParser.load(model_path), None
        parser = ContractParser(clauses=clauses)
        parser.legal_terms()
        if clauses:
            parser.tagger()
    except DeepSeekAppsError as exc:
        return None, exc.to_dict()
    return parser, None


def choose_parser(clauses: bool, model_path: str = "") -> tuple[ContractParser, str | None]:
    """The clause-model parser when asked for and loadable, else the rule-based one and a note why."""
    note = None
    if clauses:
        parser, error = load_parser(True, model_path.strip())
        if parser is not None:
            return parser, None
        note = f"Clause model unavailable (DSA-{error['code']}: {error['message']}); showing the rules only."
    parser, error = load_parser(False)
    if parser is None:
        st.error(f"The parser could not start: DSA-{error['code']}: {error['message']}. {error['hint']}")
        st.stop()
    return parser, note


def sample_file(fmt: str, seed: int) -> tuple[bytes, str]:
    """A generated contract rendered in ``fmt``: (file bytes, file name)."""
    from deepseek_apps.apps.contracts.synthetic import generate_contract
    from deepseek_apps.apps.contracts.synthetic.render import render_docx, render_image, render_pdf, render_scan

    contract = generate_contract(seed=seed)
    if fmt == "Text PDF":
        return render_pdf(contract), f"sample_{seed}.pdf"
    if fmt == "Word (DOCX)":
        return render_docx(contract), f"sample_{seed}.docx"
    if fmt == "Scanned PDF (OCR)":
        return render_scan(contract, seed=seed), f"sample_{seed}_scan.pdf"
    if fmt == "Plain text":
        return contract.text.encode("utf-8"), f"sample_{seed}.txt"
    return render_image(contract), f"sample_{seed}_page1.png"


def analyse(data: bytes, name: str, clauses: bool, model_path: str = "") -> dict:
    """Read and analyse one file; a library error is kept for display instead of raised."""
    parser, note = choose_parser(clauses, model_path)
    started = time.perf_counter()
    try:
        document = parser.read(data, filename=name)
        analysis = parser.analyze_document(document)
    except DeepSeekAppsError as exc:
        return {"name": name, "error": exc.to_dict(), "note": note}
    analysis.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    return {"name": name, "text": document.text, "analysis": analysis, "note": note}


def controls() -> None:
    """Input widgets; stores a new result in session state when there is new input.

    The clause model is loaded on the first analysis that asks for it, not when the page opens.
    """
    left, right = st.columns([3, 2])
    with left:
        upload = st.file_uploader("Upload a contract", type=UPLOAD_TYPES, key="contract_upload")
        clauses = st.toggle("Detect clauses (learned model)", value=True, key="use_clauses")
        model_path = st.text_input(
            "Clause model (folder, bundle or shipped name; empty = the shipped default)",
            value="",
            key="contract_model_path",
            placeholder="e.g. fast, runs/my_contracts or contracts_int8.zip",
            help="A folder written by `deepseek-apps contracts train` / ContractParser.save, "
            "a bundle written by `deepseek-apps contracts export`, or a shipped model's name "
            "(`deepseek-apps models`: `fast` is the 3-layer model, about 1.6x faster).",
        )
    with right:
        fmt = st.selectbox("Generated sample format", SAMPLE_FORMATS, key="sample_format")
        seed = st.number_input("Sample seed", min_value=0, value=0, step=1, key="sample_seed")
        clicked = st.button("Analyse generated sample", key="use_sample", type="primary")
    upload_id = (upload.name, upload.size) if upload else None
    with st.spinner("Reading and analysing…"):
        if clicked:
            data, name = sample_file(fmt, int(seed))
            st.session_state["contract"] = analyse(data, name, clauses, model_path)
        elif upload_id and upload_id != st.session_state.get("contract_upload_id"):
            st.session_state["contract"] = analyse(upload.getvalue(), upload.name, clauses, model_path)
    st.session_state["contract_upload_id"] = upload_id


def show_error(name: str, error: dict) -> None:
    value = f" (value: `{error['value']}`)" if error.get("value") else ""
    st.error(f"**{name}** could not be analysed — error DSA-{error['code']}: {error['message']}{value}")
    if error.get("hint"):
        st.info(error["hint"])


def show_document(analysis: ContractAnalysis) -> None:
    doc = analysis.document
    cols = st.columns(6)
    cols[0].metric("Kind", doc.kind)
    cols[1].metric("Pages", doc.n_pages)
    cols[2].metric("OCR pages", doc.ocr_pages)
    cols[3].metric("Tables", doc.n_tables)
    cols[4].metric("Characters", f"{doc.characters:,}")
    cols[5].metric("Time (ms)", f"{analysis.elapsed_ms:.0f}")
    parties = "; ".join(f"**{p.name}** ({', '.join(p.roles) or 'no alias'})" for p in analysis.parties)
    dates = ", ".join(f"{k} `{v}`" for k, v in analysis.dates.model_dump().items() if v)
    st.markdown(
        f"Parties: {parties or 'none found'}  \nKey dates: {dates or 'none found'}  \n"
        f"Governing law: {'; '.join(analysis.governing_law) or 'not found'}  \nStage: `{analysis.stage}`"
    )


def show_tables(analysis: ContractAnalysis) -> None:
    st.subheader("Facts")
    st.dataframe(facts_frame(analysis), hide_index=True, width="stretch")
    st.subheader("Relations")
    st.dataframe(relations_frame(analysis), hide_index=True, width="stretch")
    st.subheader("Clauses")
    if analysis.clauses:
        st.dataframe(clauses_frame(analysis), hide_index=True, width="stretch")
    else:
        st.caption("No clauses in this analysis (the clause model did not run or found none).")


def main() -> None:
    st.title("Contract Parser")
    st.caption(
        "Contracts (PDF, scans, Word, text) in; parties, dates, money, durations, governing law and clauses out, "
        "each with its page and the text it was read from."
    )
    controls()
    result = st.session_state.get("contract")
    if not result:
        st.info("Upload a contract or click **Analyse generated sample**.")
        return
    if result.get("note"):
        st.warning(result["note"])
    if "error" in result:
        show_error(result["name"], result["error"])
        return
    analysis: ContractAnalysis = result["analysis"]
    st.subheader(f"Document: {result['name']}")
    show_document(analysis)
    st.download_button(
        "Download JSON",
        data=analysis.to_json(indent=2),
        file_name=f"{Path(result['name']).stem}.json",
        mime="application/json",
        key="download_json",
    )
    st.subheader("Text")
    st.html(legend_html(bool(analysis.clauses)))
    with st.container(height=480):
        st.html(highlight_html(result["text"], analysis))
    show_tables(analysis)


main()

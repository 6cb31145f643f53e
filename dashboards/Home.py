"""Home page of the deepseek-apps dashboards: ``streamlit run dashboards/Home.py``.

Each application gets a page under ``dashboards/pages/``; the pages use only the public
``deepseek_apps`` API.
"""

from __future__ import annotations

import streamlit as st

import deepseek_apps

APPLICATIONS = (
    (
        "QualityInspector",
        "Available",
        "Visual defect inspection for industrial surfaces: images in, defects (class, box, confidence) "
        "and an OK/NG verdict out. Ships with an embedded int8 model for the six NEU-DET steel-defect classes.",
        "pages/1_Quality_Inspector.py",
    ),
    (
        "ContractParser",
        "Available",
        "Contracts (PDF, scans, Word, text) in; parties, dates, money, terms, governing law and clauses out, "
        "each with its page and the text it was read from, as JSON with a published schema.",
        "pages/3_Contract_Parser.py",
    ),
    (
        "DINRecommender",
        "Available",
        "Deep Interest Network ranking from user behaviour sequences, with the past items behind each "
        "recommendation. Ships with a small demo model trained on a synthetic shop.",
        "pages/5_DIN_Recommender.py",
    ),
    (
        "FraudDetector",
        "Available",
        "Fraud scores for transactions from a graph of accounts, merchants and payments: a calibrated alert, "
        "the reasons behind each score and the neighbourhood that drove it.",
        "pages/6_Fraud_Detector.py",
    ),
)

st.set_page_config(page_title="deepseek-apps", layout="wide")

st.title("deepseek-apps")
st.markdown(
    "Small, fast models for factories, banks and shops — each one a single Python class with "
    "`fit`, `predict` and `export`, compressed to run on a CPU or an edge device. "
    f"Version `{deepseek_apps.__version__}`."
)

st.subheader("Applications")
for i, (name, status, description, page) in enumerate(APPLICATIONS):
    if i % 2 == 0:
        row = st.columns(2)
    with row[i % 2], st.container(border=True, height="stretch"):
        badge = ":green-badge[Available]" if status == "Available" else f":gray-badge[{status}]"
        st.subheader(name, anchor=False)
        st.markdown(badge)
        st.markdown(description)
        if page:
            st.page_link(page, label=f"Open {name}", icon=":material/arrow_forward:")

st.subheader("Tools")
st.page_link(
    "pages/2_Optimization_Lab.py", label="Optimization lab: compress a model level by level", icon=":material/speed:"
)
st.page_link(
    "pages/7_Train.py", label="Train: fit any application on your own data, live", icon=":material/model_training:"
)

st.caption("Pick a page in the sidebar, or run the CLI: `deepseek-apps dashboard`.")

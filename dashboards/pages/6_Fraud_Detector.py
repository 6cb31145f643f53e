"""Fraud detector: score distribution, the threshold trade-off, top alerts and their explanation.

Opens the shipped model or your own (a folder from ``deepseek-apps fraud train`` or a bundle
from ``export``), scores the labelled held-out part of its stream or your uploaded
transactions (CSV / Parquet / JSON lines, scored after the model's history), then lets the
threshold move.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from deepseek_apps import FraudDetector
from deepseek_apps.errors import DeepSeekAppsError

st.set_page_config(page_title="Fraud detector · deepseek-apps", layout="wide")
st.title("Fraud detector")
st.caption("Transactions scored on the graph of accounts and merchants; alerts fire at the calibrated threshold.")


@st.cache_resource(show_spinner="Loading the model…")
def detector(model_path: str) -> FraudDetector:
    """The shipped model (empty path) or the folder / bundle at ``model_path``."""
    if model_path:
        return FraudDetector.load(model_path)
    det = FraudDetector()
    det.threshold_  # noqa: B018  (load the shipped model now)
    return det


def read_upload(file) -> pd.DataFrame:
    """An uploaded transactions file as a DataFrame (CSV, Parquet or JSON lines, by its name)."""
    name = file.name.lower()
    if name.endswith((".parquet", ".pq")):
        return pd.read_parquet(file)
    if name.endswith((".jsonl", ".ndjson")):
        return pd.read_json(file, lines=True)
    return pd.read_csv(file)


def threshold_curve(labels: np.ndarray, scores: np.ndarray, points: int = 60) -> pd.DataFrame:
    """Precision, recall and false-positive rate at thresholds spread over the score quantiles."""
    grid = np.unique(np.quantile(scores, np.linspace(0, 1, points)))
    rows = []
    for t in grid:
        alert = scores >= t
        tp = int((alert & (labels == 1)).sum())
        rows.append(
            {
                "threshold": float(t),
                "precision": tp / max(int(alert.sum()), 1),
                "recall": tp / max(int((labels == 1).sum()), 1),
                "false-positive rate": int((alert & (labels == 0)).sum()) / max(int((labels == 0).sum()), 1),
            }
        )
    return pd.DataFrame(rows).set_index("threshold")


model_path = st.text_input(
    "Model folder or bundle (empty: the shipped model)",
    value="",
    key="model_path",
    help="a folder written by `deepseek-apps fraud train` / FraudDetector.save, or a bundle from `export`",
)
try:
    det = detector(model_path.strip())
except DeepSeekAppsError as exc:  # shown to the user, not swallowed
    st.error(f"Could not open the model: {exc}")
    st.stop()


def entity_view(det: FraudDetector) -> None:
    """Entity models: test-split scores, then one entity's neighbourhood with a relation filter."""
    graph = det.entity_model_.graph
    ids = [str(graph.ids[i]) for i in det.split_["test"]]
    scored = det.score_entities(ids)
    frame = pd.DataFrame({"id": ids, "score": [s.score for s in scored], "label": graph.label[det.split_["test"]]})
    st.metric("Test AUPRC", f"{det.evaluate(None).auprc:.3f}", help=f"model: {det.arch_}")
    st.dataframe(frame.sort_values("score", ascending=False).head(50), hide_index=True)
    entity = st.selectbox("Entity", frame.sort_values("score", ascending=False)["id"].head(200), key="entity")
    exp = det.explain(entity)
    relations = st.multiselect("Relations", exp.relations(), default=exp.relations(), key="relations")
    st.image(
        exp.draw(relations=relations), caption="edges coloured by relation; red = high score, ringed = labelled fraud"
    )
    st.dataframe(pd.DataFrame([n.to_dict() for n in exp.neighbours if n.relation in relations]), hide_index=True)
    st.dataframe(pd.DataFrame([r.to_dict() for r in exp.attributes]), hide_index=True)


if det.__dict__.get("entity_model_") is not None:
    entity_view(det)
    st.stop()
source = st.radio(
    "Transactions",
    ["Held-out end of the model's stream (labelled)", "Upload a file"],
    key="source",
    horizontal=True,
)
uploaded = None
if source.startswith("Upload"):
    file = st.file_uploader(
        "Transactions with source, destination, timestamp, amount (and label)",
        type=["csv", "parquet", "jsonl"],
        key="upload",
    )
    if file is None:
        st.info("Upload transactions (CSV, Parquet or JSON lines) to score them after the model's history.")
        st.stop()
    uploaded = read_upload(file)
    if "transaction_id" not in uploaded:
        uploaded["transaction_id"] = [f"row{i}" for i in range(len(uploaded))]
    uploaded["transaction_id"] = uploaded["transaction_id"].astype(str)
    try:
        results = det.predict(uploaded, errors="record")
    except DeepSeekAppsError as exc:  # shown to the user, not swallowed
        st.error(f"Could not score the file: {exc}")
        st.stop()
    failed = [r for r in results if r.error is not None]
    if failed:
        st.warning(f"{len(failed)} row(s) could not be scored, first: {failed[0].id}: {failed[0].error['message']}")
    keep = [r.error is None for r in results]
    uploaded = uploaded[keep].reset_index(drop=True)
    scores = [r for r in results if r.error is None]
    labels = uploaded["label"].to_numpy(dtype=float) if "label" in uploaded else np.full(len(uploaded), np.nan)
    meta = uploaded.rename(columns={"transaction_id": "id"})
else:
    index = det.split_["test"]
    ids = [str(i) for i in det.history_.ids[index]]
    scores = det.score_history(ids)
    labels = det.history_.label[index].astype(float)
    meta = pd.DataFrame(
        {
            "source": det.history_.src[index],
            "destination": det.history_.dst[index],
            "amount": det.history_.amount[index],
        }
    )

table = pd.DataFrame(
    {
        "id": [s.id for s in scores],
        "source": meta["source"].astype(str).to_numpy(),
        "destination": meta["destination"].astype(str).to_numpy(),
        "amount": meta["amount"].to_numpy(),
        "score": [s.score for s in scores],
        "label": labels,
        "reasons": [", ".join(r.feature for r in s.reasons) for s in scores],
    }
)
threshold = st.slider(
    "Alert threshold",
    0.0,
    1.0,
    float(det.threshold_),
    0.0005,
    format="%.4f",
    key="threshold",
    help=f"Calibrated for a {det.target_fpr_:.1%} false-positive rate on validation: {det.threshold_:.4f}",
)
alerts = table["score"] >= threshold
has_labels = not np.isnan(labels).all()
cols = st.columns(4)
cols[0].metric("Transactions", len(table))
cols[1].metric("Alerts", int(alerts.sum()))
if has_labels:
    known = ~np.isnan(labels)
    y, a = labels[known], alerts.to_numpy()[known]
    cols[2].metric("Precision", f"{(y[a] == 1).mean() if a.any() else 0.0:.3f}")
    cols[3].metric("Recall", f"{(a[y == 1]).mean() if (y == 1).any() else 0.0:.3f}")

left, right = st.columns(2)
with left:
    st.subheader("Score distribution")
    bins = np.linspace(0, 1, 21)
    hist = {"legitimate": np.histogram(table["score"][labels == 0], bins)[0]} if has_labels else {}
    if has_labels:
        hist["fraud"] = np.histogram(table["score"][labels == 1], bins)[0]
    else:
        hist["all"] = np.histogram(table["score"], bins)[0]
    st.bar_chart(pd.DataFrame(hist, index=[f"{b:.2f}" for b in bins[:-1]]))
with right:
    st.subheader("Precision / recall / FPR as the threshold moves")
    if has_labels:
        st.line_chart(threshold_curve(labels[~np.isnan(labels)], table["score"].to_numpy()[~np.isnan(labels)]))
    else:
        st.info("The file has no labels: no precision or recall to show.")

st.subheader("Top alerts")
top = table[alerts].sort_values("score", ascending=False).head(25)
st.dataframe(top, hide_index=True, width="stretch")
if len(top):
    chosen = st.selectbox("Explain an alert", top["id"].tolist(), key="alert")
    exp = det.explain(chosen, uploaded)
    pic, detail = st.columns([1, 1])
    pic.image(exp.draw(480), caption=f"{chosen}: its account (left), merchant (right) and their recent transactions")
    detail.markdown("**Features that drove the score**")
    detail.dataframe(pd.DataFrame([r.to_dict() for r in exp.features]), hide_index=True)
    detail.markdown("**Neighbouring transactions** (influence = score with it minus without it)")
    detail.dataframe(pd.DataFrame([n.to_dict() for n in exp.neighbours[:10]]), hide_index=True)
else:
    st.info("No alert at this threshold.")

"""DIN recommender: pick a user, see their history, the top-k and which past items drove each.

Opens the shipped model or your own (a folder from ``deepseek-apps recommender train`` or a
bundle from ``export``). With your own behaviour log (uploaded, or a path on this machine)
the page lists that log's users, ranks with their clicks from the log as history and shows
the model's AUC / GAUC on the log's last clicks. Uses only the public API:
``DINRecommender``, ``RecommendationService`` (in-process cache + dynamic batcher) and the
recommender's log loader.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from deepseek_apps import DINRecommender, RecommendationService
from deepseek_apps.apps.recommender.loaders import load_log
from deepseek_apps.errors import DeepSeekAppsError


def _has_mpl() -> bool:
    try:
        import matplotlib  # noqa: F401  (pandas' background_gradient needs it)
    except ImportError:
        return False
    return True


st.set_page_config(page_title="DIN recommender · deepseek-apps", layout="wide")
st.title("DIN recommender")
st.caption("Deep Interest Network ranking: each recommendation attends to the past items that make it relevant.")


@st.cache_resource(show_spinner="Loading the model…")
def load(model_path: str) -> tuple[DINRecommender, RecommendationService]:
    """The shipped model (empty path) or the folder / bundle at ``model_path``, and a service around it."""
    rec = DINRecommender.load(model_path) if model_path else DINRecommender()
    return rec, RecommendationService(rec)


@st.cache_data(show_spinner="Reading the log…")
def read_log(data: bytes, name: str, user_columns: str) -> dict:
    """A log's clicks per user (raw item ids, time order), from the file's bytes and name."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(data)
        log = load_log(path, user_columns=[c.strip() for c in user_columns.split(",") if c.strip()])
    frame = pd.DataFrame({"user": log.users, "item": log.items, "t": log.timestamps}).sort_values("t", kind="stable")
    return {u: g["item"].tolist() for u, g in frame.groupby("user", sort=True)}


@st.cache_data(show_spinner="Evaluating on your log…")
def evaluate_on(model_path: str, data: bytes, name: str, user_columns: str) -> dict:
    """AUC / GAUC / log loss of the model on the log's last clicks (leave-last-out, as in training)."""
    rec, _ = load(model_path)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(data)
        cols = [c.strip() for c in user_columns.split(",") if c.strip()]
        return rec.evaluate(load_log(path, user_columns=cols)).to_dict()


model_path = st.text_input(
    "Model folder or bundle (empty: the shipped model)",
    value="",
    key="model_path",
    help="a folder written by `deepseek-apps recommender train` / DINRecommender.save, or a bundle from `export`",
)
try:
    rec, service = load(model_path.strip())
except DeepSeekAppsError as exc:  # shown to the user, not swallowed
    st.error(f"Could not open the model: {exc}")
    st.stop()
catalog = rec.catalog_

with st.expander("Your behaviour log (optional)"):
    file = st.file_uploader(
        "CSV or Parquet with user_id, item_id, timestamp (and category, user feature columns)",
        type=["csv", "parquet"],
        key="upload",
    )
    log_path = st.text_input("…or a log file on this machine", value="", key="log_path")
    user_columns = st.text_input("User feature columns (comma-separated)", value="", key="user_columns")
log_bytes, log_name = None, ""
if file is not None:
    log_bytes, log_name = file.getvalue(), file.name
elif log_path.strip():
    try:
        log_bytes, log_name = Path(log_path.strip()).read_bytes(), Path(log_path.strip()).name
    except OSError as exc:
        st.error(f"Could not read the log: {exc}")
        st.stop()
histories = None
if log_bytes is not None:
    try:
        histories = read_log(log_bytes, log_name, user_columns)
        own = evaluate_on(model_path.strip(), log_bytes, log_name, user_columns)
    except DeepSeekAppsError as exc:
        st.error(f"Could not use the log: {exc}")
        st.stop()
users = [u.item() if hasattr(u, "item") else u for u in histories] if histories is not None else list(catalog.user_ids)

left, right = st.columns([1, 3])
with left:
    user = st.selectbox("User", users, index=0, key="user")
    k = st.slider("Top k", 3, 20, 10, key="k")
    shown = st.slider("History items in the heatmap", 5, rec.max_len_, min(20, rec.max_len_), key="shown")

if histories is not None:  # the log's clicks are the history: ask the model directly, not the cached service
    recs = rec.recommend(user, k=k, history=histories[user])
else:
    recs = service.recommend(user, k=k)
history = recs[0].history if recs else []

with right:
    test = rec.metrics_.get("test") or {}
    m = st.columns(4)
    m[0].metric("Test AUC", f"{test.get('auc', float('nan')):.3f}")
    m[1].metric("Test GAUC", f"{test.get('gauc', float('nan')):.3f}")
    stats = service.stats()
    m[2].metric("Cache hit rate", f"{stats.hit_rate:.0%}")
    m[3].metric("Latency p50 / p99", f"{stats.p50_ms:.1f} / {stats.p99_ms:.1f} ms")
    if histories is not None:
        o = st.columns(3)
        o[0].metric("Your log: AUC", f"{own['auc']:.3f}")
        o[1].metric("Your log: GAUC", f"{own['gauc']:.3f}")
        o[2].metric("Your log: held-out samples", f"{own['samples']:,}")

st.subheader("Top recommendations", anchor=False)
table = pd.DataFrame(
    [
        {
            "rank": r.rank,
            "item": str(r.item_id),
            "title": r.title,
            "category": r.category,
            "score": round(r.score, 4),
            "driven by": ", ".join(f"{item} ({w:.2f})" for item, w in r.top_history(3)),
        }
        for r in recs
    ]
)
st.dataframe(table, hide_index=True, use_container_width=True)

st.subheader("Attention over the history (most recent on the right)", anchor=False)
if history:
    cols = [f"{i}: {item}" for i, item in enumerate(history)][-shown:]
    heat = pd.DataFrame(
        [r.attention[-shown:] for r in recs], index=[f"#{r.rank} {r.item_id}" for r in recs], columns=cols
    )
    st.dataframe(
        heat.style.background_gradient(cmap="Blues", axis=None) if _has_mpl() else heat, use_container_width=True
    )
else:
    st.info("This user has no history: scores come from the items alone (cold start).")

st.subheader("History", anchor=False)
st.dataframe(
    pd.DataFrame(
        [
            {"position": i, "item": str(item), "title": catalog.item_titles.get(catalog.item_index(item), "")}
            for i, item in enumerate(history)
        ]
    ),
    hide_index=True,
    use_container_width=True,
)

"""DIN recommender: pick a user, see their history, the top-k and which past items drove each.

Uses only the public API: ``DINRecommender`` (the embedded demo model unless a model
folder is given) and ``RecommendationService`` (in-process cache + dynamic batcher).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from deepseek_apps import DINRecommender, RecommendationService


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
    rec = DINRecommender(model_path=model_path or None)
    return rec, RecommendationService(rec)


model_path = st.text_input("Model folder or bundle (empty: the embedded demo model)", value="", key="model_path")
rec, service = load(model_path)
catalog = rec.catalog_
users = list(catalog.user_ids)

left, right = st.columns([1, 3])
with left:
    user = st.selectbox("User", users, index=0, key="user")
    k = st.slider("Top k", 3, 20, 10, key="k")
    shown = st.slider("History items in the heatmap", 5, rec.max_len, min(20, rec.max_len), key="shown")

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

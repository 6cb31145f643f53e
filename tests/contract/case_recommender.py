"""The recommender's tiny task for the shared contract test: a generated shop, one epoch."""

from __future__ import annotations

from deepseek_apps import DINRecommender
from deepseek_apps.apps.recommender.synthetic import generate_log

from .cases import ContractCase

APP_CLASS = DINRecommender


def make_case(tmp_path) -> ContractCase:
    log = generate_log(n_users=24, n_items=40, n_categories=4, events_per_user=(6, 12), seed=0)
    return ContractCase(
        cls=DINRecommender,
        params={"max_len": 8, "item_features": 8, "arch": "din"},
        fit_data=log,
        fit_kwargs={"epochs": 1, "seed": 0, "progress": False},
        good=[0, {"user_id": 1, "candidates": [0, 1, 2, 3, 4], "k": 3}, (2, None, 4, [5, 6, 7]), "new-user"],
        bad={"user_id": 1, "k": 0},
        eval_data=log,
        comparable=lambda ranking: ranking.item_ids,
        load_overrides={"max_len": 8},
    )

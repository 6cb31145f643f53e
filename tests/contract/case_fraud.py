"""The fraud detector's tiny task for the shared contract test: a generated stream, two GNN epochs."""

from __future__ import annotations

import numpy as np

from deepseek_apps import FraudDetector
from deepseek_apps.apps.fraud.model import GNNConfig
from deepseek_apps.apps.fraud.synthetic import generate_transactions, to_frame
from deepseek_apps.apps.fraud.trees import TreeConfig

from .cases import ContractCase

APP_CLASS = FraudDetector


def _later(n: int, seed: int, prefix: str, after: float):
    """``n`` labelled transactions with fresh ids, all after time ``after``."""
    table = generate_transactions(n, fraud_rate=0.1, seed=seed)
    table.ids = np.array([f"{prefix}{i}" for i in range(n)], dtype=object)
    table.time = table.time - table.time.min() + after + 3600
    return table


def make_case(tmp_path) -> ContractCase:
    history = generate_transactions(1000, fraud_rate=0.08, seed=1)
    rows = to_frame(_later(6, 3, "new", float(history.time.max()))).drop(columns="label").to_dict("records")
    bad = {**rows[-1], "transaction_id": "bad0", "amount": float("nan")}
    return ContractCase(
        cls=FraudDetector,
        params={
            "arch": "trees",
            "target_fpr": 0.05,
            "gnn": GNNConfig(hidden=8, num_neighbors=(5, 5)),
            "trees": TreeConfig(n_estimators=30, early_stopping=10),
        },
        fit_data=history,
        fit_kwargs={"epochs": 2, "seed": 0, "progress": False},
        good=rows[:-1],
        bad=bad,
        eval_data=_later(300, 4, "eval", float(history.time.max())),
        comparable=lambda s: (s.id, round(s.score, 4), s.alert),
    )

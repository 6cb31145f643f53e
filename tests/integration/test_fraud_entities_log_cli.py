"""`deepseek-apps fraud train --transactions --entity-labels` and score / evaluate / explain on the model it writes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from deepseek_apps.apps.fraud.synthetic import generate_transactions, to_frame
from deepseek_apps.cli import main


def test_log_cli_train_score_evaluate_explain(tmp_path, capsys):
    table = generate_transactions(3000, fraud_rate=0.06, seed=5)
    to_frame(table).to_csv(tmp_path / "tx.csv", index=False)  # its transaction labels are ignored
    fraud = table.label == 1
    bad = set(table.src[fraud])
    accounts = sorted(set(table.src))
    labels = pd.DataFrame({"account_id": accounts, "label": [int(a in bad) for a in accounts]})
    labels.to_csv(tmp_path / "mules.csv", index=False)
    model = tmp_path / "runs" / "mules"
    args = [
        "fraud",
        "train",
        "--transactions",
        str(tmp_path / "tx.csv"),
        "--entity-labels",
        str(tmp_path / "mules.csv"),
    ]
    assert main([*args, "--out", str(model), "--arch", "trees", "--epochs", "3"]) == 0
    trained = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert trained["arch"] == "trees" and trained["test"]["trees"]["auprc"] > np.mean(labels["label"])

    ids = labels["account_id"].head(4).rename("id")
    ids.to_frame().to_csv(tmp_path / "ids.csv", index=False)
    out = tmp_path / "scores.jsonl"
    assert main(["fraud", "score", str(tmp_path / "ids.csv"), "--model", str(model), "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in lines] == ids.tolist() and {r["kind"] for r in lines} == {"account"}

    capsys.readouterr()
    assert main(["fraud", "evaluate", "--model", str(model), "--data", str(tmp_path / "mules.csv")]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "trees"

    who = sorted(bad)[0]
    picture = tmp_path / "who.png"
    assert main(["fraud", "explain", who, "--model", str(model), "--picture", str(picture)]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert explained["id"] == who and picture.stat().st_size > 0


def test_entity_labels_with_nodes_is_refused_with_a_code(tmp_path, capsys):
    args = ["fraud", "train", "--transactions", "tx.csv", "--nodes", "n.csv", "--entity-labels", "m.csv"]
    assert main([*args, "--out", str(tmp_path / "m")]) == 2
    assert "[DSA-1000]" in capsys.readouterr().err

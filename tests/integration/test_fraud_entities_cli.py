"""`deepseek-apps fraud train --nodes --edges` and score / evaluate / explain on the entity model it writes."""

from __future__ import annotations

import json

import pytest

from deepseek_apps.apps.fraud.entities.synthetic import generate_entities
from deepseek_apps.cli import main


def test_entity_cli_train_score_evaluate_explain(tmp_path, capsys):
    nodes, edges = generate_entities(500, seed=4, fraud_rate=0.1)
    nodes.to_csv(tmp_path / "nodes.csv", index=False)
    for name, frame in edges.items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    model = tmp_path / "runs" / "companies"
    args = ["fraud", "train", "--nodes", str(tmp_path / "nodes.csv"), "--out", str(model), "--epochs", "3"]
    args += [x for name in edges for x in ("--edges", f"{name}={tmp_path / f'{name}.csv'}")]
    assert main([*args, "--directed", "transfer"]) == 0
    trained = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(trained["test"]) == {"attributes", "trees", "gnn", "hybrid", "blend"}

    ids = nodes["id"].head(4)
    ids.to_frame().to_csv(tmp_path / "ids.csv", index=False)
    out = tmp_path / "scores.jsonl"
    assert main(["fraud", "score", str(tmp_path / "ids.csv"), "--model", str(model), "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in lines] == ids.tolist() and all(r["model"] == trained["arch"] for r in lines)

    capsys.readouterr()
    assert main(["fraud", "evaluate", "--model", str(model), "--data", str(tmp_path / "nodes.csv")]) == 0
    assert 0.0 <= json.loads(capsys.readouterr().out)["auprc"] <= 1.0

    busy = edges["transfer"]["src"].value_counts().index[0]
    picture = tmp_path / "e.png"
    assert main(["fraud", "explain", busy, "--model", str(model), "--picture", str(picture)]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == busy and picture.stat().st_size > 0


def test_entity_cli_bad_edges_spec_is_coded():
    from deepseek_apps.apps.fraud.entities.cli import edge_specs
    from deepseek_apps.errors import InvalidInputError

    with pytest.raises(InvalidInputError) as err:
        edge_specs(["invest", "sale=sale.csv"])
    assert err.value.code == 1218

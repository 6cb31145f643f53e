"""Transaction input validation: clear, coded errors or documented handling, nothing dropped."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch_geometric", reason="the fraud extra is not installed (pip install deepseek-apps[fraud])")
pd = pytest.importorskip("pandas", reason="the fraud extra is not installed")

from deepseek_apps.apps.fraud.data import (  # noqa: E402
    adjacency_labels,
    from_adjacency,
    load_entities,
    load_relations,
    load_transactions,
)
from deepseek_apps.errors import InvalidInputError, MissingResourceError  # noqa: E402


def _rows(**over):
    base = {
        "transaction_id": ["t1", "t2", "t3"],
        "source": ["a", "b", "a"],
        "destination": ["m", "m", "n"],
        "timestamp": [10.0, 20.0, 30.0],
        "amount": [1.0, 2.0, 3.0],
    }
    base.update(over)
    return base


@pytest.mark.parametrize(
    "change, code",
    [
        ({"amount": [1.0, float("nan"), 3.0]}, 1204),
        ({"timestamp": ["2024-01-01", "not a date", "2024-01-02"]}, 1202),
        ({"transaction_id": ["t1", "t1", "t3"]}, 1205),
        ({"label": [0, 2, 1]}, 1207),
        ({"source": ["a", None, "a"]}, 1201),
    ],
)
def test_bad_rows_raise_coded_errors_naming_the_rows(change, code):
    with pytest.raises(InvalidInputError) as exc:
        load_transactions(_rows(**change))
    assert exc.value.code == code
    assert exc.value.value is not None and exc.value.hint


def test_missing_column_names_it_and_mapping_fixes_it():
    frame = _rows()
    frame["acct"] = frame.pop("source")
    with pytest.raises(InvalidInputError) as exc:
        load_transactions(frame)
    assert exc.value.code == 1201 and "source" in str(exc.value)
    table = load_transactions(frame, columns={"source": "acct"})
    assert table.src.tolist() == ["a", "b", "a"]


def test_out_of_order_rows_are_sorted_stably_or_refused():
    rows = _rows(timestamp=[30.0, 10.0, 10.0])
    table = load_transactions(rows)
    assert table.ids.tolist() == ["t2", "t3", "t1"] and table.n_reordered == 3
    assert table.row.tolist() == [1, 2, 0]
    with pytest.raises(InvalidInputError) as exc:
        load_transactions(rows, order="error")
    assert exc.value.code == 1203


def test_iso_dates_labels_extra_columns_and_files(tmp_path):
    rows = _rows(timestamp=["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z", "2024-01-02"], label=[0, None, 1])
    rows["risk"] = [0.1, 0.2, 0.3]
    table = load_transactions(rows)
    assert table.time[1] - table.time[0] == 3600
    assert np.isnan(table.label[1]) and table.label[2] == 1
    assert list(table.extra) == ["risk"]
    pd.DataFrame(rows).to_csv(tmp_path / "t.csv", index=False)
    assert load_transactions(tmp_path / "t.csv").ids.tolist() == ["t1", "t2", "t3"]
    pytest.importorskip("pyarrow")
    pd.DataFrame(rows).to_parquet(tmp_path / "t.parquet")
    assert len(load_transactions(tmp_path / "t.parquet")) == 3
    with pytest.raises(MissingResourceError):
        load_transactions(tmp_path / "nope.csv")


def test_adjacency_entities_and_relations(tmp_path):
    sp = pytest.importorskip("scipy.sparse")
    adj = sp.coo_matrix((np.ones(4), ([0, 1, 1, 2], [1, 0, 2, 1])), shape=(3, 3)).tocsr()
    sp.save_npz(tmp_path / "A.npz", adj)
    np.savetxt(tmp_path / "y.csv", [0, 1, 0])
    table = from_adjacency(tmp_path / "A.npz", tmp_path / "y.csv")
    assert len(table) == 4 and table.time is None
    assert adjacency_labels(tmp_path / "y.csv").tolist() == [0, 1, 0]
    ents = load_entities({"entity_id": ["a", "b"], "age": [3, 4], "label": [0, 1]})
    assert ents.features.shape == (2, 1) and ents.label.tolist() == [0, 1]
    rel = load_relations({"pays": _rows(), "transfers": _rows(timestamp=[5.0, 15.0, 25.0])})
    assert len(rel) == 6 and set(rel.channel) == {"pays", "transfers"}
    assert np.all(np.diff(rel.time) >= 0)


def test_unreadable_input_and_too_few_labels():
    from deepseek_apps import FraudDetector
    from deepseek_apps.errors import ModelFormatError

    with pytest.raises(ModelFormatError) as exc:
        load_transactions(42)
    assert exc.value.code == 3201
    with pytest.raises(InvalidInputError) as exc:
        FraudDetector().fit(_rows())  # no label column
    assert exc.value.code == 1208
    with pytest.raises(InvalidInputError) as exc:
        FraudDetector().fit(_rows(label=[0, 1, 0]))  # one fraud is not enough to train and calibrate
    assert exc.value.code == 1208

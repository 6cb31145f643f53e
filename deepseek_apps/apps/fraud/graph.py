"""The heterogeneous transaction graph: accounts -> transactions -> merchants.

Node types: ``account`` (ids seen as a source), ``merchant`` (ids seen as a destination;
an account paid by another account is also a ``merchant`` node under the same id),
``txn`` (one node per transaction, features from ``features.py``, ``time`` = stream
position). Edge types come in both directions so messages flow either way.

Example:
    >>> from deepseek_apps.apps.fraud.synthetic import generate_transactions
    >>> from deepseek_apps.apps.fraud.features import features_for
    >>> table = generate_transactions(300, seed=0)
    >>> graph = build_graph(table, features_for(table)[0])
    >>> graph.data["txn"].num_nodes
    300
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...errors import require
from .data import TransactionTable
from .features import encode

EDGE_TYPES = (
    ("account", "makes", "txn"),
    ("txn", "made_by", "account"),
    ("merchant", "receives", "txn"),
    ("txn", "paid_to", "merchant"),
)


@dataclass
class TransactionGraph:
    """A ``HeteroData`` plus the id <-> node index maps of its entities."""

    data: object  # torch_geometric.data.HeteroData
    account_vocab: dict[str, int]
    merchant_vocab: dict[str, int]
    txn_vocab: dict[str, int]


def build_graph(table: TransactionTable, x_txn: np.ndarray, y: np.ndarray | None = None) -> TransactionGraph:
    """Build the graph of ``table`` with transaction features ``x_txn`` and optional labels ``y``."""
    pyg = require("torch_geometric.data", "fraud")
    src, acc_vocab = encode(table.src)
    dst, mer_vocab = encode(table.dst)
    n = len(table)
    data = pyg.HeteroData()
    data["txn"].x = torch.from_numpy(np.ascontiguousarray(x_txn, dtype=np.float32))
    if table.time is not None:  # stream position: the sampler's causality bound
        data["txn"].time = torch.arange(n, dtype=torch.long)
    if y is not None:
        data["txn"].y = torch.from_numpy(np.nan_to_num(y, nan=-1).astype(np.float32))
    data["account"].x = torch.ones(len(acc_vocab), 1)
    data["merchant"].x = torch.ones(len(mer_vocab), 1)
    txn = torch.arange(n, dtype=torch.long)
    s, d = torch.from_numpy(src), torch.from_numpy(dst)
    data["account", "makes", "txn"].edge_index = torch.stack([s, txn])
    data["txn", "made_by", "account"].edge_index = torch.stack([txn, s])
    data["merchant", "receives", "txn"].edge_index = torch.stack([d, txn])
    data["txn", "paid_to", "merchant"].edge_index = torch.stack([txn, d])
    txn_vocab = {str(k): i for i, k in enumerate(table.ids.tolist())}
    return TransactionGraph(data, acc_vocab, mer_vocab, txn_vocab)

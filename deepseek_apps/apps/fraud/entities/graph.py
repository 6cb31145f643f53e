"""Entity tables in: nodes (id, label, numeric attributes, type) and edges per relation, checked.

Documented handling (each refusal is a coded error naming the rows):

- no id column: 1219; a node id on two rows: 1216 (the rows);
- a label outside {0, 1, empty}: 1214 (the rows); empty = unknown, never a negative;
- a non-numeric attribute column: 1213 (the columns); encode categoricals yourself, or name
  the column as ``type_column`` (it becomes one-hot attributes);
- NaN attributes are imputed with the column median and counted (``report["imputed"]``);
  an infinite value is refused: 1217 (the rows and columns);
- an edge table without source / destination columns, or a relation name clash: 1218;
- an edge endpoint that is not a node id: 1212 (the relation and rows);
- self-loops are dropped, duplicate edges (same relation, source, destination; both
  directions for an undirected relation) collapsed, numeric edge columns averaged; both counted.

Example:
    >>> g = load_entity_graph({"id": ["a", "b"], "x": [1.0, 2.0], "label": [1, None]},
    ...                       {"knows": {"src": ["a"], "dst": ["b"]}}, EntityTask())
    >>> g.n, g.channels, g.report["edges"]
    (2, ['knows'], {'knows': 1})
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ....errors import ErrorCode, InvalidInputError
from .. import reading
from ..reading import read_frame

ID_NAMES = ("id", "entity_id", "node_id", "account_id")
SRC_NAMES = ("src", "source", "from")
DST_NAMES = ("dst", "destination", "target", "to")


@dataclass
class EntityTask:
    """Settings of the entity task (``FraudDetector(task=EntityTask(...))``; ``task="entities"`` = the defaults).

    Args:
        id_column: node id column (``None``: the first of id / entity_id / node_id).
        label_column / type_column: label (1, 0 or empty) and optional entity type columns.
        relation_column: the relation column of a single edge table.
        directed: names of directed relations (``("*",)``: all); the others are undirected.
        folds: folds of the out-of-fold label rates and GNN embeddings.
        hidden / layers / epochs / lr: the relation-aware GNN (trained full-graph).
    """

    id_column: str | None = None
    label_column: str = "label"
    type_column: str = "type"
    relation_column: str = "relation"
    directed: tuple[str, ...] = ()
    folds: int = 3
    hidden: int = 32
    layers: int = 2
    epochs: int = 80
    lr: float = 0.01

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EntityTask:
        return cls(**{**d, "directed": tuple(d.get("directed", ()))})

    def is_directed(self, relation: str) -> bool:
        return "*" in self.directed or relation in self.directed


@dataclass
class Relation:
    """One relation's deduplicated edges as node positions, with their numeric columns."""

    src: np.ndarray
    dst: np.ndarray
    directed: bool
    attrs: np.ndarray  # (edges, k) float32
    attr_names: list[str]


@dataclass
class EntityGraph:
    """Nodes (ids, attributes, labels with NaN = unknown, types) and relations.

    ``log``: the ``txlog.PaymentLog`` of a graph built from a transaction log (``None`` otherwise).
    """

    ids: np.ndarray
    x: np.ndarray
    attr_names: list[str]
    label: np.ndarray
    types: np.ndarray | None
    relations: dict[str, Relation]
    report: dict[str, Any] = field(default_factory=dict)
    log: Any = None

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def channels(self) -> list[str]:
        """Message channels: an undirected relation is one, a directed one two (``rel>`` out, ``rel<`` in)."""
        out = []
        for name, rel in self.relations.items():
            out += [f"{name}>", f"{name}<"] if rel.directed else [name]
        return out

    def index(self) -> dict[str, int]:
        return {k: i for i, k in enumerate(self.ids.tolist())}


def first_rows(mask: np.ndarray, limit: int = 10) -> list[int]:
    """The first ``limit`` positions where ``mask`` is true (for error messages)."""
    return np.flatnonzero(mask)[:limit].tolist()


def pick_column(frame, given: str | None, names: tuple[str, ...], what: str, code: ErrorCode) -> str:
    """``given`` if ``frame`` has it, else the first of ``names`` it has; ``code`` naming the columns otherwise."""
    if given is not None and given in frame.columns:
        return given
    for name in names if given is None else ():
        if name in frame.columns:
            return name
    raise InvalidInputError(
        code,
        f"no {what} column",
        value=list(frame.columns)[:20],
        hint=f"name it one of {names}" + (f" (asked for {given!r})" if given else "") + " or pass columns=",
    )


def node_labels(frame, column: str) -> np.ndarray:
    """Column ``column`` as float32 labels (NaN = unknown, also when absent); 1214 naming the bad rows."""
    pd = __import__("pandas")
    if column not in frame.columns:
        return np.full(len(frame), np.nan, dtype=np.float32)
    raw = frame[column]
    text = raw.astype(str).str.strip()
    empty = raw.isna() | text.isin(["", "nan", "None", "NaN"])
    value = pd.to_numeric(raw.where(~empty), errors="coerce")
    bad = (~empty & ~value.isin([0, 1])).to_numpy()
    if bad.any():
        raise InvalidInputError(
            ErrorCode.FRAUD_NODE_BAD_LABEL,
            f"{int(bad.sum())} node label(s) outside {{0, 1, empty}} at rows {first_rows(bad)}",
            value=raw[bad].head(5).tolist(),
            hint="use 1 = fraud, 0 = legitimate, empty = unknown",
        )
    return np.array(value.to_numpy(dtype=np.float32), dtype=np.float32)  # a writable copy (pandas may hand out a view)


def _numeric(frame, columns: list[str], what: str) -> tuple[np.ndarray, int]:
    """Columns as float32; non-numeric ones raise 1213; NaN becomes the column median (counted); inf raises 1217."""
    pd = __import__("pandas")
    bad = [c for c in columns if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))]
    if bad:
        raise InvalidInputError(
            ErrorCode.FRAUD_NON_NUMERIC_ATTRIBUTE,
            f"non-numeric {what} column(s) {bad}",
            value={c: frame[c].head(3).tolist() for c in bad[:5]},
            hint="encode categoricals as numbers (one-hot or codes), drop the column, or name it the type column",
        )
    x = frame[columns].to_numpy(dtype=np.float64) if columns else np.zeros((len(frame), 0))
    inf = np.isinf(x)
    if inf.any():
        rows = inf.any(axis=1)
        raise InvalidInputError(
            ErrorCode.FRAUD_NONFINITE_ATTRIBUTE,
            f"infinite {what} values at rows {first_rows(rows)} in columns {[columns[j] for j in np.flatnonzero(inf.any(0))]}",
            value=int(inf.sum()),
            hint="replace inf with a finite value or leave the cell empty (empty cells are imputed with the median)",
        )
    nan = np.isnan(x)
    if nan.any():
        med = np.nanmedian(np.where(nan.all(0), 0.0, x.T).T, axis=0) if len(x) else np.zeros(x.shape[1])
        x = np.where(nan, np.nan_to_num(med)[None, :], x)
    return x.astype(np.float32), int(nan.sum())


TOO_LARGE_HINT = "fit on a part of the graph (its connected components, or a sample of nodes with their edges)"


def read_nodes(nodes: Any, task: EntityTask, columns: dict[str, str] | None = None):
    """The node table as ``(ids, x, attr_names, label, types, imputed)``, checked."""
    frame = read_graph_table(nodes)
    cols = columns or {}
    id_col = pick_column(frame, cols.get("id", task.id_column), ID_NAMES, "node id", ErrorCode.FRAUD_NODE_COLUMNS)
    ids = frame[id_col].astype(str).to_numpy(dtype=object)
    dup = frame[id_col].astype(str).duplicated(keep=False).to_numpy()
    if dup.any():
        raise InvalidInputError(
            ErrorCode.FRAUD_DUPLICATE_NODE_ID,
            f"{int(dup.sum())} rows share a node id, at rows {first_rows(dup)}",
            value=sorted(set(ids[dup].tolist()))[:5],
            hint="give each entity one row (merge or drop the repeats)",
        )
    label_col = cols.get("label", task.label_column)
    type_col = cols.get("type", task.type_column)
    label = node_labels(frame, label_col)
    types = frame[type_col].astype(str).to_numpy(dtype=object) if type_col in frame.columns else None
    attrs = [c for c in frame.columns if c not in (id_col, label_col, type_col)]
    x, imputed = _numeric(frame, attrs, "attribute")
    return ids, x, [str(a) for a in attrs], label, types, imputed


def read_graph_table(table: Any):
    """A node or edge table: up to ``reading.GRAPH_MAX_ROWS`` rows (a scoring call's limit is lower)."""
    return read_frame(table, text_columns=(), max_rows=reading.GRAPH_MAX_ROWS, hint=TOO_LARGE_HINT)


def edge_frames(edges: Any, task: EntityTask) -> dict[str, Any]:
    """``{relation: DataFrame}`` from a mapping or from one table with a relation column."""
    if isinstance(edges, dict) and edges and all(isinstance(k, str) for k in edges):
        first = next(iter(edges.values()))
        if not isinstance(first, (list, np.ndarray)) or isinstance(first, dict):  # a mapping of tables
            return {name: read_graph_table(t) for name, t in edges.items()}
    frame = read_graph_table(edges)
    if task.relation_column not in frame.columns:
        return {"edge": frame}
    rel = frame[task.relation_column].astype(str)
    return {name: part.drop(columns=[task.relation_column]) for name, part in frame.groupby(rel, sort=True)}


def relation_from_frame(name: str, frame, lookup: dict[str, int], task: EntityTask, report: dict) -> Relation:
    src_col = pick_column(frame, None, SRC_NAMES, f"source (relation {name!r})", ErrorCode.FRAUD_BAD_EDGES)
    dst_col = pick_column(frame, None, DST_NAMES, f"destination (relation {name!r})", ErrorCode.FRAUD_BAD_EDGES)
    src_raw, dst_raw = frame[src_col].astype(str).to_numpy(), frame[dst_col].astype(str).to_numpy()
    src = np.array([lookup.get(s, -1) for s in src_raw], dtype=np.int64)
    dst = np.array([lookup.get(d, -1) for d in dst_raw], dtype=np.int64)
    unknown = (src < 0) | (dst < 0)
    if unknown.any():
        names = np.where(src[unknown] < 0, src_raw[unknown], dst_raw[unknown])
        raise InvalidInputError(
            ErrorCode.FRAUD_EDGE_UNKNOWN_NODE,
            f"relation {name!r}: {int(unknown.sum())} edge(s) point at unknown nodes, at rows {first_rows(unknown)}",
            value=sorted(set(names.tolist()))[:5],
            hint="add those entities to the node table (label empty if unknown) or drop the edges",
        )
    attr_names = [c for c in frame.columns if c not in (src_col, dst_col)]
    attrs, imputed = _numeric(frame, attr_names, f"edge (relation {name!r})")
    directed = task.is_directed(name)
    loop = src == dst
    a, b = (src, dst) if directed else (np.minimum(src, dst), np.maximum(src, dst))
    a, b, attrs = a[~loop], b[~loop], attrs[~loop]
    key = a * (len(lookup) + 1) + b
    uniq, inverse = np.unique(key, return_inverse=True)
    if len(uniq) < len(key):  # collapse duplicates: numeric edge columns averaged
        counts = np.bincount(inverse, minlength=len(uniq)).astype(np.float32)
        summed = np.zeros((len(uniq), attrs.shape[1]), dtype=np.float64)
        np.add.at(summed, inverse, attrs)
        attrs = (summed / counts[:, None]).astype(np.float32)
        first = np.full(len(uniq), len(key))
        np.minimum.at(first, inverse, np.arange(len(key)))
        a, b = a[first], b[first]
    report["self_loops"][name] = int(loop.sum())
    report["duplicate_edges"][name] = int(len(key) - len(uniq))
    report["edges"][name] = int(len(uniq))
    report["imputed_edge_values"][name] = imputed
    return Relation(a, b, directed, attrs, [str(c) for c in attr_names])


def load_entity_graph(nodes: Any, edges: Any, task: EntityTask, columns: dict[str, str] | None = None) -> EntityGraph:
    """Nodes and edges as a checked ``EntityGraph`` (see the module docstring for what is refused)."""
    ids, x, names, label, types, imputed = read_nodes(nodes, task, columns)
    report = {"nodes": len(ids), "imputed": imputed, "self_loops": {}, "duplicate_edges": {}, "edges": {}}
    report["imputed_edge_values"] = {}
    lookup = {k: i for i, k in enumerate(ids.tolist())}
    frames = edge_frames(edges, task) if edges is not None else {}
    relations = {str(n): relation_from_frame(str(n), f, lookup, task, report) for n, f in frames.items()}
    return EntityGraph(ids, x, names, label, types, relations, report)

"""A vectorised, temporal neighbour sampler in plain torch, plugged into PyG's loaders.

PyG's ``NeighborLoader`` needs ``pyg-lib`` or ``torch-sparse``. ``TemporalSampler`` needs
neither: it is a ``torch_geometric.sampler.BaseSampler`` whose ``sample_from_nodes`` returns
a ``HeteroSamplerOutput``, so ``torch_geometric.loader.NodeLoader`` batches, filters
features and sets ``batch_size`` / ``n_id`` exactly as for PyG's own samplers.
``make_loader`` uses PyG's ``NeighborLoader`` when ``pyg-lib`` is installed.

Sampling is disjoint (each seed gets its own tree, as ``disjoint=True`` in PyG) and
temporal: a node of a timed type (``txn``, time = stream position) is only reached from a
seed whose time is at least its own, so a transaction's neighbourhood never holds a later
transaction. ``strategy="recent"`` takes the latest ``k`` neighbours (deterministic, what
online scoring uses); ``"uniform"`` takes ``k`` evenly spaced ones from a random offset,
without replacement.

Example:
    >>> loader = make_loader(graph.data, [10, 10], input_nodes=("txn", train_idx), batch_size=512)  # doctest: +SKIP
    >>> batch = next(iter(loader)); batch["txn"].batch_size  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util

import torch

from ...errors import require

_pyg_sampler = require("torch_geometric.sampler", "fraud")
INF = torch.iinfo(torch.long).max // 4


class _CSC:
    """Incoming neighbours of each destination node of one edge type, sorted by source time."""

    def __init__(self, edge_index: torch.Tensor, num_dst: int, src_time: torch.Tensor | None):
        src, dst = edge_index
        t = src_time[src] if src_time is not None else torch.zeros_like(src)
        self.timed = src_time is not None
        key = dst * (int(t.max()) + 2 if len(t) else 1) + t
        perm = torch.argsort(key, stable=True)
        self.key = key[perm]
        self.stride = int(t.max()) + 2 if len(t) else 1
        self.src = src[perm]
        self.eid = perm
        counts = torch.bincount(dst, minlength=num_dst)
        self.ptr = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])

    def window(self, nodes: torch.Tensor, bound: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[lo, hi) of each node's neighbours whose time is <= bound."""
        lo = self.ptr[nodes]
        if not self.timed:
            return lo, self.ptr[nodes + 1]
        b = torch.clamp(bound, max=self.stride - 2)
        hi = torch.searchsorted(self.key, nodes * self.stride + b, right=True)
        return lo, torch.maximum(hi, lo)


def _pick(lo: torch.Tensor, hi: torch.Tensor, k: int, strategy: str, gen: torch.Generator | None):
    """Positions of up to ``k`` neighbours in each [lo, hi) and the frontier entry they belong to."""
    deg = hi - lo
    take = torch.clamp(deg, max=k) if k >= 0 else deg
    owner = torch.repeat_interleave(torch.arange(len(lo)), take)
    offset = torch.arange(int(take.sum())) - torch.repeat_interleave(take.cumsum(0) - take, take)
    if strategy == "recent" or k < 0:
        pos = hi[owner] - 1 - offset
    else:
        d, t = deg[owner], take[owner]
        start = (torch.rand(len(lo), generator=gen) * deg.clamp(min=1)).long()[owner]
        pos = lo[owner] + (start + offset * d // t.clamp(min=1)) % d.clamp(min=1)
    return pos, owner


class TemporalSampler(_pyg_sampler.BaseSampler):
    """Disjoint temporal k-hop sampler over a ``HeteroData`` (a PyG ``BaseSampler``).

    Args:
        data: the graph; node types with a ``time`` attribute are timed.
        num_neighbors: neighbours per hop and edge type, e.g. ``[10, 10]`` (-1 = all).
        strategy: ``"recent"`` or ``"uniform"``.
        seed: seed of the uniform strategy's generator.
    """

    def __init__(self, data, num_neighbors: list[int], strategy: str = "recent", seed: int = 0):
        self.num_neighbors = list(num_neighbors)
        self.strategy = strategy
        self.gen = torch.Generator().manual_seed(seed)
        self.times = {t: data[t].time for t in data.node_types if "time" in data[t]}
        self.csc = {
            et: _CSC(data[et].edge_index, data[et[2]].num_nodes, self.times.get(et[0])) for et in data.edge_types
        }

    @property
    def edge_permutation(self):
        return None

    def sample_from_nodes(self, index, **kwargs):
        """PyG entry point: ``index`` is a ``NodeSamplerInput`` (``node``, ``input_type``)."""
        out = self.sample(index.input_type, index.node)
        out.metadata = (index.input_id, index.time)
        return out

    def sample_from_edges(self, index, neg_sampling=None):
        raise NotImplementedError("TemporalSampler samples from nodes only")

    def sample(self, seed_type: str, seeds: torch.Tensor):
        """The disjoint k-hop neighbourhood of ``seeds`` (all of type ``seed_type``)."""
        n_seed = len(seeds)
        times = self.times.get(seed_type)
        bound = times[seeds] if times is not None else torch.full((n_seed,), INF, dtype=torch.long)
        # per node type: global ids, seed index, and a sorted key table for de-duplication
        nodes = {seed_type: seeds.clone()}
        owner = {seed_type: torch.arange(n_seed)}
        frontier = {seed_type: torch.arange(n_seed)}  # local indices of the last hop's new nodes
        rows, cols, eids = {}, {}, {}
        for k in self.num_neighbors:
            new_frontier: dict[str, list[torch.Tensor]] = {}
            for et, csc in self.csc.items():
                s_type, _, d_type = et
                if d_type not in frontier or len(frontier[d_type]) == 0:
                    continue
                local = frontier[d_type]
                lo, hi = csc.window(nodes[d_type][local], bound[owner[d_type][local]])
                pos, which = _pick(lo, hi, k, self.strategy, self.gen)
                nbr, seed_of = csc.src[pos], owner[d_type][local[which]]
                idx, fresh = self._add(nodes, owner, s_type, nbr, seed_of, n_seed)
                rows.setdefault(et, []).append(idx)
                cols.setdefault(et, []).append(local[which])
                eids.setdefault(et, []).append(csc.eid[pos])
                new_frontier.setdefault(s_type, []).append(fresh)
            frontier = {t: torch.unique(torch.cat(v)) for t, v in new_frontier.items()}
        return _pyg_sampler.HeteroSamplerOutput(
            node=nodes,
            row={et: torch.cat(v) for et, v in rows.items()},
            col={et: torch.cat(v) for et, v in cols.items()},
            edge={et: torch.cat(v) for et, v in eids.items()},
            batch=owner,
        )

    @staticmethod
    def _add(nodes, owner, t: str, nbr: torch.Tensor, seed_of: torch.Tensor, n_seed: int):
        """Local indices of (seed, node) pairs in type ``t``, appending the unseen ones."""
        if t not in nodes:
            nodes[t] = torch.empty(0, dtype=torch.long)
            owner[t] = torch.empty(0, dtype=torch.long)
        stride = int(max(int(nodes[t].max()) if len(nodes[t]) else 0, int(nbr.max()) if len(nbr) else 0)) + 1
        old_key = owner[t] * stride + nodes[t]
        key = seed_of * stride + nbr
        uniq, inv = torch.unique(key, return_inverse=True)
        sorted_old, perm = torch.sort(old_key)
        at = torch.searchsorted(sorted_old, uniq).clamp(max=max(len(sorted_old) - 1, 0))
        found = (sorted_old[at] == uniq) if len(sorted_old) else torch.zeros(len(uniq), dtype=torch.bool)
        local_of_uniq = torch.empty(len(uniq), dtype=torch.long)
        if len(sorted_old):
            local_of_uniq[found] = perm[at[found]]
        new = uniq[~found]
        start = len(nodes[t])
        local_of_uniq[~found] = torch.arange(start, start + len(new))
        nodes[t] = torch.cat([nodes[t], new % stride])
        owner[t] = torch.cat([owner[t], new // stride])
        return local_of_uniq[inv], torch.arange(start, start + len(new))


def make_loader(data, num_neighbors: list[int], input_nodes, batch_size: int = 512, shuffle: bool = False, **kw):
    """A PyG loader over ``input_nodes=(type, index)``.

    Untimed graphs use PyG's own ``NeighborLoader`` when ``pyg-lib`` is installed; timed
    graphs always use ``TemporalSampler`` (PyG's temporal sampling needs a time on every node
    type, and entities here have none).
    """
    loader = require("torch_geometric.loader", "fraud")
    timed = any("time" in data[t] for t in data.node_types)
    if not timed and importlib.util.find_spec("pyg_lib") is not None and kw.pop("backend", "auto") == "auto":
        return loader.NeighborLoader(
            data, num_neighbors=num_neighbors, input_nodes=input_nodes, batch_size=batch_size, shuffle=shuffle
        )
    sampler = TemporalSampler(data, num_neighbors, strategy=kw.pop("strategy", "recent"), seed=kw.pop("seed", 0))
    return loader.NodeLoader(
        data, node_sampler=sampler, input_nodes=input_nodes, batch_size=batch_size, shuffle=shuffle
    )

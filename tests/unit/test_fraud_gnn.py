"""The GNN's sparse mean product: same values and gradients as the dense matrix, transpose built once."""

from __future__ import annotations

import numpy as np
import torch

from deepseek_apps.apps.fraud.entities.gnn import RelationGNN, mean_adjacency


def graph(n: int = 40, e: int = 160, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(0, n, e), rng.integers(0, n, e)
    dense = np.zeros((n, n), dtype=np.float32)
    np.add.at(dense, (rows, cols), 1.0)
    dense /= np.maximum(np.bincount(rows, minlength=n), 1)[:, None]
    return mean_adjacency(rows, cols, n, n), torch.from_numpy(dense)


def test_product_and_gradient_match_the_dense_mean():
    adj, dense = graph()
    h = torch.randn(40, 5, requires_grad=True)
    weight = torch.randn(40, 5)
    (adj @ h * weight).sum().backward()
    sparse_grad = h.grad.clone()
    h.grad = None
    (dense @ h * weight).sum().backward()
    assert torch.allclose(sparse_grad, h.grad, atol=1e-5)
    with torch.no_grad():
        assert torch.allclose(adj @ h, dense @ h, atol=1e-5)


def test_transpose_is_built_once_and_only_for_gradients():
    adj, _ = graph()
    with torch.no_grad():
        adj @ torch.randn(40, 3, requires_grad=True)
    assert adj.transposed is None  # inference needs no transpose
    adj @ torch.randn(40, 3, requires_grad=True)
    first = adj.transposed
    adj @ torch.randn(40, 3, requires_grad=True)
    assert first is not None and adj.transposed is first


def test_gnn_trains_through_the_sparse_product():
    adj, _ = graph()
    torch.manual_seed(0)
    net = RelationGNN(4, ["knows"], hidden=8, layers=2)
    x, y = torch.randn(40, 4), (torch.rand(40) < 0.3).float()
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x, [adj]), y)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.7 * losses[0]
    assert all(p.grad is not None for p in net.convs[0].per_channel[0].parameters())

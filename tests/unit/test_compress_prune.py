"""prune(): channels really removed through residual adds, depthwise convs and concatenations;
target MACs, importances, safetensors + plan round trip, the inspector's FCOS, and errors."""

import pytest
import torch
from torch import nn

pytest.importorskip("torch_pruning")

from deepseek_apps.core.compress.prune import prune  # noqa: E402
from deepseek_apps.core.compress.prune_io import load_pruned, save_pruned  # noqa: E402
from deepseek_apps.errors import ErrorCode, InvalidInputError, MissingResourceError, ModelFormatError  # noqa: E402

X = torch.randn(2, 3, 16, 16)


def _cbr(cin: int, cout: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, groups=groups, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class ResNetLike(nn.Module):
    def __init__(self, width: int = 32, classes: int = 5):
        super().__init__()
        self.stem = _cbr(3, width)
        self.body = nn.Sequential(_cbr(width, width), nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width))
        self.down = _cbr(width, 2 * width, stride=2)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, classes))

    def forward(self, x):
        x = self.stem(x)
        x = torch.relu(x + self.body(x))
        return self.head(self.down(x))


class DepthwiseNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(_cbr(3, 32), _cbr(32, 32, groups=32), _cbr(32, 64), _cbr(64, 64, groups=64))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 4))

    def forward(self, x):
        return self.head(self.features(x))


class ConcatNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = _cbr(3, 16)
        self.a, self.b = _cbr(16, 32), _cbr(16, 16)
        self.fuse = _cbr(48, 32)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 3))

    def forward(self, x):
        x = self.stem(x)
        return self.head(self.fuse(torch.cat([self.a(x), self.b(x)], dim=1)))


def _assert_consistent(model: nn.Module, x: torch.Tensor) -> None:
    """Every conv / BN sees as many input channels as it declares, and produces its out_channels."""
    seen = []

    def hook(module, inputs, output):
        seen.append(module)
        channels = inputs[0].shape[1]
        if isinstance(module, nn.Conv2d):
            assert channels == module.in_channels == module.weight.shape[1] * module.groups
            assert output.shape[1] == module.out_channels == module.weight.shape[0]
        else:
            assert channels == module.num_features == module.running_mean.numel()

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d | nn.BatchNorm2d)]
    with torch.no_grad():
        model.eval()(x)
    for h in hooks:
        h.remove()
    assert seen


@pytest.mark.parametrize("make", [ResNetLike, DepthwiseNet, ConcatNet])
def test_ratio_really_removes_channels(make):
    torch.manual_seed(0)
    model = make().eval()
    shape = model(X).shape
    result = prune(model, X, ratio=0.5)
    assert result.model is model
    assert result.params_after < 0.5 * result.params_before
    assert result.macs_after < 0.5 * result.macs_before
    assert sum(p.numel() for p in model.parameters()) == result.params_after
    _assert_consistent(model, X)
    assert model(X).shape == shape
    assert result.plan and all(len(s["keep"]) < s["channels"] for s in result.plan)
    assert result.to_dict()["params_after"] == result.params_after and "model" not in result.to_dict()


def test_classifier_head_is_kept_automatically_and_ignored_layers_keep_shape():
    model = ResNetLike()
    prune(model, X, ratio=0.5, ignored_layers=[model.stem[0]])
    assert model.head[2].out_features == 5
    assert model.stem[0].out_channels == 32  # ignored: its residual partners keep 32 too
    assert model.body[1].out_channels == 32
    assert model.down[0].out_channels == 32  # pruned from 64


def test_target_macs_fraction_and_absolute():
    model = ResNetLike()
    result = prune(model, X, target_macs=0.4)
    assert result.macs_after <= 0.4 * result.macs_before
    assert result.macs_after > 0.1 * result.macs_before  # stepped, not over-pruned
    model = ResNetLike()
    goal = result.macs_before // 2
    assert prune(model, X, target_macs=goal).macs_after <= goal


@pytest.mark.parametrize("importance", ["taylor", "lamp"])
def test_taylor_and_lamp_importance(importance):
    torch.manual_seed(0)
    model = ResNetLike()
    y = torch.tensor([0, 3])
    calls = []

    def loss_fn(m):
        calls.append(1)
        return nn.functional.cross_entropy(m(X), y)

    result = prune(model, X, ratio=0.5, importance=importance, iterative_steps=2, loss_fn=loss_fn)
    assert result.params_after < result.params_before
    assert len(calls) == (2 if importance == "taylor" else 0)
    assert all(p.grad is None for p in model.parameters())
    _assert_consistent(model, X)


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    result = prune(ConcatNet(), X, ratio=0.5)
    model = result.model.eval()
    save_pruned(result, None, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"model.safetensors", "pruning_plan.json"}
    loaded = load_pruned(ConcatNet, tmp_path).eval()
    with torch.no_grad():
        assert torch.equal(loaded(X), model(X))
    torch.manual_seed(1)
    bare = ResNetLike()
    plan = prune(bare, X, ratio=0.3, importance="lamp").plan
    save_pruned(bare, plan, tmp_path / "bare")
    with pytest.raises(InvalidInputError):  # a bare model carries no input shapes
        load_pruned(ResNetLike, tmp_path / "bare")
    loaded = load_pruned(ResNetLike, tmp_path / "bare", example_inputs=X).eval()
    with torch.no_grad():
        assert torch.equal(loaded(X), bare.eval()(X))


def test_load_errors(tmp_path):
    with pytest.raises(MissingResourceError):
        load_pruned(ResNetLike, tmp_path)
    save_pruned(prune(ResNetLike(), X, ratio=0.5), None, tmp_path)
    with pytest.raises(ModelFormatError) as e:
        load_pruned(lambda: ResNetLike(width=16), tmp_path)
    assert e.value.code == ErrorCode.CHECKPOINT_INVALID


def test_inspector_detector_prunes_keeps_output_shapes_and_round_trips(tmp_path):
    from deepseek_apps.apps.inspector.model import DetectorConfig, InspectorGraph, build_detector

    torch.manual_seed(0)
    # GroupNorm(32) heads keep their 64 channels; BN heads prune too
    cfg = DetectorConfig(head_norm="bn", backbone="tiny")
    graph = InspectorGraph(build_detector(cfg), cfg).eval()
    pixels = torch.rand(1, 1, cfg.input_size, cfg.input_size) * 255
    with torch.no_grad():
        before = [o.shape for o in graph(pixels)]
    heads = [m for n, m in graph.named_modules() if n.rsplit(".", 1)[-1] in ("cls_logits", "bbox_reg", "bbox_ctrness")]
    kept = [(m.out_channels, m.in_channels) for m in heads]
    result = prune(graph, pixels, ratio=0.3, ignored_layers=heads)
    assert result.params_after < 0.7 * result.params_before
    with torch.no_grad():
        assert [o.shape for o in graph(pixels)] == before
    assert [m.out_channels for m in heads] == [k[0] for k in kept]
    assert all(m.in_channels < k[1] for m, k in zip(heads, kept))
    save_pruned(result, result.plan, tmp_path)
    loaded = load_pruned(lambda: InspectorGraph(build_detector(cfg), cfg), tmp_path).eval()
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(loaded(pixels), graph(pixels)))


class Tagger(nn.Module):
    """Token classifier returning a dict: pruned through ``forward_fn``."""

    def __init__(self):
        super().__init__()
        self.emb, self.mid, self.out = nn.Embedding(50, 32), nn.Linear(32, 64), nn.Linear(64, 5)

    def forward(self, ids):
        return {"logits": self.out(torch.relu(self.mid(self.emb(ids))))}


def test_forward_fn_for_dict_outputs_and_integer_inputs(tmp_path):
    ids = torch.randint(0, 50, (2, 7))
    model = Tagger()

    def logits(m, inputs):
        return m(*inputs)["logits"]

    result = prune(model, ids, ratio=0.5, forward_fn=logits)
    assert model.mid.out_features == 32 and model.out.out_features == 5
    assert result.inputs == [{"name": 0, "shape": [2, 7], "dtype": "int64"}]
    save_pruned(result, None, tmp_path)
    assert torch.equal(load_pruned(Tagger, tmp_path, forward_fn=logits)(ids)["logits"], model(ids)["logits"])


def test_pruned_output_layer_is_reported():
    model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Conv2d(16, 16, 3))  # no classifier to spot
    with pytest.raises(ModelFormatError, match="output shapes") as e:
        prune(model, X, ratio=0.5)
    assert e.value.code == ErrorCode.UNSUPPORTED_FORMAT


def test_argument_errors():
    model = ResNetLike()
    for kwargs in ({"ratio": 1.0}, {"ratio": 0.0}, {}, {"ratio": 0.5, "target_macs": 0.5}, {"target_macs": -1}):
        with pytest.raises(InvalidInputError) as e:
            prune(model, X, **kwargs)
        assert e.value.code == ErrorCode.INVALID_ARGUMENT
    with pytest.raises(InvalidInputError, match="importance"):
        prune(model, X, ratio=0.5, importance="random")
    with pytest.raises(InvalidInputError, match="loss_fn"):
        prune(model, X, ratio=0.5, importance="taylor")
    with pytest.raises(InvalidInputError, match="target_macs"):
        prune(model, X, target_macs=10**12)
    assert model.stem[0].out_channels == 32  # nothing touched


class Scale(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1, channels, 1, 1))

    def forward(self, x):
        return x * self.gain


def test_unsupported_layer_and_nothing_prunable():
    model = nn.Sequential(nn.Conv2d(3, 16, 3), Scale(16), nn.Flatten(), nn.Linear(16 * 14 * 14, 2))
    with pytest.raises(ModelFormatError) as e:
        prune(model, X, ratio=0.5)
    assert e.value.code == ErrorCode.UNSUPPORTED_FORMAT and e.value.value == "1"
    with pytest.raises(ModelFormatError) as e:
        prune(nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 2)), X, ratio=0.5)
    assert e.value.code == ErrorCode.UNSUPPORTED_FORMAT

"""core.device: device / precision resolution, tested on the CPU with CUDA and CPU flags faked."""

from __future__ import annotations

import argparse

import pytest
import torch

from deepseek_apps.core import device as dev
from deepseek_apps.errors import InvalidInputError, RuntimeFailure


@pytest.fixture
def fake_gpus(monkeypatch):
    """Pretend this machine has ``n`` CUDA GPUs of compute capability ``major``.x."""

    def install(n: int = 2, major: int = 8):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: (major, 0))

    return install


def _cpu_flags(monkeypatch, flags):
    monkeypatch.setattr(dev, "cpu_flags", lambda: frozenset(flags))


def test_auto_is_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    place = dev.resolve_placement("auto", "32")
    assert place.device == torch.device("cpu")
    assert (place.backend, place.pin_memory, place.autocast_dtype, place.grad_scaler) == ("gloo", False, None, False)


def test_auto_picks_the_local_rank_gpu_with_nccl(fake_gpus, monkeypatch):
    fake_gpus(2)
    monkeypatch.setenv("LOCAL_RANK", "1")
    place = dev.resolve_placement("auto")
    assert place.device == torch.device("cuda", 1)
    assert place.backend == "nccl" and place.pin_memory
    assert dev.resolve_device("cuda:0") == torch.device("cuda", 0)


def test_missing_gpu_is_a_coded_error(fake_gpus):
    fake_gpus(0)
    with pytest.raises(RuntimeFailure) as info:
        dev.resolve_device("cuda")
    assert info.value.code == 4005 and "cpu" in info.value.hint
    fake_gpus(1)
    with pytest.raises(RuntimeFailure) as info:
        dev.resolve_device("cuda:3")
    assert info.value.code == 4005 and info.value.value == "cuda:3"


@pytest.mark.parametrize("bad", ["gpu", "cpu:1", "cuda:x", "tpu"])
def test_unknown_device_strings_are_refused(bad):
    with pytest.raises(InvalidInputError) as info:
        dev.resolve_device(bad)
    assert info.value.code == 1000 and "auto" in info.value.hint


def test_bf16_on_a_cpu_follows_its_flags(monkeypatch):
    _cpu_flags(monkeypatch, {"avx2", "fma"})
    with pytest.raises(RuntimeFailure) as info:
        dev.resolve_placement("cpu", "bf16")
    assert info.value.code == 4006 and "--precision 32" in info.value.hint
    _cpu_flags(monkeypatch, {"avx512f", "avx512_bf16"})
    place = dev.resolve_placement("cpu", "bf16")
    assert place.autocast_dtype == torch.bfloat16 and not place.grad_scaler
    _cpu_flags(monkeypatch, {"amx_bf16"})
    assert dev.resolve_placement("cpu", "bf16").autocast_dtype == torch.bfloat16


def test_fp16_needs_cuda_and_brings_a_scaler(fake_gpus, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeFailure) as info:
        dev.resolve_placement("cpu", "16")
    assert info.value.code == 4006
    fake_gpus(1, major=7)  # a Volta: fp16 yes, bf16 no
    place = dev.resolve_placement("cuda", "16")
    assert place.autocast_dtype == torch.float16 and place.grad_scaler
    with pytest.raises(RuntimeFailure) as info:
        dev.resolve_placement("cuda", "bf16")
    assert info.value.code == 4006 and "--precision 16" in info.value.hint
    fake_gpus(1, major=9)
    assert dev.resolve_placement("cuda", "bf16").autocast_dtype == torch.bfloat16


def test_unknown_precision_is_refused_and_fp_prefix_accepted():
    with pytest.raises(InvalidInputError) as info:
        dev.resolve_placement("cpu", "8")
    assert info.value.code == 1000
    assert dev.resolve_placement("cpu", "fp32").precision == "32"


def test_cpu_bf16_autocast_runs_where_supported():
    if not dev.cpu_has_bf16():
        pytest.skip("this CPU has no AVX-512 BF16 / AMX")
    place = dev.resolve_placement("cpu", "bf16")
    with place.autocast():
        out = torch.nn.Linear(4, 4)(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16


def test_to_device_moves_nested_tensors_and_leaves_the_rest():
    batch = {"x": torch.ones(2), "meta": ["a", (torch.zeros(1), 3)], "none": None}
    moved = dev.to_device(batch, torch.device("cpu"))
    assert torch.equal(moved["x"], batch["x"]) and moved["meta"][0] == "a" and moved["meta"][1][1] == 3
    assert moved["none"] is None


def test_cli_options_map_onto_the_config_names():
    parser = argparse.ArgumentParser()
    dev.add_device_options(parser)
    assert vars(parser.parse_args([])) == {"device": "auto", "precision": "32"}
    assert parser.parse_args(["--device", "cuda:1", "--precision", "bf16"]).precision == "bf16"
    with pytest.raises(SystemExit):
        parser.parse_args(["--precision", "8"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_real_cuda_placement():
    place = dev.resolve_placement("cuda", "32")
    assert place.device.type == "cuda" and place.backend == "nccl"

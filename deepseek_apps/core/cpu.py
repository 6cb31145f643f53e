"""The CPU's feature flags, without PyTorch (the torch-free runtime reads them too).

Example:
    >>> isinstance(cpu_flags(), frozenset)
    True
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of ``/proc/cpuinfo`` (empty where there is none, e.g. macOS)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def int8_saturates() -> bool:
    """Whether ONNX Runtime's u8 x s8 kernels add pairs of products in a saturating int16 here.

    True on x86 CPUs without VNNI (``avx512_vnni`` / ``avx_vnni``): there full-range 8-bit
    weights overflow on large activations (see ``core.compress.quantize``). False where the
    flags are unknown.
    """
    flags = cpu_flags()
    return "avx2" in flags and not flags & {"avx512_vnni", "avx_vnni", "amx_int8"}

"""Keep freed memory in the process while a job with very large temporaries runs (glibc only).

glibc serves an allocation above its mmap threshold (at most 32 MB) with a fresh ``mmap`` and
gives it back with ``munmap`` when it is freed. A full-graph GNN step on 3x10^5 nodes makes
dozens of temporaries of 40-150 MB, so every step touches every 4 KB page of them for the
first time again: the kernel zero-fills each page on its fault, and on a VM each fault is
expensive. Measured on 3x10^5 nodes and 7.1M edges (2-core Xeon VM): 5.0 s per training step
with glibc's defaults, 2.4 s inside ``reuse_freed_memory`` (the eval forward 1.07 -> 0.56 s).
The cost grows faster than the graph (the 10^5-node step takes 0.88 s), which made fit time
grow as n^1.8 before.

``reuse_freed_memory()`` turns mmap off for the duration (``M_MMAP_MAX=0``) and stops glibc from
trimming the heap (``M_TRIM_THRESHOLD``), so freed blocks are reused by the next step without
new page faults. On exit it restores glibc's usual limits (mmap above 32 MB, the largest
value glibc's dynamic threshold reaches) and hands the freed heap back to the system with
``malloc_trim(0)``.

The price is memory. One heap fragments: a step's temporaries do not fit back into the holes
the last step left, so the heap grows past the step's working set and keeps growing a little
with each model trained. Measured on 2x10^5 entities and 2.4M edges (2-core AMD EPYC VM, 5
epochs per fold): the GNN fold's working set is 1.07 GB when blocks are unmapped on free and
3.1 GB held here, 4.2 GB after three folds; on 10^6 entities and 11.9M edges the whole fit
peaked at 22.8 GB of the machine's 23 GB. So the reuse has a budget: ``within_budget()``,
called between steps (``Trainer.run`` calls it after every epoch), gives up once the
process's resident memory passes ``fraction`` of the memory it may use (RAM, or the cgroup's
limit when lower; 60% by default): it hands the free heap back with ``malloc_trim(0)`` and
has glibc map every block over 128 KB (its initial threshold) for the rest of the block and
after. That comes late for a job whose first step alone overshoots: glibc serves later
blocks from the heap's free chunks before it maps new ones, so the heap keeps the size it
reached (on 10^6 entities, 2 epochs per fold: 15.5 GB in the first fold, 16.3 GB peak).
So a caller that can tell its working set per step passes it (``step_bytes``), and the block
declines from the start when about three times that would pass the budget; the entity GNN
does. Small jobs keep the speed; a job near the machine's size runs as glibc would run it.

It does nothing where the C library is not glibc, or where the process was started with
``MALLOC_*`` environment variables, ``glibc.malloc`` tunables or another allocator
preloaded (the user's choice wins).
Nested and concurrent uses share one setting: the outermost exit restores.

Example:
    >>> with reuse_freed_memory():
    ...     pass
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4
_GLIBC_MMAP_MAX = 65536  # glibc's DEFAULT_MMAP_MAX
_GLIBC_MMAP_THRESHOLD = 32 * 1024 * 1024  # DEFAULT_MMAP_THRESHOLD_MAX on 64-bit: where the dynamic threshold ends
_GLIBC_MMAP_THRESHOLD_MIN = 128 * 1024  # DEFAULT_MMAP_THRESHOLD: where it starts
_NO_TRIM = 2**31 - 1

_lock = threading.Lock()
_depth = 0
_gave_up = False  # this block is not reusing: declined at the start, or gave up past the budget
_changed = False  # this block changed glibc's settings (and restores them at its outermost exit)
BUDGET_FRACTION = 0.6
HEAP_GROWTH = 3.0  # heap size over working set: 2.9x on 2x10^5 GNN nodes (3.1 / 1.07 GB), 2.3x in 2 steps on 10^6


@lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    """The process's glibc, or None when the allocator is not ours to tune."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    tuned = any(k.startswith("MALLOC_") for k in os.environ) or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", "")
    if tuned or os.environ.get("LD_PRELOAD"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def active() -> bool:
    """Whether freed memory is being reused now: a block runs (in any thread) and has not passed its budget."""
    return _depth > 0 and not _gave_up


@contextmanager
def reuse_freed_memory(step_bytes: int = 0) -> Iterator[None]:
    """Within the block, freed memory stays mapped and is reused (see the module docstring).

    ``step_bytes``: the job's working set per step, where the caller can tell. The outermost
    block then declines at once (glibc as usual throughout, nested blocks included) when the
    heap, which grows to about ``HEAP_GROWTH`` times that, would take the process past the
    budget: a job near the machine's size runs at glibc's memory from its first step.
    """
    global _depth, _gave_up, _changed
    libc = _glibc()
    if libc is None:
        yield
        return
    with _lock:
        if _depth == 0:
            _gave_up = resident_memory() + HEAP_GROWTH * step_bytes > BUDGET_FRACTION * usable_memory()
            _changed = not _gave_up
            if _changed:
                libc.mallopt(_M_TRIM_THRESHOLD, _NO_TRIM)
                libc.mallopt(_M_MMAP_MAX, 0)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                if _changed:
                    _restore(libc, _GLIBC_MMAP_THRESHOLD_MIN if _gave_up else _GLIBC_MMAP_THRESHOLD)
                _gave_up = _changed = False


def _restore(libc: ctypes.CDLL, mmap_threshold: int) -> None:
    """glibc's usual limits (blocks from ``mmap_threshold`` up mapped), and the free heap handed back."""
    libc.mallopt(_M_MMAP_MAX, _GLIBC_MMAP_MAX)
    libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold)
    libc.mallopt(_M_TRIM_THRESHOLD, 2 * _GLIBC_MMAP_THRESHOLD)
    libc.malloc_trim(0)


def within_budget(fraction: float | None = None) -> bool:
    """Between steps: stop reusing freed memory once resident memory passes ``fraction`` of the usable memory.

    Returns whether the reuse is still on. Outside a ``reuse_freed_memory`` block, or after it
    gave up, it does nothing (and returns False).
    """
    global _gave_up
    libc = _glibc()
    if libc is None or _depth == 0 or _gave_up:
        return False
    limit = (BUDGET_FRACTION if fraction is None else fraction) * usable_memory()
    if resident_memory() <= limit:
        return True
    with _lock:
        if _depth and not _gave_up and _changed:
            # from here on a block over 128 KB that no free chunk of the heap can serve is mapped
            _restore(libc, _GLIBC_MMAP_THRESHOLD_MIN)
            _gave_up = True
    return False


def resident_memory() -> int:
    """This process's resident memory in bytes (0 where ``/proc`` is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def usable_memory() -> int:
    """Physical memory in bytes, or the cgroup v2 limit where that is lower."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            raw = f.read().strip()
    except OSError:
        return total
    return min(total, int(raw)) if raw.isdigit() else total

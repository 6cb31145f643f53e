"""``core.alloc.reuse_freed_memory``: freed large blocks are reused without new page faults, and the
allocator is handed back afterwards (page-fault counts, not timings)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading

import pytest
import torch

from deepseek_apps.core import alloc

BIG = 64 << 20  # above glibc's largest mmap threshold (32 MB)


def faults_of_use() -> int:
    """Minor page faults of allocating, touching and freeing one large tensor."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = torch.ones(BIG, dtype=torch.uint8)
    del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def resident_mb() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 >> 20


needs_glibc = pytest.mark.skipif(alloc._glibc() is None, reason="the allocator is not glibc's, or the user tuned it")


def in_fresh_process(case: str) -> None:
    """Run ``case`` of this file in a new interpreter: page-fault counts depend on the heap, and
    in the test process earlier tests leave free chunks in it that glibc would serve first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    run = subprocess.run([sys.executable, __file__, case], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


@needs_glibc
def test_inside_the_block_a_large_block_is_reused_without_page_faults():
    in_fresh_process("case_reused_inside_the_block")


def case_reused_inside_the_block():
    pages = BIG // 4096
    assert faults_of_use() > pages // 2  # glibc's default: a fresh mmap, every page faulted in again
    with alloc.reuse_freed_memory():
        for _ in range(12):  # the heap settles after a few rounds (alignment padding)
            faults_of_use()
        assert faults_of_use() < pages // 100
    assert faults_of_use() > pages // 2  # and the default is back afterwards


@needs_glibc
def test_the_freed_heap_goes_back_to_the_system_on_exit():
    in_fresh_process("case_heap_back_on_exit")


def case_heap_back_on_exit():
    start = resident_mb()
    with alloc.reuse_freed_memory():
        for _ in range(12):
            faults_of_use()
        held = resident_mb()
    assert held - start >= BIG >> 20  # kept mapped inside
    assert resident_mb() - start < (BIG >> 20) // 2  # trimmed on exit


def test_nested_and_concurrent_blocks_restore_once_at_the_outermost_exit():
    assert not alloc.active()
    with alloc.reuse_freed_memory():
        with alloc.reuse_freed_memory():
            assert alloc.active() or alloc._glibc() is None
        assert alloc.active() or alloc._glibc() is None
    assert not alloc.active()
    started, release = threading.Event(), threading.Event()

    def worker():
        with alloc.reuse_freed_memory():
            started.set()
            release.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    started.wait(5)
    with alloc.reuse_freed_memory():
        pass
    assert alloc.active() or alloc._glibc() is None  # the worker's block still holds
    release.set()
    t.join()
    assert not alloc.active()


def test_a_user_tuned_allocator_is_left_alone(monkeypatch):
    alloc._glibc.cache_clear()
    monkeypatch.setenv("MALLOC_ARENA_MAX_", "2")
    try:
        assert alloc._glibc() is None
        with alloc.reuse_freed_memory():
            assert not alloc.active()
    finally:
        monkeypatch.delenv("MALLOC_ARENA_MAX_")
        alloc._glibc.cache_clear()


@needs_glibc
def test_past_the_memory_budget_the_block_gives_the_heap_back_and_maps_large_blocks_again():
    in_fresh_process("case_past_the_budget")


def case_past_the_budget():
    pages = BIG // 4096
    with alloc.reuse_freed_memory():
        for _ in range(12):
            faults_of_use()
        assert alloc.within_budget(fraction=1e6)  # far under: the reuse goes on
        assert faults_of_use() < pages // 100
        held = resident_mb()
        assert not alloc.within_budget(fraction=1e-6)  # over: give up for the rest of the block
        assert not alloc.active()
        assert resident_mb() <= held - (BIG >> 20) // 2  # the free heap went back at once
        assert faults_of_use() > pages // 2  # and large blocks are mapped afresh again
        assert not alloc.within_budget(fraction=1e6)  # it does not switch back on inside this block
    with alloc.reuse_freed_memory():  # the next block starts with the reuse on again
        assert alloc.active()
        for _ in range(12):
            faults_of_use()
        assert faults_of_use() < pages // 100


def test_the_budget_is_read_from_this_process_and_machine():
    assert 0 < alloc.resident_memory() < alloc.usable_memory()
    assert not alloc.within_budget(fraction=1e-6)  # outside any block: nothing to give up


@needs_glibc
def test_a_block_told_its_working_set_declines_when_the_heap_would_pass_the_budget():
    in_fresh_process("case_declined")


def case_declined():
    pages = BIG // 4096
    too_big = alloc.usable_memory()  # three times the machine: never reuse
    with alloc.reuse_freed_memory(step_bytes=too_big):
        assert not alloc.active()
        with alloc.reuse_freed_memory():  # a nested block (Trainer.run) does not switch it on
            assert not alloc.active()
            assert faults_of_use() > pages // 2  # glibc as usual: a fresh mapping each time
    with alloc.reuse_freed_memory(step_bytes=BIG):  # a small job keeps the reuse
        assert alloc.active()
        for _ in range(12):
            faults_of_use()
        assert faults_of_use() < pages // 100


if __name__ == "__main__":
    globals()[sys.argv[1]]()

"""icestat's processes keep freed memory for reuse: a large block freed and allocated again costs no page faults."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt's settings are glibc's")

# Page faults of filling a 256 MiB block, then of filling one allocated after freeing it; in a fresh process,
# before and after `SETUP` runs.
_SCRIPT = r"""
import resource, sys
import numpy as np

def faults_of_filled_block():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = np.ones(2**25)
    return block, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

def first_and_again():
    block, first = faults_of_filled_block()
    del block
    return first, faults_of_filled_block()[1]

print(*first_and_again())
exec(sys.argv[1])
print(*first_and_again())
"""


def faults_before_and_after(setup: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """((first, again) page faults before `setup` runs, (first, again) after), in a fresh Python process."""
    result = subprocess.run([sys.executable, "-c", _SCRIPT, setup], capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()   # the first and the last: `setup` may print between them
    before, after = (tuple(int(n) for n in line.split()) for line in (lines[0], lines[-1]))
    return before, after


def test_keep_freed_memory_reuses_the_pages_of_a_freed_block():
    before, after = faults_before_and_after(
        "from icestat.allocator import keep_freed_memory; assert keep_freed_memory()")
    assert before[0] > 0 and before[1] >= before[0] // 2   # glibc's default: the block unmapped, faulted in again
    assert after[1] <= after[0] // 20                       # kept: its pages are still there


def test_the_command_line_keeps_freed_memory():
    before, after = faults_before_and_after(
        "from icestat.cli import main\ntry:\n    main(['info', '--help'])\nexcept SystemExit:\n    pass")
    assert before[1] >= before[0] // 2
    assert after[1] <= after[0] // 20

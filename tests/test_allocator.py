"""icestat's processes keep freed memory for reuse: a large block freed and allocated again costs no page faults."""

from __future__ import annotations

import inspect
import platform
import subprocess
import sys

import pytest

import page_faults

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt's settings are glibc's")

# In a fresh process: the page faults of a block allocated again, before and after the setup in argv[1] runs.
_SCRIPT = inspect.getsource(page_faults) + """
import sys
print(*faults_of_a_block_again())
exec(sys.argv[1])
print(*faults_of_a_block_again())
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

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


@pytest.mark.parametrize("program", ["icestat.cli", "icestat.cli.relion"])
def test_the_programs_keep_freed_memory_and_their_main_leaves_it_to_the_caller(program):
    # The console scripts' functions (`icestat`, `icestat-relion`) do; `main(argv)`, which tests and scripts call
    # in their own process, does not.
    run = ("import sys\nfrom {module} import {function}\nsys.argv = ['icestat', '--help']\n"
           "try:\n    {function}({arguments})\nexcept SystemExit:\n    pass")
    before, after = faults_before_and_after(run.format(module=program, function="command", arguments=""))
    assert before[1] >= before[0] // 2
    assert after[1] <= after[0] // 20
    _, after_main = faults_before_and_after(run.format(module="icestat.cli", function="main", arguments="['--help']"))
    assert after_main[1] >= after_main[0] // 2

"""Record the GPU tests' outcome: a pytest JUnit XML report as a table in benchmarks/results/gpu_tests.md.

Usage (benchmarks/gpu_check.sh runs it on the GPU machine):
    python benchmarks/gpu_tests_report.py REPORT.xml
"""

from __future__ import annotations

import argparse
import platform
import time
import xml.etree.ElementTree as ElementTree

from _report import gpu_name, publish


def outcome(case: ElementTree.Element) -> str:
    """``passed``, ``failed``, ``error`` or ``skipped``, with the first line of the reason where there is one."""
    for tag in ("failure", "error", "skipped"):
        found = case.find(tag)
        if found is not None:
            word = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
            reason = (found.get("message") or "").splitlines()
            return f"{word}: {reason[0][:120]}" if reason else word
    return "passed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", help="pytest --junitxml output")
    args = parser.parse_args()
    cases = list(ElementTree.parse(args.report).getroot().iter("testcase"))
    outcomes = [outcome(case) for case in cases]
    lines = ["# Tests on a GPU (numba's CUDA simulator off)", "",
             f"{time.strftime('%Y-%m-%d')}, cuda{gpu_name('cuda')}, Python {platform.python_version()}; "
             f"{outcomes.count('passed')} of {len(cases)} passed. Written by benchmarks/gpu_tests_report.py "
             "(benchmarks/gpu_check.sh).", "",
             "| test | outcome | seconds |", "| --- | --- | ---: |"]
    lines += [f"| {case.get('classname')}::{case.get('name')} | {result} | {float(case.get('time', 0)):.1f} |"
              for case, result in zip(cases, outcomes)]
    publish(lines, "gpu_tests.md")


if __name__ == "__main__":
    main()

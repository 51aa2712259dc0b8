"""Shared by the benchmark scripts: print a Markdown table and keep it in benchmarks/results/."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def publish(lines: list[str], file_name: str) -> None:
    """Print the lines and write them to ``benchmarks/results/<file_name>``."""
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / file_name).write_text(text + "\n")

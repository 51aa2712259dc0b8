"""benchmarks/_report.py: a rerun of a benchmark keeps the runs before it in its results file."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from _report import EARLIER_RUNS_HEADING, publish  # noqa: E402


def test_publish_puts_the_latest_run_first_and_keeps_every_earlier_one(tmp_path, capsys):
    for run in ("first", "second", "third"):
        publish([f"# Speed ({run} run)", "", f"| {run} |"], "speed.md", tmp_path)
    assert "| third |" in capsys.readouterr().out
    text = (tmp_path / "speed.md").read_text()
    assert text.startswith("# Speed (third run)\n")
    assert text.count(EARLIER_RUNS_HEADING) == 1
    assert text.index("third") < text.index(EARLIER_RUNS_HEADING) < text.index("second") < text.index("first")
    assert text.count("| first |") == text.count("| second |") == text.count("| third |") == 1


def test_publish_makes_the_folder_and_a_new_file_holds_only_the_run(tmp_path):
    folder = tmp_path / "results"
    publish(["# Only run"], "new.md", folder)
    assert (folder / "new.md").read_text() == "# Only run\n"

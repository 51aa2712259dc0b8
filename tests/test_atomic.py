"""Atomic output: a failed write leaves the old file and no temporary file."""

import os
import stat

import pytest

from icestat._atomic import atomic_path


def test_success_replaces_the_target(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".txt" and tmp != target
        tmp.write_text("new")
        assert target.read_text() == "old"  # not visible until done
    assert target.read_text() == "new"
    assert list(tmp_path.iterdir()) == [target]


def test_failure_keeps_the_old_file_and_cleans_up(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_a_file_written_has_the_permissions_of_one_made_the_usual_way(tmp_path, umask):
    # The temporary file is made owner-only; what is renamed onto the target must not stay so, or a facility's
    # other users (RELION run by a colleague) could not read the picks.
    before = os.umask(umask)
    try:
        with atomic_path(tmp_path / "out.star") as tmp:
            tmp.write_text("picks")
        usual = tmp_path / "usual.star"
        usual.write_text("picks")
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "out.star").stat().st_mode) == stat.S_IMODE(usual.stat().st_mode) == 0o666 & ~umask

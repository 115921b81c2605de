"""The writer: idempotent, reports every change, and leaves no half-written tree."""

from __future__ import annotations

import os

import pytest

from edgegenai import writer

FILES = {"meta-x/a.txt": "a\n", "meta-x/sub/b.txt": "b\n", "kas/c.yml": "c\n"}


def test_first_write_creates_everything(tmp_path):
    changes = writer.write(FILES, tmp_path)
    assert [(c.path, c.action) for c in changes] == [
        ("kas/c.yml", "created"), ("meta-x/a.txt", "created"), ("meta-x/sub/b.txt", "created")]
    assert (tmp_path / "meta-x/sub/b.txt").read_text() == "b\n"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".edgegenai-")]


def test_second_write_touches_nothing(tmp_path):
    writer.write(FILES, tmp_path)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    changes = writer.write(FILES, tmp_path)
    assert {c.action for c in changes} == {"unchanged"}
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_update_and_remove_are_reported(tmp_path):
    writer.write(FILES, tmp_path)
    (tmp_path / "meta-x/stale.bb").write_text("old\n")
    new = dict(FILES, **{"meta-x/a.txt": "A\n"})
    actions = {c.path: c.action for c in writer.write(new, tmp_path)}
    assert actions["meta-x/a.txt"] == "updated"
    assert actions["meta-x/stale.bb"] == "removed"
    assert actions["kas/c.yml"] == "unchanged"
    assert not (tmp_path / "meta-x/stale.bb").exists()


def test_files_outside_the_managed_roots_are_left_alone(tmp_path):
    (tmp_path / "README.md").write_text("mine\n")
    writer.write(FILES, tmp_path)
    assert (tmp_path / "README.md").read_text() == "mine\n"


def test_diff_shows_what_would_change(tmp_path):
    writer.write(FILES, tmp_path)
    new = dict(FILES, **{"kas/c.yml": "C\n"})
    text = writer.diff(new, tmp_path)
    assert "--- a/kas/c.yml\n+++ b/kas/c.yml\n" in text and "-c\n+C\n" in text
    assert writer.diff(FILES, tmp_path) == ""


def test_failed_swap_restores_the_old_tree(tmp_path, monkeypatch):
    writer.write(FILES, tmp_path)
    real_rename = os.rename
    calls = []

    def flaky(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the new tree's move into place
            raise OSError("disk gone")
        return real_rename(src, dst)

    monkeypatch.setattr(writer.os, "rename", flaky)
    with pytest.raises(OSError):
        writer.write(dict(FILES, **{"kas/c.yml": "C\n"}), tmp_path)
    monkeypatch.setattr(writer.os, "rename", real_rename)
    assert (tmp_path / "kas/c.yml").read_text() == "c\n"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".edgegenai-")]

"""The writer: idempotent, all or nothing, owning only the files it wrote."""

from __future__ import annotations

import os
import threading
import time

import pytest

from edgegenai import writer
from edgegenai.errors import UserError

FILES = {"meta-x/a.txt": "a\n", "meta-x/sub/b.txt": "b\n", "kas/c.yml": "c\n"}


def _staging(out):
    return [p for p in os.listdir(out) if p.startswith(writer.STAGING_PREFIX)]


def test_first_write_creates_everything_and_records_it(tmp_path):
    changes = writer.write(FILES, tmp_path)
    assert [(c.path, c.action) for c in changes] == [
        (".edgegenai-manifest", "created"), ("kas/c.yml", "created"), ("meta-x/a.txt", "created"),
        ("meta-x/sub/b.txt", "created")]
    assert (tmp_path / "meta-x/sub/b.txt").read_text() == "b\n"
    assert writer.owned(tmp_path) == set(FILES)
    assert not _staging(tmp_path)


def test_second_write_touches_nothing(tmp_path):
    writer.write(FILES, tmp_path)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    changes = writer.write(FILES, tmp_path)
    assert {c.action for c in changes} == {"unchanged"}
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_generated_leftovers_go_and_the_users_files_stay(tmp_path):
    writer.write(FILES, tmp_path)
    (tmp_path / "kas/my-product.yml").write_text("mine\n")
    (tmp_path / "meta-x/recipes-mine").mkdir()
    (tmp_path / "meta-x/recipes-mine/mine.bb").write_text("LICENSE = \"MIT\"\n")
    os.symlink("c.yml", tmp_path / "kas/link.yml")
    new = {"meta-x/a.txt": "A\n", "kas/c.yml": "c\n"}  # sub/b.txt is no longer rendered
    actions = {c.path: c.action for c in writer.write(new, tmp_path)}
    assert actions["meta-x/a.txt"] == "updated"
    assert actions["meta-x/sub/b.txt"] == "removed"
    assert actions["kas/my-product.yml"] == actions["meta-x/recipes-mine/mine.bb"] == "kept"
    assert not (tmp_path / "meta-x/sub/b.txt").exists()
    assert (tmp_path / "kas/my-product.yml").read_text() == "mine\n"
    assert (tmp_path / "meta-x/recipes-mine/mine.bb").read_text() == "LICENSE = \"MIT\"\n"
    assert os.readlink(tmp_path / "kas/link.yml") == "c.yml"
    assert writer.owned(tmp_path) == set(new)


def test_without_a_manifest_nothing_is_removed(tmp_path):
    (tmp_path / "kas").mkdir()
    (tmp_path / "kas/old-generated-or-mine.yml").write_text("?\n")
    actions = {c.path: c.action for c in writer.write(FILES, tmp_path)}
    assert actions["kas/old-generated-or-mine.yml"] == "kept"
    assert (tmp_path / "kas/old-generated-or-mine.yml").exists()


def test_a_hand_edited_manifest_cannot_point_outside(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "victim").write_text("keep\n")
    (tmp_path / "out/.edgegenai-manifest").write_text("../victim\n/etc/passwd\nkas/c.yml\n")
    writer.write(FILES, tmp_path / "out")
    assert (tmp_path / "victim").read_text() == "keep\n"
    assert writer.owned(tmp_path / "out") == set(FILES)


@pytest.mark.parametrize("path", ["../evil.bb", "/etc/evil", "meta-x/../../evil", "meta-x//a", "meta-x/./a",
                                  "", "meta-x\\..\\evil", ".edgegenai-manifest", "x/" + "n" * 300])
def test_paths_are_confined_to_the_output_directory(tmp_path, path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="refusing to write"):
        writer.write({path: "x\n", **FILES}, out)
    assert not out.exists()


@pytest.mark.parametrize("thing", ["meta-x", "kas"])
def test_a_file_in_the_way_is_an_error(tmp_path, thing):
    (tmp_path / thing).write_text("not a directory\n")
    with pytest.raises(UserError, match=f"{thing}: is in the way"):
        writer.write(FILES, tmp_path)
    assert (tmp_path / thing).read_text() == "not a directory\n"
    assert not (tmp_path / writer.MANIFEST).exists() and not _staging(tmp_path)


def test_an_output_directory_under_a_file_is_a_user_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="Not a directory|not a directory"):
        writer.write(FILES, tmp_path / "file" / "out")


def test_diff_shows_what_would_change(tmp_path):
    writer.write(FILES, tmp_path)
    new = dict(FILES, **{"kas/c.yml": "C\n"})
    text = writer.diff(new, tmp_path)
    assert "--- a/kas/c.yml\n+++ b/kas/c.yml\n" in text and "-c\n+C\n" in text
    assert writer.diff(FILES, tmp_path) == ""


def _interrupt_after(tmp_path, monkeypatch, renames):
    """Run a write that dies (as if killed) after `renames` renames of its swap."""
    real_rename, calls = os.rename, []

    def dying(src, dst):
        calls.append(src)
        if len(calls) > renames:
            raise KeyboardInterrupt
        return real_rename(src, dst)

    monkeypatch.setattr(writer.os, "rename", dying)
    with pytest.raises(KeyboardInterrupt):
        writer.write(dict(FILES, **{"kas/c.yml": "C\n", "meta-x/a.txt": "A\n"}), tmp_path)
    monkeypatch.setattr(writer.os, "rename", real_rename)


@pytest.mark.parametrize("renames", [0, 1, 2, 3])
def test_an_interrupted_swap_is_finished_by_the_next_run(tmp_path, monkeypatch, renames):
    writer.write(FILES, tmp_path)
    _interrupt_after(tmp_path, monkeypatch, renames)
    # Whatever the moment, the next run leaves the complete new rendering and no staging.
    changes = writer.write(dict(FILES, **{"kas/c.yml": "C\n", "meta-x/a.txt": "A\n"}), tmp_path)
    assert (tmp_path / "kas/c.yml").read_text() == "C\n"
    assert (tmp_path / "meta-x/a.txt").read_text() == "A\n"
    assert (tmp_path / "meta-x/sub/b.txt").read_text() == "b\n"
    assert {c.action for c in changes} == {"unchanged"}
    assert not _staging(tmp_path)


def test_an_incomplete_staging_is_removed_and_the_old_tree_kept(tmp_path):
    writer.write(FILES, tmp_path)
    stale = tmp_path / f"{writer.STAGING_PREFIX}dead"
    (stale / "new/kas").mkdir(parents=True)
    (stale / "new/kas/c.yml").write_text("half\n")  # no journal: the swap never began
    assert writer.recover(tmp_path) == []
    assert not stale.exists()
    assert (tmp_path / "kas/c.yml").read_text() == "c\n"


def test_a_second_run_waits_for_the_first(tmp_path):
    writer.write(FILES, tmp_path)
    with writer._locked(tmp_path, 1):
        with pytest.raises(UserError, match="another edgegenai generate is writing here"):
            writer.write(dict(FILES, **{"kas/c.yml": "C\n"}), tmp_path, lock_wait=0.3)
    done = []

    def holder():
        with writer._locked(tmp_path, 1):
            time.sleep(0.5)
        done.append(time.monotonic())

    t = threading.Thread(target=holder)
    t.start()
    time.sleep(0.1)
    writer.write(dict(FILES, **{"kas/c.yml": "C\n"}), tmp_path, lock_wait=5)
    finished = time.monotonic()
    t.join()
    assert done and finished >= done[0] - 0.05  # it waited for the holder instead of interleaving
    assert (tmp_path / "kas/c.yml").read_text() == "C\n"


def test_a_read_only_output_directory_is_a_user_error(tmp_path, monkeypatch):
    writer.write(FILES, tmp_path)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(writer.tempfile, "mkdtemp", refuse)
    with pytest.raises(UserError, match=f"^{tmp_path}: Permission denied$"):
        writer.write(dict(FILES, **{"kas/c.yml": "C\n"}), tmp_path)
    assert (tmp_path / "kas/c.yml").read_text() == "c\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes whatever the modes say")
@pytest.mark.parametrize("mode", [0o500, 0o300])
def test_an_unwritable_or_unreadable_directory_is_a_user_error(tmp_path, mode):
    writer.write(FILES, tmp_path / "out")
    (tmp_path / "out/kas").chmod(mode)
    try:
        with pytest.raises(UserError, match="Permission denied"):
            writer.write(dict(FILES, **{"kas/c.yml": "C\n"}), tmp_path / "out")
    finally:
        (tmp_path / "out/kas").chmod(0o755)

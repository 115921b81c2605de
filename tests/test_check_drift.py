"""The drift check: a committed layer that is not what the spec renders is stale."""

from __future__ import annotations

import shutil

from edgegenai import writer
from edgegenai.checks import Workspace, drift

from conftest import ROOT


def _copy(tmp_path):
    for top in ("meta-edgegenai", "kas"):
        shutil.copytree(ROOT / top, tmp_path / top)
    shutil.copy(ROOT / writer.MANIFEST, tmp_path / writer.MANIFEST)
    return Workspace(tmp_path)


def test_committed_tree_is_not_stale():
    assert drift.check(Workspace(ROOT)).findings == []


def test_hand_edit_missing_file_and_leftover_are_stale_the_users_files_are_not(tmp_path):
    ws = _copy(tmp_path)
    image = tmp_path / "meta-edgegenai/recipes-core/images/edgegenai-image.bb"
    lines = image.read_text().splitlines(keepends=True)
    lines[13] = 'IMAGE_FEATURES += "debug-tweaks"\n'
    image.write_text("".join(lines))
    (tmp_path / "kas/opt/mine.yml").write_text("header:\n  version: 14\n")  # the user's own
    (tmp_path / "kas/opt/old.yml").write_text("header:\n  version: 14\n")  # generated once
    with open(tmp_path / writer.MANIFEST, "a") as manifest:
        manifest.write("kas/opt/old.yml\n")
    (tmp_path / "kas/opt/debug.yml").unlink()
    found = [(f.id, f.location) for f in drift.check(ws).findings]
    assert found == [
        ("edgegenai.drift.stale", "kas/opt/debug.yml"),
        ("edgegenai.drift.stale", "kas/opt/old.yml"),
        ("edgegenai.drift.stale", "meta-edgegenai/recipes-core/images/edgegenai-image.bb:14"),
    ]
    messages = {f.path: f.message for f in drift.check(ws).findings}
    assert messages["kas/opt/debug.yml"].startswith("is missing")
    assert messages["kas/opt/old.yml"].startswith("was generated but the spec no longer renders it")
    assert "edgegenai generate" in messages["kas/opt/old.yml"]

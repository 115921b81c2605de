"""The pins check: floating sources are caught with their exact id and line."""

from __future__ import annotations

import shutil
from pathlib import Path

from edgegenai.checks import Workspace, pins

from conftest import ROOT

DATA = Path(__file__).with_suffix("")


def _layer(tmp_path, name):
    recipe = tmp_path / "meta-edgegenai" / "recipes-x" / "x" / name
    recipe.parent.mkdir(parents=True)
    shutil.copy(DATA / name, recipe)
    return Workspace(tmp_path)


def _found(ws):
    return [(f.id, f.location) for f in pins.check(ws).findings]


def test_autorev_git_and_network_task(tmp_path):
    where = "meta-edgegenai/recipes-x/x/autorev_git.bb"
    assert sorted(_found(_layer(tmp_path, "autorev_git.bb"))) == [
        ("edgegenai.pins.autorev", f"{where}:6"),
        ("edgegenai.pins.network-task", f"{where}:8"),
        ("edgegenai.pins.srcrev", f"{where}:5"),  # no 40-hex SRCREV
        ("edgegenai.pins.srcrev", f"{where}:5"),  # no branch= / nobranch=1
    ]


def test_remote_file_needs_its_own_sha256(tmp_path):
    findings = pins.check(_layer(tmp_path, "unpinned_file.bb")).findings
    assert [(f.id, f.location) for f in findings] == [
        ("edgegenai.pins.sha256", "meta-edgegenai/recipes-x/x/unpinned_file.bb:4")]
    assert "SRC_URI[model.sha256sum]" in findings[0].message


def test_pinned_sources_pass(tmp_path):
    assert _found(_layer(tmp_path, "pinned.bb")) == []


def test_committed_layer_is_pinned():
    assert _found(Workspace(ROOT)) == []


def test_md5_only_with_a_written_reason_is_shown_not_failed(tmp_path):
    outcome = pins.check(_layer(tmp_path, "md5_waived.bb"))
    assert [(f.id, f.severity, f.location) for f in outcome.findings] == [
        ("edgegenai.pins.md5-only", "info", "meta-edgegenai/recipes-x/x/md5_waived.bb:5")]
    assert "the vendor publishes md5 checksums only" in outcome.findings[0].message
    assert not any(f.fails for f in outcome.findings)


def test_md5_only_without_a_reason_fails(tmp_path):
    outcome = pins.check(_layer(tmp_path, "md5_unwaived.bb"))
    assert [(f.id, f.location) for f in outcome.findings] == [
        ("edgegenai.pins.sha256", "meta-edgegenai/recipes-x/x/md5_unwaived.bb:4")]
    assert any(f.fails for f in outcome.findings)

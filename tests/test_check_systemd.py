"""The systemd check: units verified as installed, services scored for exposure."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edgegenai.checks import Workspace, systemd

from conftest import ROOT

DATA = Path(__file__).with_suffix("")

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze not installed (apt-get install systemd)")


def test_committed_service_verifies_and_scores_ok():
    outcome = systemd.check(Workspace(ROOT))
    assert outcome.findings == []
    watchdog, server = sorted(outcome.notes)
    assert server.startswith("llama-server.service: exposure ") and server.endswith(" SAFE (limit 2.0)")
    assert watchdog.startswith("llama-server-watchdog.service: exposure ")
    for note in (watchdog, server):
        assert float(note.split()[2]) <= systemd.EXPOSURE_LIMIT


def test_unsandboxed_unit_with_a_typo(tmp_path):
    recipe_dir = tmp_path / "meta-edgegenai/recipes-ai/unsandboxed"
    (recipe_dir / "files").mkdir(parents=True)
    shutil.copy(DATA / "unsandboxed_1.0.bb", recipe_dir)
    shutil.copy(DATA / "unsandboxed.service", recipe_dir / "files")
    outcome = systemd.check(Workspace(tmp_path))
    where = "meta-edgegenai/recipes-ai/unsandboxed/files/unsandboxed.service"
    assert [(f.id, f.location) for f in outcome.findings] == [
        ("edgegenai.systemd.verify", f"{where}:6"),
        ("edgegenai.systemd.exposure", where),
    ]
    verify, exposure = outcome.findings
    assert "Unknown key 'Restrt' in section [Service]" in verify.message
    assert "above 2.0; set the directives that weigh most: " in exposure.message
    assert "PrivateNetwork=" in exposure.message or "User=/DynamicUser=" in exposure.message


def test_unreplaced_placeholder(tmp_path):
    unit = tmp_path / "meta-edgegenai/recipes-ai/x/files/x.service"
    unit.parent.mkdir(parents=True)
    unit.write_text((DATA / "unsandboxed.service").read_text())  # no recipe to replace @BINDIR@
    found = [(f.id, f.location) for f in systemd.check(Workspace(tmp_path)).findings]
    assert ("edgegenai.systemd.placeholder", "meta-edgegenai/recipes-ai/x/files/x.service") in found

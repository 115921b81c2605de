"""The shellcheck check: the layer's scripts, as installed, are shellcheck clean."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edgegenai.checks import Workspace, shellcheck

from conftest import ROOT

DATA = Path(__file__).with_suffix("")

pytestmark = pytest.mark.skipif(shutil.which("shellcheck") is None,
                                reason="shellcheck not installed (apt-get install shellcheck)")


def test_committed_script_is_clean():
    outcome = shellcheck.check(Workspace(ROOT))
    assert outcome.findings == [] and outcome.notes == ["shellcheck: 2 script(s)"]


def test_unquoted_variable_is_found(tmp_path):
    recipe_dir = tmp_path / "meta-edgegenai/recipes-ai/health"
    (recipe_dir / "files").mkdir(parents=True)
    shutil.copy(DATA / "health_1.0.bb", recipe_dir)
    shutil.copy(DATA / "health", recipe_dir / "files")
    findings = shellcheck.check(Workspace(tmp_path)).findings
    assert [(f.id, f.location) for f in findings] == [
        ("edgegenai.shellcheck.SC2086", "meta-edgegenai/recipes-ai/health/files/health:7")]
    assert "Double quote to prevent globbing" in findings[0].message


def test_recipes_are_not_shell_scripts():
    assert [p.name for p in shellcheck.scripts(Workspace(ROOT))] == ["llama-server-health", "llama-server-watchdog"]

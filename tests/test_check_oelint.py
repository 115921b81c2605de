"""The oelint check: oelint-adv per claimed release, ids under edgegenai.oelint."""

from __future__ import annotations

import shutil

from edgegenai.checks import WARNING, Workspace, oelint

from conftest import ROOT


def _layer_with_recipe(tmp_path, text):
    shutil.copytree(ROOT / "meta-edgegenai", tmp_path / "meta-edgegenai")
    recipe = tmp_path / "meta-edgegenai/recipes-ai/llama-cpp/llama-cpp_0.0.8770.bb"
    recipe.write_text(text(recipe.read_text()))
    return Workspace(tmp_path)


def test_autorev_recipe(tmp_path):
    ws = _layer_with_recipe(tmp_path, lambda t: t.replace(
        'SRCREV = "82764d8f405ff7928c061d8c100b50e9f77939f6"', 'SRCREV = "${AUTOREV}"'))
    where = "meta-edgegenai/recipes-ai/llama-cpp/llama-cpp_0.0.8770.bb"
    line = (ws.root / where).read_text().splitlines().index('SRCREV = "${AUTOREV}"') + 1
    findings = oelint.check(ws).findings
    assert [(f.id, f.severity, f.location) for f in findings] == [
        ("edgegenai.oelint.vars.autorev", WARNING, f"{where}:{line}")]
    assert "AUTOREV" in findings[0].message and "data/oelint-suppressions.yaml" in findings[0].message


def test_release_specific_finding_names_its_release(tmp_path):
    """S = "${WORKDIR}" is fine on scarthgap and rejected on wrynose: the finding says which."""
    shutil.copytree(ROOT / "meta-edgegenai", tmp_path / "meta-edgegenai")
    recipe = tmp_path / "meta-edgegenai/recipes-ai/edgegenai-llama-cpp-server/edgegenai-llama-cpp-server_1.0.bb"
    recipe.write_text(recipe.read_text().replace(
        """S = "${@d.getVar('UNPACKDIR') or d.getVar('WORKDIR')}\"""", 'S = "${WORKDIR}"'))
    line = recipe.read_text().splitlines().index('S = "${WORKDIR}"') + 1
    findings = oelint.check(Workspace(tmp_path)).findings
    assert [(f.id, f.location) for f in findings] == [(
        "edgegenai.oelint.vars.unpackdir",
        f"meta-edgegenai/recipes-ai/edgegenai-llama-cpp-server/edgegenai-llama-cpp-server_1.0.bb:{line}")]
    assert findings[0].message.startswith("Use ${UNPACKDIR} instead of ${WORKDIR} (--release wrynose);")


def test_rule_ids_become_finding_ids():
    assert oelint.finding_id("oelint.vars.autorev") == "edgegenai.oelint.vars.autorev"
    assert oelint.finding_id("oelint.var.suggestedvar.SECTION") == "edgegenai.oelint.var.suggestedvar.SECTION"


def test_homepage_ping_is_off_with_a_reason():
    assert "oelint.vars.homepageping" in oelint.suppressions()

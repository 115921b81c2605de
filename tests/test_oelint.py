"""oelint-adv over the committed layer: zero findings for every release it claims."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import resources

import pytest
import yaml

from conftest import ROOT

LAYER = ROOT / "meta-edgegenai"
SUPPRESSIONS = yaml.safe_load(
    resources.files("edgegenai").joinpath("data", "oelint-suppressions.yaml").read_text("utf-8"))


def _layer_files():
    return sorted(str(p.relative_to(ROOT)) for p in LAYER.rglob("*")
                  if p.suffix in (".bb", ".bbappend", ".bbclass", ".inc", ".conf"))


def _oelint():
    exe = shutil.which("oelint-adv")
    if exe:
        return [exe]
    return [sys.executable, "-m", "oelint_adv"]


def test_every_suppression_has_a_reason():
    assert SUPPRESSIONS and all(len(reason.split()) >= 5 for reason in SUPPRESSIONS.values())


@pytest.mark.parametrize("release", ["wrynose", "scarthgap"])
def test_layer_is_lint_clean(release):
    claimed = [line for line in (LAYER / "conf/layer.conf").read_text().splitlines()
               if line.startswith("LAYERSERIES_COMPAT")][0]
    assert release in claimed
    args = _oelint() + ["--quiet", "--relpaths", "--release", release]
    for rule in sorted(SUPPRESSIONS):
        args += ["--suppress", rule]
    run = subprocess.run(args + _layer_files(), cwd=ROOT, capture_output=True, text=True)
    findings = (run.stdout + run.stderr).strip()
    assert run.returncode == 0 and not findings, findings


def test_lint_catches_a_bad_recipe(tmp_path):
    """The same invocation fails on a recipe with AUTOREV and old override syntax."""
    bad = tmp_path / "recipes-x" / "bad" / "bad_1.0.bb"
    bad.parent.mkdir(parents=True)
    bad.write_text('SUMMARY = "x"\nLICENSE = "MIT"\nSRC_URI = "git://example.com/x.git;branch=main"\n'
                   'SRCREV = "${AUTOREV}"\nRDEPENDS_${PN} = "bash"\n')
    run = subprocess.run(_oelint() + ["--quiet", "--relpaths", "--release", "wrynose", str(bad)],
                         cwd=tmp_path, capture_output=True, text=True)
    findings = run.stdout + run.stderr
    assert run.returncode != 0
    assert "bad_1.0.bb:5:" in findings and "RDEPENDS_" in findings

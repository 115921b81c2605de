"""The bitbake check: real `bitbake -p` / `bitbake -g`, offline, on upstream checkouts.

Needs EDGEGENAI_BITBAKE_ROOT (a directory of <release>/<repo> work trees:
bitbake, openembedded-core, meta-yocto, ...); skipped with the reason
printed otherwise.  A cold parse takes a minute or two per board and
release; build directories are kept between runs, so later runs are warm.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from edgegenai.checks import Workspace, bitbake

from conftest import ROOT

DATA = Path(__file__).with_suffix("")
CHECKOUT = os.environ.get("EDGEGENAI_BITBAKE_ROOT")

pytestmark = [
    pytest.mark.bitbake,
    pytest.mark.skipif(not CHECKOUT, reason="EDGEGENAI_BITBAKE_ROOT is not set: no upstream layer "
                                            "checkout to run BitBake on"),
]


def test_committed_layer_parses_and_resolves():
    outcome = bitbake.check(Workspace(ROOT, bitbake_root=Path(CHECKOUT)))
    assert outcome.skipped is None
    assert outcome.findings == []
    assert len(outcome.notes) == 4  # two boards x two releases


def test_bitbake_error_is_reported_at_the_recipe(tmp_path):
    shutil.copytree(ROOT / "meta-edgegenai", tmp_path / "meta-edgegenai")
    recipe = tmp_path / "meta-edgegenai/recipes-core/broken/broken_1.0.bb"
    recipe.parent.mkdir(parents=True)
    shutil.copy(DATA / "broken.bb", recipe)
    ws = Workspace(tmp_path, spec_file=DATA / "spec.yaml", bitbake_root=Path(CHECKOUT))
    findings = bitbake.check(ws).findings
    assert findings and {f.id for f in findings} == {"edgegenai.bitbake.error"}
    assert any(f.path == "meta-edgegenai/recipes-core/broken/broken_1.0.bb" and
               "edgegenai_no_such_class" in f.message for f in findings), findings



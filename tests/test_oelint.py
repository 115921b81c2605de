"""oelint-adv over the committed layer: zero findings for every release it claims.

Runs oelint-adv the way `edgegenai check` does (edgegenai.checks.oelint).
"""

from __future__ import annotations

from edgegenai.checks import Workspace, oelint

from conftest import ROOT

LAYER = ROOT / "meta-edgegenai"
SUPPRESSIONS = oelint.suppressions()


def _layer_files():
    return [Workspace(ROOT).rel(p) for p in Workspace(ROOT).layer_files()]


def test_every_suppression_has_a_reason():
    assert SUPPRESSIONS and all(len(reason.split()) >= 5 for reason in SUPPRESSIONS.values())


def test_layer_is_lint_clean():
    ws = Workspace(ROOT)
    claimed = [line for line in (LAYER / "conf/layer.conf").read_text().splitlines()
               if line.startswith("LAYERSERIES_COMPAT")][0]
    assert ws.releases == ["wrynose", "scarthgap"]
    assert all(release in claimed for release in ws.releases)
    for release in ws.releases:
        rows, trouble = oelint.lint(_layer_files(), release, ROOT)
        assert rows == [] and not trouble, (release, rows, trouble)
    assert oelint.check(ws).findings == []


def test_lint_catches_a_bad_recipe(tmp_path):
    """The same invocation fails on a recipe with AUTOREV and old override syntax."""
    bad = tmp_path / "recipes-x" / "bad" / "bad_1.0.bb"
    bad.parent.mkdir(parents=True)
    bad.write_text('SUMMARY = "x"\nLICENSE = "MIT"\nSRC_URI = "git://example.com/x.git;branch=main"\n'
                   'SRCREV = "${AUTOREV}"\nRDEPENDS_${PN} = "bash"\n')
    rows, _ = oelint.lint([str(bad.relative_to(tmp_path))], "wrynose", tmp_path, suppress={})
    assert rows
    assert any(path == "recipes-x/bad/bad_1.0.bb" and line == 5 and "RDEPENDS_" in msg
               for path, line, _, _, msg in rows)

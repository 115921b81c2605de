"""The kas check: kas's own loader and schema, includes, pins, each board with each option."""

from __future__ import annotations

import shutil
from pathlib import Path

from edgegenai.checks import Workspace, kasconfig

from conftest import ROOT

DATA = Path(__file__).with_suffix("")


def _copy(tmp_path):
    shutil.copytree(ROOT / "kas", tmp_path / "kas")
    shutil.copytree(ROOT / "meta-edgegenai", tmp_path / "meta-edgegenai")
    return Workspace(tmp_path)


def _found(ws):
    return [(f.id, f.location) for f in kasconfig.check(ws).findings]


def test_committed_kas_files_pass():
    outcome = kasconfig.check(Workspace(ROOT))
    assert outcome.findings == []
    assert outcome.notes == ["kas: 7 files, 10 board/option combinations"]


def test_typod_key_is_found_at_its_line(tmp_path):
    ws = _copy(tmp_path)
    shutil.copy(DATA / "qemuarm64-typo.yml", tmp_path / "kas/qemuarm64.yml")
    findings = kasconfig.check(ws).findings
    assert [(f.id, f.location) for f in findings] == [("edgegenai.kas.schema", "kas/qemuarm64.yml:7")]
    assert "unknown key 'machin' at top level; did you mean 'machine'?" in findings[0].message


def test_missing_include(tmp_path):
    ws = _copy(tmp_path)
    shutil.copy(DATA / "qemuarm64-bad-include.yml", tmp_path / "kas/qemuarm64.yml")
    found = _found(ws)
    assert found == [("edgegenai.kas.include", "kas/qemuarm64.yml:4")]


def test_unpinned_repo_is_reported_where_its_url_is(tmp_path):
    ws = _copy(tmp_path)
    shutil.copy(DATA / "include-unpinned.yml", tmp_path / "kas/include/edgegenai.yml")
    found = _found(ws)
    # Boards alone and with debug.yml float; the release fragments pin a commit.
    assert found == [("edgegenai.kas.unpinned", "kas/include/edgegenai.yml:13")]
    message = kasconfig.check(ws).findings[0].message
    assert "repo 'bitbake' (https://git.openembedded.org/bitbake) is not pinned by commit" in message


def test_kas_menu_offers_only_existing_includes(tmp_path):
    ws = _copy(tmp_path)
    menu = tmp_path / "kas/Kconfig"
    if not menu.is_file():
        menu.write_text('config KAS_INCLUDE_DEBUG\n\tstring\n\tdefault "kas/opt/debug.yml"\n')
    menu.write_text(menu.read_text().replace('"kas/opt/debug.yml"', '"kas/opt/debgu.yml"'))
    line = menu.read_text().splitlines().index("config KAS_INCLUDE_DEBUG") + 1
    findings = kasconfig.check(ws).findings
    assert [(f.id, f.location) for f in findings] == [("edgegenai.kas.menu", f"kas/Kconfig:{line}")]
    assert findings[0].message == "KAS_INCLUDE_DEBUG offers kas/opt/debgu.yml, which does not exist"

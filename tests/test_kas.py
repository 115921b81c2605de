"""Every kas file, alone and combined with each option fragment, passes kas's own loader and schema."""

from __future__ import annotations

import re

import jsonschema
import pytest
import yaml
from kas import CONFIGSCHEMA
from kas.includehandler import ConfigFile

from conftest import ROOT

KAS_FILES = sorted((ROOT / "kas").rglob("*.yml"))
BOARDS = sorted((ROOT / "kas").glob("*.yml"))
OPTIONS = sorted((ROOT / "kas" / "opt").glob("*.yml"))


def _merge(base, extra):
    """kas's merge rule: mappings merge recursively, the later file wins."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _load(path):
    config = ConfigFile.load(str(path)).config
    jsonschema.validate(config, CONFIGSCHEMA)
    return config


@pytest.mark.parametrize("path", KAS_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_kas_file_matches_schema(path):
    _load(path)


@pytest.mark.parametrize("board", BOARDS, ids=lambda p: p.name)
@pytest.mark.parametrize("option", [None] + OPTIONS, ids=lambda p: p.name if p else "alone")
def test_board_with_option_resolves(board, option):
    config = _load(board)
    for include in config["header"]["includes"]:
        assert (ROOT / include).is_file(), f"{board.name} includes missing {include}"
        config = _merge(_load(ROOT / include), config)
    if option:
        config = _merge(config, _load(option))
    jsonschema.validate(config, CONFIGSCHEMA)
    assert config["machine"] == board.stem
    assert config["distro"] == "edgegenai"
    for name, repo in config["repos"].items():
        if repo and "url" in repo:
            assert len(repo["commit"]) == 40, f"{name} is not pinned by commit"
    layers = (ROOT / "meta-edgegenai" / "conf" / "layer.conf").read_text()
    if option and option.stem == "cve":
        # It requires the include of whichever release builds: each is in the layer.
        for release in re.findall(r"\S+", re.search(r'LAYERSERIES_COMPAT_edgegenai = "([^"]*)"', layers)[1]):
            include = f"meta-edgegenai/conf/distro/include/edgegenai-cve-{release}.inc"
            assert (ROOT / include).is_file(), include
    elif option and option.stem not in ("debug",):
        assert option.stem in layers, f"layer does not claim {option.stem}"


# Options that are not releases, by the kas menu symbol that selects them.
NON_RELEASE_SYMBOLS = {"debug": "DEBUG_IMAGE", "cve": "CVE_REPORT"}


@pytest.mark.parametrize("board", BOARDS, ids=lambda p: p.name)
@pytest.mark.parametrize("option", OPTIONS, ids=lambda p: p.name)
def test_kas_menu_selection_becomes_the_same_includes(tmp_path, board, option):
    """kas menu's own code turns a selection in kas/Kconfig into includes that exist."""
    from kas.plugins.menu import Menu
    from kconfiglib import Kconfig

    menu = Menu()
    menu.orig_config = {}  # no earlier .config.yaml
    menu.kconf = Kconfig(str(ROOT / "kas" / "Kconfig"), warn_to_stderr=False)
    symbol = "".join(c if c.isalnum() else "_" for c in board.stem).upper()
    menu.kconf.syms[f"BOARD_{symbol}"].set_value("y")
    if option.stem in NON_RELEASE_SYMBOLS:
        menu.kconf.syms[NON_RELEASE_SYMBOLS[option.stem]].set_value("y")
    else:
        menu.kconf.syms[f"RELEASE_{option.stem.upper()}"].set_value("y")
    saved = tmp_path / ".config.yaml"
    menu.save_config(str(saved), str(ROOT))
    config = yaml.safe_load(saved.read_text())
    includes = config["header"]["includes"]
    assert includes[0] == f"kas/{board.name}"
    assert f"kas/opt/{option.name}" in includes
    assert config["target"] == ["edgegenai-image"]
    assert all((ROOT / inc).is_file() for inc in includes)
    jsonschema.validate(config, CONFIGSCHEMA)

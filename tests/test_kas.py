"""Every kas file, alone and combined with each option fragment, passes kas's own loader and schema."""

from __future__ import annotations

import jsonschema
import pytest
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
    if option and option.stem not in ("debug",):
        assert option.stem in layers, f"layer does not claim {option.stem}"

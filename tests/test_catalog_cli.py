"""`edgegenai catalog`: what a spec can name, narrow for people, JSON for tools."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from edgegenai.cli.catalog import KINDS, command, fit

KIND_OF = {"boards": "boards", "engines": "engines", "accelerators": "accelerators", "models": "models",
           "features": "features"}


def _run(*args):
    result = CliRunner().invoke(command, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_narrow_tables_fit_80_columns_and_list_every_entry(catalog, kind):
    out = _run(kind).splitlines()
    assert max(len(line) for line in out) <= 80, "\n".join(out)
    names = [line.split()[0] for line in out[2:]]
    assert names == sorted(getattr(catalog, KIND_OF[kind]))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_json_has_every_field_of_every_entry(catalog, kind):
    entries = json.loads(_run(kind, "--json"))
    assert [e["name"] for e in entries] == sorted(getattr(catalog, KIND_OF[kind]))
    for entry in entries:
        assert set(getattr(catalog, KIND_OF[kind])[entry["name"]].model_dump()) <= set(entry)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_wide_shows_the_columns_the_narrow_table_leaves_out(kind):
    narrow, wide = _run(kind).splitlines()[0].split(), _run(kind, "--wide").splitlines()[0].split()
    assert len(wide) > len(narrow) and wide[:len(narrow)] == narrow


def test_board_json_says_which_engines_and_accelerators_it_can_take():
    boards = {b["name"]: b for b in json.loads(_run("boards", "--json"))}
    assert "hailo-genai" in boards["raspberrypi5"]["engines"]
    assert "hailo10h" in boards["raspberrypi5"]["accelerators"]
    assert "hailo-genai" not in boards["qemuarm64"]["engines"]
    assert boards["qemuarm64"]["accelerators"] == []
    accelerators = {a["name"]: a for a in json.loads(_run("accelerators", "--json"))}
    assert accelerators["intel-npu"]["boards"] == {"intel-corei7-64": ["wrynose"], "intel-skylake-64": ["wrynose"]}


def test_without_kind_it_counts_each(catalog):
    counts = json.loads(_run("--json"))
    assert counts == {"accelerators": len(catalog.accelerators), "boards": len(catalog.boards),
                      "engines": len(catalog.engines), "features": len(catalog.features),
                      "models": len(catalog.models)}


def test_fit_cuts_the_widest_column_with_an_ellipsis():
    out = fit([["a", "x" * 100]], ["K", "V"], width=20).splitlines()
    assert max(len(line) for line in out) <= 20
    assert out[2].endswith("...")

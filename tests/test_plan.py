"""`edgegenai plan`: what each device will run, before a build."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from click.testing import CliRunner

from edgegenai.cli.plan import command
from edgegenai.render import render
from edgegenai.spec import load_spec

from conftest import ROOT

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
SCHEMA = json.loads((ROOT / "tests" / "plan" / "plan.schema.json").read_text())


def _run(*args):
    result = CliRunner().invoke(command, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("example", EXAMPLES + [None], ids=lambda p: p.name if p else "default")
def test_plan_fits_80_columns_and_its_json_keeps_the_schema(example, catalog):
    args = [example] if example else []
    out = _run(*args)
    assert max(len(line) for line in out.splitlines()) <= 80
    plan = json.loads(_run(*args, "--json"))
    jsonschema.validate(plan, SCHEMA)
    spec = load_spec(example, catalog)
    assert [(d["board"], d["release"]) for d in plan["devices"]] == \
        [(b.name, r) for b in spec.boards for r in spec.releases]


def test_memory_figures_are_the_service_s_limits(catalog):
    """The plan's limits are the ones the memory drop-in gets (the estimate the spec check uses)."""
    example = ROOT / "examples" / "quantise-per-board.yaml"
    spec = load_spec(example, catalog)
    files = render(spec, catalog)
    plan = json.loads(_run(example, "--json"))
    dropins = {p: t for p, t in files.items() if p.endswith("/10-memory.conf")}
    assert dropins
    for device in plan["devices"]:
        mem = device["engines"][0]["memory"]
        machine_file = [t for p, t in dropins.items() if f"/files/{device['machine']}/" in p]
        text = machine_file[0] if machine_file else next(t for p, t in dropins.items() if "/files/10-memory" in p)
        assert f"MemoryHigh={mem['high_mib']}M\n" in text and f"MemoryMax={mem['max_mib']}M\n" in text
        assert mem["left_mib"] == mem["board_mib"] - mem["system_reserve_mib"] - mem["high_mib"]


def test_a_model_on_the_accelerator_is_not_counted_against_the_board():
    plan = json.loads(_run(ROOT / "examples" / "raspberrypi5-ai-hat-2.yaml", "--json"))
    engine = plan["devices"][0]["engines"][0]
    assert engine["devices"] == ["hailo10h (fitted)"]
    assert engine["memory"] == {"where": "accelerator", "service_max": "512M"}
    assert plan["devices"][0]["accelerators"][0]["runtime"] == "hailort 5.3.0"
    assert plan["devices"][0]["licence_flags"] == [{"flag": "hailo-firmware",
                                                    "fragment": "kas/opt/hailo-firmware.yml"}]


def test_layers_are_the_kas_pins(catalog):
    plan = json.loads(_run(ROOT / "examples" / "imx8mp.yaml", "--json"))
    include = (ROOT / "kas" / "include" / "edgegenai.yml").read_text()
    wrynose = next(d for d in plan["devices"] if d["release"] == "wrynose")
    core = next(l for l in wrynose["layers"] if l["repo"] == "openembedded-core")
    assert f"commit: {core['commit']}" in include
    assert "meta-freescale" in [l["repo"] for l in wrynose["layers"]]


def test_markdown_has_a_section_per_device():
    out = _run(ROOT / "examples" / "hailo10h-and-cpu-boards.yaml", "--markdown")
    assert re.findall(r"^### (\S+ on \S+)", out, re.M) == [
        "raspberrypi5 on wrynose", "raspberrypi5 on scarthgap", "qemuarm64 on wrynose", "qemuarm64 on scarthgap"]
    assert "| engine | hailo-genai on hailo10h (fitted); HTTP on 127.0.0.1:8080 |" in out


def test_diff_shows_what_a_spec_change_changes_per_device(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text("boards: [qemuarm64]\nreleases: [wrynose]\n")
    new = tmp_path / "new.yaml"
    new.write_text("boards: [qemuarm64]\nreleases: [wrynose]\nengines:\n  llama-cpp:\n"
                   "    server: {context_size: 8192}\n")
    out = _run(new, "--diff", old)
    assert out.startswith("--- old: qemuarm64 on wrynose\n+++ new: qemuarm64 on wrynose\n")
    assert "-  memory    566 MiB at a 4096-token context" in out
    assert "+  memory    726 MiB at a 8192-token context" in out
    assert _run(old, "--diff", old).strip() == "no device changes"


def test_json_and_markdown_together_are_a_usage_error():
    result = CliRunner().invoke(command, ["--json", "--markdown"])
    assert result.exit_code == 2

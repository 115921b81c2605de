"""`edgegenai init`: a commented spec that validates and generates, asked for or from flags."""

from __future__ import annotations

import yaml
from click.testing import CliRunner

from edgegenai import writer
from edgegenai.cli import init
from edgegenai.render import render
from edgegenai.spec import load_spec


def _init(tmp_path, *args, input=None):
    out = tmp_path / "edgegenai.yaml"
    result = CliRunner().invoke(init.command, ["-o", str(out), *args], input=input)
    return result, out


def test_defaults_make_a_spec_that_generates(tmp_path, catalog):
    result, out = _init(tmp_path, "--yes")
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("# Written by `edgegenai init`")
    spec = load_spec(out, catalog)
    assert [b.name for b in spec.boards] == ["qemuarm64"]
    assert [m.name for m in spec.models] == ["smollm2-360m-instruct-q4-k-m"]
    writer.write(render(spec, catalog), tmp_path / "layer")
    assert (tmp_path / "layer" / "kas" / "qemuarm64.yml").is_file()


def test_flags_choose_boards_accelerators_and_the_model_follows(tmp_path, catalog):
    result, out = _init(tmp_path, "--board", "raspberrypi5", "--accelerator", "raspberrypi5=hailo10h",
                        "--release", "wrynose", "--feature", "ssh", "--feature", "ota", "--yes")
    assert result.exit_code == 0, result.output
    raw = yaml.safe_load(out.read_text())
    assert raw["boards"] == [{"name": "raspberrypi5", "accelerators": ["hailo10h"]}]
    assert raw["engines"] == {"hailo-genai": {}}
    assert raw["models"] == ["qwen2.5-1.5b-instruct-hailo10h"]
    assert raw["image"] == {"features": ["ssh", "ota"]}
    render(load_spec(out, catalog), catalog)


def test_only_models_that_fit_every_board_are_offered(tmp_path, catalog):
    from edgegenai.cli.init import _fits
    big = catalog.models["smollm2-360m-instruct-q4-k-m"].model_copy(update={"size": 7 * 2**30})
    assert not _fits(catalog, big, ["qemuarm64"], {})
    assert _fits(catalog, big, ["jetson-agx-orin-devkit"], {})
    hef = catalog.models["qwen2.5-1.5b-instruct-hailo10h"]
    assert not _fits(catalog, hef, ["raspberrypi5", "qemuarm64"], {"raspberrypi5": ["hailo10h"]})


def test_it_asks_a_person(tmp_path, catalog, monkeypatch):
    monkeypatch.setattr(init, "_interactive", lambda: True)
    answers = "\n".join(["rpi9,rock-5b", "rock-5b", "wrynose", "rk3588-npu", "", "ssh,tools-debug"]) + "\n"
    result, out = _init(tmp_path, input=answers)
    assert result.exit_code == 0, result.output
    assert "not one of them: rpi9" in result.output
    raw = yaml.safe_load(out.read_text())
    assert raw["boards"] == [{"name": "rock-5b", "accelerators": ["rk3588-npu"]}]
    assert raw["releases"] == ["wrynose"]
    assert raw["image"]["features"] == ["ssh", "tools-debug"]
    load_spec(out, catalog)


def test_it_never_overwrites_and_names_bad_flags(tmp_path):
    result, out = _init(tmp_path, "--yes")
    before = out.read_text()
    result, _ = _init(tmp_path, "--yes", "--board", "qemux86-64")
    assert result.exit_code != 0 and "exists" in str(result.exception)
    assert out.read_text() == before
    result, _ = _init(tmp_path, "--yes", "--force", "--board", "rpi9")
    assert "--board: unknown 'rpi9'" in str(result.exception)
    result, _ = _init(tmp_path, "--yes", "--force", "--accelerator", "hailo10h")
    assert "must be BOARD=NAME" in str(result.exception)
    # A combination the spec refuses is refused before anything is written.
    result, _ = _init(tmp_path, "--yes", "--force", "--board", "qemuarm64", "--accelerator", "qemuarm64=hailo10h",
                      "--model", "smollm2-360m-instruct-q4-k-m")
    assert "hailo10h needs pcie" in str(result.exception)
    assert out.read_text() == before

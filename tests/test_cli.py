"""The command line as a user meets it: exit codes, messages, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edgegenai.render import render
from edgegenai.spec import load_spec

from conftest import ROOT


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "edgegenai", *args], cwd=cwd,
                          capture_output=True, text=True)


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("edgegenai, version ")


def test_boards_table_lists_the_catalog():
    out = run("boards", "--wide")
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["BOARD", "MACHINE", "ARCH"]
    assert any(line.startswith("qemuarm64 ") and "aarch64" in line for line in lines)
    assert any(line.startswith("llama-cpp ") and " vulkan " in line for line in lines)
    hailo8 = next(line for line in lines if line.startswith("hailo8 "))
    assert "hailo-pci, hailo8-firmware, hailort 4.23.0" in hailo8
    hailo10h = next(line for line in lines if line.startswith("hailo10h "))
    assert "hailo1x-pci, hailo10h-firmware, hailort 5.3.0" in hailo10h
    coral = next(line for line in lines if line.startswith("coral-pcie "))
    assert "gasket-driver, libedgetpu 16.0+git, python3-ai-edge-litert 2.2.0 (Python 3.12, 3.14)" in coral
    assert " raspberrypi5 (wrynose, scarthgap); rock-5b (wrynose, scarthgap) " in coral
    npu = next(line for line in lines if line.startswith("rk3588-npu "))
    assert " rock-5b (wrynose) " in npu
    assert "libteflon, python3-ai-edge-litert 2.2.0 (Python 3.12, 3.14)" in npu


def test_schema_is_json_schema():
    out = run("schema")
    schema = json.loads(out.stdout)
    assert schema["title"] == "edgegenai spec"
    assert "boards" in schema["required"]
    assert set(schema["properties"]) == {"project", "releases", "boards", "engines", "models", "image"}


def test_generate_default_then_check(tmp_path):
    first = run("generate", "-o", str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert "created  meta-edgegenai/conf/layer.conf" in first.stdout
    assert run("generate", "--check", "-o", str(tmp_path)).returncode == 0
    (tmp_path / "kas/qemuarm64.yml").write_text("edited\n")
    stale = run("generate", "--check", "-o", str(tmp_path))
    assert stale.returncode == 1
    assert "+++ b/kas/qemuarm64.yml" in stale.stdout
    assert "1 file(s) out of date" in stale.stderr
    again = run("generate", "-o", str(tmp_path))
    total = len(render(load_spec(None))) + 1  # and the manifest
    assert f"edgegenai: 0 created, 1 updated, {total - 1} unchanged, 0 removed" in again.stdout


def test_check_passes_on_the_committed_tree():
    out = run("generate", "--check", cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("text,message", [
    ("boards: [rpi9]\nmodels: [smollm2-360m-instruct-q4-k-m]\n", "edgegenai: error: boards[0]: unknown board 'rpi9'; known: imx8mp-lpddr4-evk, intel-corei7-64, intel-skylake-64, jetson-agx-orin-devkit, "),
    ("boards: [qemuarm64]\nengines:\n  llama-cpp:\n    backends: [vulkan]\nmodels: [smollm2-360m-instruct-q4-k-m]\n",
     "edgegenai: error: engines.llama-cpp.backends[0]: backend 'vulkan' needs vulkan, which board 'qemuarm64'"),
    ("boards: [\n", "not valid YAML"),
])
def test_bad_spec_exits_2_and_writes_nothing(tmp_path, text, message):
    spec = tmp_path / "edgegenai.yaml"
    spec.write_text(text)
    out_dir = tmp_path / "out"
    result = run("generate", str(spec), "-o", str(out_dir))
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out_dir.exists()


def test_missing_spec_file_exits_2(tmp_path):
    result = run("generate", str(tmp_path / "nope.yaml"), "-o", str(tmp_path / "out"))
    assert result.returncode == 2 and "cannot read spec" in result.stderr


def test_spec_command_prints_a_valid_spec(tmp_path):
    spec = tmp_path / "mine.yaml"
    spec.write_text(run("spec").stdout)
    assert run("generate", str(spec), "-o", str(tmp_path / "out")).returncode == 0


def test_boards_table_says_what_runs_where():
    """Per board: the device that runs models, on which releases, what models and through what."""
    out = run("boards", "--wide")
    assert out.returncode == 0
    rows = [line.split("  ") for line in out.stdout.splitlines()]
    rows = [[c.strip() for c in row if c.strip()] for row in rows]
    runs = [r for r in rows if len(r) == 5 and r[0] in ("intel-corei7-64", "raspberrypi5", "qemux86-64")]
    assert ["intel-corei7-64", "GPU (Vulkan)", "wrynose, scarthgap", "large language model (gguf)",
            "served over HTTP by llama-cpp (vulkan backend)"] in runs
    npu = next(r for r in runs if r[:2] == ["intel-corei7-64", "intel-npu (fitted)"])
    assert npu[2] == "wrynose" and "no LLM" in npu[3]
    assert not [r for r in runs if r[0] == "qemux86-64" and r[1] != "CPU"]


def test_boards_is_narrow_by_default_and_json_for_tools():
    out = run("boards")
    assert out.returncode == 0 and max(len(line) for line in out.stdout.splitlines()) <= 80
    assert any(line.split()[:2] == ["raspberrypi5", "hailo10h"] and line.rstrip().endswith("hailo-genai")
               for line in out.stdout.splitlines())
    boards = {b["board"]: b for b in json.loads(run("boards", "--json").stdout)}
    npu = [r for r in boards["intel-corei7-64"]["runs"] if r["device"] == "intel-npu (fitted)"]
    assert npu and npu[0]["releases"] == ["wrynose"]

"""The TensorRT engine builder as the device runs it: built once, rebuilt only when it must be.

The script is rendered for the Jetson example and run with its device paths
pointed into a temporary directory.  trtexec cannot run without an NVIDIA
GPU, so a stand-in records its arguments and writes the engine file; what
is under test is the script's own logic: where the engine goes, the stamp
it keeps, and when it builds again.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from edgegenai.render import render
from edgegenai.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "meta-edgegenai/recipes-ai/edgegenai-tensorrt-engine/files/tensorrt-engine"
MODEL = "mnist-8-onnx"

TRTEXEC = """#!/bin/sh
echo "$@" >> "$TRTEXEC_LOG"
for arg in "$@"; do
    case "$arg" in --saveEngine=*) echo engine > "${arg#--saveEngine=}" ;; esac
done
"""


@pytest.fixture
def device(tmp_path):
    files = render(load_spec(ROOT / "examples" / "jetson-orin.yaml"))
    models, state, lib = tmp_path / "models", tmp_path / "state", tmp_path / "lib"
    for d in (models / MODEL, state, lib):
        d.mkdir(parents=True)
    onnx = models / MODEL / "mnist-8.onnx"
    onnx.write_bytes(b"onnx model v1")
    (models / MODEL / "manifest.json").write_text(json.dumps(
        {"name": MODEL, "file": "mnist-8.onnx", "path": str(onnx)}, indent=2) + "\n")
    (lib / "libnvinfer.so.10.16.2").write_bytes(b"")
    trtexec = tmp_path / "trtexec"
    trtexec.write_text(TRTEXEC)
    trtexec.chmod(0o755)
    script = tmp_path / "tensorrt-engine"
    script.write_text(files[SCRIPT].replace("@MODEL_DIR@", str(models)).replace("@TRTEXEC@", str(trtexec))
                      .replace("@STATEDIR@", str(state)).replace("@LIBDIR@", str(lib)))
    script.chmod(0o755)
    log = tmp_path / "trtexec.log"

    def run():
        env = {**os.environ, "TRTEXEC_LOG": str(log)}
        env.pop("STATE_DIRECTORY", None)
        out = subprocess.run([str(script), MODEL], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        return out.stdout, (log.read_text().splitlines() if log.exists() else [])

    return {"run": run, "onnx": onnx, "state": state, "lib": lib}


def test_first_boot_builds_the_engine_and_stamps_it(device):
    out, calls = device["run"]()
    engine = device["state"] / f"{MODEL}.engine"
    assert calls == [f"--onnx={device['onnx']} --saveEngine={engine}.new --skipInference"]
    assert engine.read_text() == "engine\n" and not Path(f"{engine}.new").exists()
    digest = hashlib.sha256(b"onnx model v1").hexdigest()
    assert Path(f"{engine}.stamp").read_text() == f"{digest} tensorrt 10.16.2\n"
    assert "building the engine with TensorRT 10.16.2" in out


def test_a_kept_engine_is_not_built_again(device):
    device["run"]()
    out, calls = device["run"]()
    assert len(calls) == 1
    assert f"{MODEL}: engine up to date (TensorRT 10.16.2)" in out


def test_a_new_model_or_tensorrt_builds_again(device):
    device["run"]()
    device["onnx"].write_bytes(b"onnx model v2")
    _, calls = device["run"]()
    assert len(calls) == 2
    (device["lib"] / "libnvinfer.so.10.16.2").rename(device["lib"] / "libnvinfer.so.10.17.0")
    out, calls = device["run"]()
    assert len(calls) == 3 and "TensorRT 10.17.0" in out


def test_no_tensorrt_library_is_an_error(device):
    (device["lib"] / "libnvinfer.so.10.16.2").unlink()
    env = {**os.environ, "TRTEXEC_LOG": "/dev/null"}
    script = device["state"].parent / "tensorrt-engine"
    out = subprocess.run([str(script), MODEL], capture_output=True, text=True, env=env)
    assert out.returncode == 1 and "is tensorrt-core installed?" in out.stderr

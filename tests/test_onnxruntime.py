"""ONNX Runtime on Jetson: the engine's layer needs, and its oeqa case's model run by a real ONNX Runtime."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from edgegenai.render import render
from edgegenai.spec import SpecError, parse_spec

CASE = "meta-edgegenai/lib/oeqa/runtime/cases/edgegenai_onnxruntime.py"
NANO = "jetson-orin-nano-devkit"


def _render(catalog, **raw):
    raw.setdefault("boards", [NANO])
    raw.setdefault("releases", ["wrynose"])
    raw.setdefault("engines", {"onnxruntime": {}})
    return render(parse_spec(raw, catalog), catalog)


def _constants(case: str) -> dict:
    """The case module's top-level constants, read without importing oeqa."""
    out = {}
    for node in ast.parse(case).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def test_onnxruntime_brings_meta_tegra_community_and_its_dependencies(catalog):
    files = _render(catalog)
    assert 'LAYERDEPENDS_edgegenai = "core yocto meta-python openembedded-layer tegra tegra-community"\n' \
        in files["meta-edgegenai/conf/layer.conf"]
    include = files["kas/include/edgegenai.yml"]
    assert "  meta-tegra-community:\n    url: https://github.com/OE4T/meta-tegra-community.git\n" \
           "    branch: \"wrynose\"\n    commit: 9405ee23713d516fc51aee842a827ddbf64d5119\n" in include
    assert "      meta-python:\n" in include
    group = files["meta-edgegenai/recipes-core/packagegroups/packagegroup-edgegenai.bb"]
    assert "    onnxruntime \\\n    python3-onnxruntime \\\n" in group
    # A library: no service, no model.
    assert not [f for f in files if "recipes-models/" in f or "onnxruntime/files" in f]


def test_onnxruntime_is_refused_where_the_release_has_none(catalog):
    with pytest.raises(SpecError) as err:
        _render(catalog, releases=["wrynose", "scarthgap"])
    assert err.value.problems == [
        f"engines.onnxruntime: onnxruntime needs onnxruntime-gpu, which board '{NANO}' (boards[0]) has only "
        "on wrynose, not on scarthgap; drop scarthgap from releases"]
    with pytest.raises(SpecError):
        _render(catalog, boards=["qemuarm64"])


def test_the_oeqa_model_gives_the_expected_answer_in_onnx_runtime(catalog, tmp_path):
    """The case's embedded model and run script, on the CPU provider of a real ONNX Runtime."""
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install '.[test]')")
    case = _constants(_render(catalog)[CASE])
    assert case["PROVIDERS"] == ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    script = tmp_path / "run.py"
    script.write_text(case["RUN"])
    out = subprocess.run([sys.executable, str(script), case["MODEL"], "CPUExecutionProvider",
                          json.dumps(case["INPUT"])], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["providers"] == ["CPUExecutionProvider"]
    assert result["y"][0] == pytest.approx(case["EXPECTED"][0])

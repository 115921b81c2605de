"""The debug variant: tools, symbols and a tracing kernel in development images, none in production."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from edgegenai.render import render
from edgegenai.spec import load_spec

from conftest import ROOT, judge_on_linux_6_12

LAYER = "meta-edgegenai"
PG = f"{LAYER}/recipes-core/packagegroups/packagegroup-edgegenai-debug.bb"
FRAGMENT = "edgegenai-debug-tracing.cfg"


def _rendered(catalog, example=None):
    return render(load_spec(ROOT / "examples" / example if example else None, catalog), catalog)


@pytest.fixture(scope="module")
def default(catalog):
    return _rendered(catalog)


@pytest.fixture(scope="module")
def fleet(catalog):
    return _rendered(catalog, "hailo10h-and-cpu-boards.yaml")


def test_the_fragment_adds_the_override_and_the_tool_features(default):
    kas = yaml.safe_load(default["kas/opt/debug.yml"])
    conf = kas["local_conf_header"]["edgegenai-debug"]
    assert 'DISTROOVERRIDES:append = ":edgegenai-debug"' in conf
    features = re.search(r'EXTRA_IMAGE_FEATURES \+= "([^"]*)"', conf).group(1).split()
    assert {"tools-debug", "tools-profile"} <= set(features)
    # The default spec has no meta-openembedded: nothing to switch on.
    assert "repos" not in kas


def test_production_carries_none_of_it(default, fleet):
    """Every debug addition hangs on the override only kas/opt/debug.yml sets."""
    for files in (default, fleet):
        layer = {p: t for p, t in files.items() if p.startswith(LAYER) and p.endswith((".bb", ".bbappend", ".conf",
                                                                                       ".inc", ".bbclass"))}
        refs = [(p, line) for p, t in layer.items() for line in t.splitlines()
                if ("packagegroup-edgegenai-debug" in line or FRAGMENT in line or "tools-profile" in line
                    or "tools-debug" in line) and not line.lstrip().startswith("#") and p != PG]
        assert refs and all(":edgegenai-debug" in line for _, line in refs), refs
        assert not [p for p, t in files.items() if p.startswith("kas/") and p != "kas/opt/debug.yml"
                    and "edgegenai-debug" in t and "debug.yml" not in t]


def test_every_board_kernel_gets_the_tracing_fragment_in_debug_builds(fleet, catalog):
    spec = load_spec(ROOT / "examples" / "hailo10h-and-cpu-boards.yaml", catalog)
    for ref in spec.boards:
        board = catalog.boards[ref.name]
        kdir = "recipes-debug/linux" if board.kernel_layer == "core" else \
            f"dynamic-layers/{board.kernel_layer}/recipes-debug/linux"
        for provider in board.kernel_recipes():
            append = fleet[f"{LAYER}/{kdir}/{provider}_%.bbappend"]
            assert 'SRC_URI:append:edgegenai-debug = " file://edgegenai-debug-tracing.cfg"' in append
        assert f"{LAYER}/{kdir}/files/{FRAGMENT}" in fleet
    assert 'BBFILES_DYNAMIC += "raspberrypi:${LAYERDIR}/dynamic-layers/raspberrypi/*/*/*.bbappend"' in \
        fleet[f"{LAYER}/conf/layer.conf"]


def test_symbols_follow_the_engines_to_their_boards(default, fleet):
    assert "    llama-cpp-dbg \\\n" in default[PG] and "PACKAGE_ARCH" not in default[PG]
    pg = fleet[PG]
    assert 'PACKAGE_ARCH = "${MACHINE_ARCH}"' in pg
    assert 'RDEPENDS:${PN}:append:raspberrypi5 = " hailo-genai-server-dbg"' in pg
    assert 'RDEPENDS:${PN}:append:qemuarm64 = " llama-cpp-dbg"' in pg
    # meta-openembedded is in this spec's builds: the fragment adds meta-python for bpftrace.
    assert yaml.safe_load(fleet["kas/opt/debug.yml"])["repos"] == {
        "meta-openembedded": {"layers": {"meta-python": None}}}


class _D:
    def __init__(self, collections, series, flags):
        self.vars = {"BBFILE_COLLECTIONS": collections, "LAYERSERIES_CORENAMES": series}
        self.flags = flags

    def getVar(self, name):
        return self.vars.get(name)

    def getVarFlags(self, name):
        return self.flags


def test_tools_from_other_layers_only_where_the_build_has_them(default):
    pg = default[PG]
    body = re.search(r"^def edgegenai_debug_tools\(d\):\n(?:    .*\n|\n)+", pg, re.M).group(0)
    scope: dict = {}
    exec(body, scope)
    flags = dict(re.findall(r'^EDGEGENAI_DEBUG_TOOL\[(\w+)\] = "([^"]*)"', pg, re.M))
    tools = scope["edgegenai_debug_tools"]
    assert tools(_D("core yocto", "wrynose", flags)) == ""
    assert tools(_D("core openembedded-layer", "scarthgap", flags)) == "ltrace"
    assert tools(_D("core openembedded-layer meta-python", "scarthgap", flags)) == "ltrace"
    assert tools(_D("core openembedded-layer meta-python", "wrynose", flags)) == "bpftrace ltrace"


@pytest.mark.parametrize("arch", ["x86", "arm64"])
def test_tracing_fragment_merges_on_a_real_kernel(default, arch, tmp_path):
    lines, findings = judge_on_linux_6_12(default[f"{LAYER}/recipes-debug/linux/files/{FRAGMENT}"], arch, tmp_path)
    assert len(lines) == 14 and findings == []


def _buildlist(path: Path):
    return set(path.read_text().split()) if path.is_file() else None


def test_bitbake_graphs_differ_by_the_tools_alone():
    """With `edgegenai check --bitbake --bitbake-opt debug` run (EDGEGENAI_DEBUG_GRAPHS: its build
    directory base): the production graph has none of the tools, the debug one all of them."""
    base = os.environ.get("EDGEGENAI_DEBUG_GRAPHS")
    if not base:
        pytest.skip("EDGEGENAI_DEBUG_GRAPHS is not set (a build base of check --bitbake --bitbake-opt debug)")
    pairs = [(p, Path(str(p).removesuffix("-debug"))) for p in Path(base).glob("*-debug")]
    assert pairs
    tools = {"gdb", "strace", "perf", "lttng-tools", "lttng-modules", "valgrind", "llama-cpp"}
    for debug_dir, prod_dir in pairs:
        debug, prod = _buildlist(debug_dir / "pn-buildlist"), _buildlist(prod_dir / "pn-buildlist")
        assert {"gdb", "strace", "perf", "lttng-tools", "lttng-modules"} <= debug, debug_dir
        assert not (tools - {"llama-cpp"}) & prod, prod_dir

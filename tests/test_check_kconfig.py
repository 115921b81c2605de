"""The kconfig check: fragments judged by kconfiglib against a real kernel Kconfig tree.

Tests that read a kernel tree use Debian's linux-source-6.12 (or any 6.12
tree in EDGEGENAI_KERNEL_SRC or the cache) and skip, saying why, without one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edgegenai.checks import INFO, Workspace, kconfig
from edgegenai.checks.kernel_tree import TreeFinder

from conftest import ROOT

DATA = Path(__file__).with_suffix("")
VERSION = "6.12"


@pytest.fixture(scope="module")
def tree():
    found = TreeFinder().find(VERSION)
    if found is None:
        pytest.skip(f"no linux {VERSION} Kconfig tree: apt-get install linux-source-{VERSION}, "
                    "or point EDGEGENAI_KERNEL_SRC at a kernel source tree")
    return found


@pytest.fixture(scope="module")
def kconfigs():
    return kconfig.KconfigCache()


def _judge(kconfigs, tree, arch, name):
    missing = kconfig.compiler_missing(arch)
    if missing:
        pytest.skip(missing)
    lines, bad = kconfig.parse_fragment(DATA / name)
    assert bad == []
    return [(f.id, f.location, f.message) for f in
            kconfig.judge(kconfigs.get(tree, arch), tree, arch, name, lines)]


def test_unknown_symbol(kconfigs, tree):
    assert _judge(kconfigs, tree, "x86", "unknown-symbol.cfg") == [(
        "edgegenai.kconfig.unknown-symbol", "unknown-symbol.cfg:3",
        "CONFIG_EDGEGENAI_NO_SUCH_OPTION is not a kernel option on x86 (linux 6.12): fix the name, "
        "or drop it if it belongs to another kernel version")]


def test_unmet_dependency_is_named(kconfigs, tree):
    found = _judge(kconfigs, tree, "arm64", "unmet-dependency.cfg")
    assert [(i, loc) for i, loc, _ in found] == [("edgegenai.kconfig.does-not-stick", "unmet-dependency.cfg:3")]
    assert found[0][2].startswith("CONFIG_DRM_ACCEL_IVPU=m does not stick on arm64 (linux 6.12): "
                                  "depends on X86_64;")


def test_same_fragment_sticks_on_x86(kconfigs, tree):
    assert _judge(kconfigs, tree, "x86", "unmet-dependency.cfg") == []


@pytest.mark.parametrize("arch", ["x86", "arm64"])
def test_good_fragment(kconfigs, tree, arch):
    assert _judge(kconfigs, tree, arch, "good.cfg") == []


def _layer_with(tmp_path, name, machine_dir=""):
    shutil.copytree(ROOT / "meta-edgegenai", tmp_path / "meta-edgegenai")
    # Only the fragment under test: not the debug variant's tracing one.
    shutil.rmtree(tmp_path / "meta-edgegenai/recipes-debug")
    target = tmp_path / "meta-edgegenai/recipes-kernel/linux/files" / machine_dir / name
    target.parent.mkdir(parents=True)
    shutil.copy(DATA / name, target)
    return Workspace(tmp_path, kernel_cache=tmp_path / "cache"), target


def test_fragment_for_another_kernel_version_is_unchecked_not_passed(tmp_path, monkeypatch):
    monkeypatch.setattr(kconfig.TreeFinder, "find", lambda self, version: None)
    ws, _ = _layer_with(tmp_path, "good.cfg", "qemuarm64")
    findings = kconfig.check(ws).findings
    assert {(f.id, f.severity, f.location) for f in findings} == {
        ("edgegenai.kconfig.unchecked", INFO, "meta-edgegenai/recipes-kernel/linux/files/qemuarm64/good.cfg")}
    assert sorted(f.message.split(":")[0] for f in findings) == [
        "not checked for qemuarm64 on scarthgap (linux 6.6, arm64)",
        "not checked for qemuarm64 on wrynose (linux 6.18, arm64)"]


def test_layer_fragment_checked_for_its_machine(tmp_path, monkeypatch, tree):
    if kconfig.compiler_missing("arm64"):
        pytest.skip(kconfig.compiler_missing("arm64"))
    monkeypatch.setattr(kconfig, "kernel_version", lambda catalog, board, release: VERSION)
    ws, _ = _layer_with(tmp_path, "unmet-dependency.cfg", "qemuarm64")
    ws = Workspace(tmp_path, kernel_src=(tree.path,))
    found = [(f.id, f.location) for f in kconfig.check(ws).findings]
    assert found == [("edgegenai.kconfig.does-not-stick",
                      "meta-edgegenai/recipes-kernel/linux/files/qemuarm64/unmet-dependency.cfg:3")]


def test_syntax_error_in_fragment(tmp_path, monkeypatch):
    monkeypatch.setattr(kconfig.TreeFinder, "find", lambda self, version: None)
    ws, target = _layer_with(tmp_path, "good.cfg")
    target.write_text("CONFIG_IKCONFIG=y\nIKCONFIG_PROC=y\n")
    errors = [(f.id, f.location) for f in kconfig.check(ws).findings if f.severity != INFO]
    assert errors == [("edgegenai.kconfig.syntax", "meta-edgegenai/recipes-kernel/linux/files/good.cfg:2")]


def test_committed_layer_s_one_fragment_is_the_debug_variant_s(monkeypatch):
    """The default spec's kernels are 6.18 and 6.6: without their trees, unchecked, never passed."""
    monkeypatch.setattr(kconfig.TreeFinder, "find", lambda self, version: None)
    ws = Workspace(ROOT)
    assert [p.name for p in kconfig.kernel_fragments(ws)] == ["edgegenai-debug-tracing.cfg"]
    findings = kconfig.check(ws).findings
    assert {(f.id, f.severity) for f in findings} == {("edgegenai.kconfig.unchecked", INFO)}
    assert len(findings) == 4  # two boards, two releases


def test_fragment_appended_for_one_machine_is_checked_only_for_it(tmp_path, monkeypatch):
    """A bbappend's SRC_URI:append:<machine> ties a fragment to that board alone."""
    monkeypatch.setattr(kconfig.TreeFinder, "find", lambda self, version: None)
    ws, target = _layer_with(tmp_path, "good.cfg")
    (target.parent.parent / "linux-yocto_%.bbappend").write_text(
        'FILESEXTRAPATHS:prepend:qemuarm64 := "${THISDIR}/files:"\n'
        'SRC_URI:append:qemuarm64 = " file://good.cfg"\n')
    boards = sorted({f.message.split(" on ")[0] for f in kconfig.check(ws).findings})
    assert boards == ["not checked for qemuarm64"]


def test_compat_reader_understands_conditional_depends(tmp_path):
    """Linux 7.x writes `depends on A if B`; kconfiglib 14.1 reads it through the shim."""
    (tmp_path / "Kconfig").write_text(
        'config A\n\tbool "a"\n\nconfig C\n\tbool "c"\n\n'
        'config B\n\tbool "b"\n\tdepends on A if C # only with C\n')
    kconf = kconfig._compat_class()(str(tmp_path / "Kconfig"), warn=False)
    kconf.syms["C"].set_value("y")
    kconf.syms["B"].set_value("y")
    assert kconf.syms["B"].str_value == "n"  # C set, A not: the dependency applies
    kconf.syms["C"].set_value("n")
    kconf.syms["B"].set_value("y")
    assert kconf.syms["B"].str_value == "y"  # without C there is no dependency

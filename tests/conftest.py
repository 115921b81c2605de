"""Shared fixtures: the repository root, the catalog and a spec builder."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml

from edgegenai.catalog import load_catalog
from edgegenai.spec import default_spec_text

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture()
def default_raw():
    """The built-in default spec as plain data, a fresh copy per test."""
    return copy.deepcopy(yaml.safe_load(default_spec_text()))


def skip_unless_ready(problems, what: str) -> None:
    """Skip a boot test whose tools are missing, saying which; in CI (EDGEGENAI_REQUIRE_BOOT=1), fail."""
    if problems:
        reason = f"{what}: " + ", ".join(problems)
        if os.environ.get("EDGEGENAI_REQUIRE_BOOT") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def judge_on_linux_6_12(text: str, arch: str, tmp_path: Path):
    """Findings of a kernel fragment merged onto Linux 6.12's defconfig for `arch` (skips without the tree)."""
    from edgegenai.checks import kconfig
    from edgegenai.checks.kernel_tree import TreeFinder
    tree = TreeFinder().find("6.12")
    if tree is None:
        pytest.skip("no linux 6.12 Kconfig tree: apt-get install linux-source-6.12")
    missing = kconfig.compiler_missing(arch)
    if missing:
        pytest.skip(missing)
    path = tmp_path / "fragment.cfg"
    path.write_text(text)
    lines, bad = kconfig.parse_fragment(path)
    assert bad == []
    return lines, kconfig.judge(kconfig.KconfigCache().get(tree, arch), tree, arch, path.name, lines)

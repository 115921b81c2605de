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

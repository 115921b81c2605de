"""llama.cpp's CPU backend in every ISA level, picked on the device at run time.

What the recipe renders is checked here; that the variants build, that
none of them needs the build host's CPU, that the loader picks one and
how fast each configuration runs is `benchmarks/cpu_variants_bench.py`.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from edgegenai.oepaths import expand
from edgegenai.render import render
from edgegenai.spec import parse_spec

LLAMA = "meta-edgegenai/recipes-ai/llama-cpp/llama-cpp_0.0.8770.bb"
OEQA = "meta-edgegenai/lib/oeqa/runtime/cases/edgegenai.py"


def _files(catalog, backends=None):
    raw = {"boards": ["qemux86-64", "qemuarm64"], "models": ["smollm2-360m-instruct-q4-k-m"]}
    if backends is not None:
        raw["engines"] = {"llama-cpp": {"backends": list(backends)}}
    return render(parse_spec(raw, catalog), catalog)


def _flags(recipe: str, name: str):
    on, off = re.search(rf'^PACKAGECONFIG\[{name}\] = "([^,"]*),([^,"]*)"$', recipe, re.M).groups()
    return on.split(), off.split()


def test_variants_are_the_default_and_the_native_quantiser_stays_plain(catalog):
    recipe = _files(catalog)[LLAMA]
    assert 'PACKAGECONFIG ??= "cpu-variants openmp"\n' in recipe
    assert 'PACKAGECONFIG:class-native ??= ""\n' in recipe
    on, off = _flags(recipe, "cpu-variants")
    assert {"-DGGML_BACKEND_DL=ON", "-DGGML_CPU_ALL_VARIANTS=ON"} <= set(on)
    assert {"-DGGML_BACKEND_DL=OFF", "-DGGML_CPU_ALL_VARIANTS=OFF"} == set(off)
    # ggml refuses GGML_NATIVE with GGML_BACKEND_DL; the recipe never asks for the host's CPU.
    assert "-DGGML_NATIVE=OFF" in recipe and "native" not in " ".join(on + off).lower()


def test_the_modules_are_packaged_where_the_loader_looks(catalog):
    files = _files(catalog)
    recipe = files[LLAMA]
    on, _ = _flags(recipe, "cpu-variants")
    backend_dir = next(f.split("=", 1)[1] for f in on if f.startswith("-DGGML_BACKEND_DIR="))
    assert f'FILES:${{PN}} += "{backend_dir}"\n' in recipe
    # RDEPENDS:${PN}-server = "${PN}": the server gets the modules with the libraries.
    assert 'RDEPENDS:${PN}-server = "${PN}"' in recipe
    # The oeqa case expects the loader's line for that directory on the device.
    load_logs = eval(re.search(r"^LOAD_LOGS = (.*)$", files[OEQA], re.M).group(1))  # a Python literal
    assert len(load_logs) == 1
    line = f"load_backend: loaded CPU backend from {expand(backend_dir)}/libggml-cpu-haswell.so"
    assert re.search(load_logs[0], line)
    assert not re.search(load_logs[0], "load_backend: loaded CPU backend from /tmp/libggml-cpu-haswell.so")


def test_the_tune_only_build_stays_available(catalog):
    files = _files(catalog, backends=["openmp"])
    assert 'PACKAGECONFIG ??= "openmp"\n' in files[LLAMA]
    assert "LOAD_LOGS = []\n" in files[OEQA]
    # The flag stays defined, so a bbappend or local.conf can still turn it on.
    assert "PACKAGECONFIG[cpu-variants] = " in files[LLAMA]


def _preimage(patch: str) -> tuple[str, str]:
    """The file a one-file patch applies to, rebuilt from its hunks (context and removed lines)."""
    path = re.search(r"^--- a/(\S+)$", patch, re.M).group(1)
    lines: list[str] = []
    for hunk in re.finditer(r"^@@ -(\d+),(\d+) \+\d+,\d+ @@.*\n((?:[ +-].*\n)*)", patch, re.M):
        start, count = int(hunk.group(1)), int(hunk.group(2))
        lines += ["\n"] * (start - 1 - len(lines))
        old = [line[1:] + "\n" for line in hunk.group(3).splitlines() if line[:1] in " -"]
        assert len(old) == count, f"hunk at line {start} claims {count} lines, has {len(old)}"
        lines += old
    return path, "".join(lines)


def test_our_patches_ship_with_the_recipe_and_apply(catalog, tmp_path):
    """The SME guard patch: in SRC_URI, next to the recipe, with its status, applying without fuzz."""
    engine = catalog.engines["llama-cpp"]
    assert engine.patches, "llama-cpp carries the SME guard for GCC 13"
    files = _files(catalog)
    src_uri = re.search(r'^SRC_URI = "(.*?)"$', files[LLAMA], re.M | re.S).group(1).split()
    for name in engine.patches:
        patch = files[f"meta-edgegenai/recipes-ai/llama-cpp/files/{name}"]
        assert f"file://{name}" in src_uri
        assert re.search(r"^Upstream-Status: (Pending|Submitted|Backport|Denied|Inappropriate)", patch, re.M)
        assert re.search(r"^Signed-off-by: ", patch, re.M)
        if shutil.which("patch") is None:
            pytest.skip("no patch(1) to apply the patch with")
        path, before = _preimage(patch)
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(before)
        out = subprocess.run(["patch", "-p1", "-F0", "--dry-run"], input=patch, text=True,
                             capture_output=True, cwd=tmp_path)
        assert out.returncode == 0 and "fuzz" not in out.stdout.lower(), out.stdout + out.stderr

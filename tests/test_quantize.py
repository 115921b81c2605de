"""Models quantised in the build: the spec's `quantize`, the recipes, and the real quantiser.

The recipes are checked as text here and with real BitBake by the bitbake
check; the model class's shell is run for real, with the real
llama-quantize (Debian's, from PATH or from the systemd stand-in's root
filesystem), over a model of llama shape made with `gguf`, to show that
the manifest it writes is right and that the output does not depend on
the thread count.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgegenai import memory
from edgegenai.errors import SpecError
from edgegenai.render import render
from edgegenai.spec import parse_spec

from hostile import HOSTILE, names_field

LAYER = "meta-edgegenai"
BOARDS = ["qemux86-64", "qemuarm64", "raspberrypi5"]


def _spec(quantize, model="smollm2-135m-instruct", boards=BOARDS, **extra):
    return {"releases": ["wrynose", "scarthgap"], "boards": boards,
            "models": [{"name": model, "quantize": quantize, **extra}]}


def _problems(raw, catalog):
    with pytest.raises(SpecError) as err:
        parse_spec(raw, catalog)
    return err.value.problems


def test_one_recipe_per_type_shared_by_its_boards(catalog):
    files = render(parse_spec(_spec({"default": "Q4_K_M", "qemuarm64": "Q8_0", "raspberrypi5": "Q8_0"}),
                              catalog), catalog)
    recipes = sorted(p for p in files if p.startswith(f"{LAYER}/recipes-models/"))
    assert recipes == [
        f"{LAYER}/recipes-models/model-smollm2-135m-instruct-q4-k-m/model-smollm2-135m-instruct-q4-k-m_1.0.bb",
        f"{LAYER}/recipes-models/model-smollm2-135m-instruct-q8-0/model-smollm2-135m-instruct-q8-0_1.0.bb",
        f"{LAYER}/recipes-models/model-smollm2-135m-instruct/model-smollm2-135m-instruct_1.0.bb",
    ]
    q4, q8, selector = (files[p] for p in recipes)
    for text, quant, other in ((q4, "Q4_K_M", "q8-0"), (q8, "Q8_0", "q4-k-m")):
        assert f'MODEL_QUANT = "{quant}"' in text
        assert 'DEPENDS = "llama-cpp-native"' in text
        assert f'RCONFLICTS:${{PN}} = "model-smollm2-135m-instruct-{other}"' in text
        # one download for every quantisation, the full-precision file pinned by sha256
        assert ";downloadfilename=smollm2-135m-instruct-1.0-SmolLM2-135M-Instruct-F16.gguf\"" in text
        assert 'SRC_URI[sha256sum] = "5157ca60744d21631818364854ac8e4452e1b8022d2ab4c8a2f9cda2344afb30"' in text
        assert 'MODEL_FILE = "smollm2-135m-instruct.gguf"' in text
    assert 'PACKAGE_ARCH = "${MACHINE_ARCH}"' in selector
    assert re.findall(r"^RDEPENDS:\$\{PN\}(\S*) = \"(\S+)\"$", selector, re.M) == [
        ("", "model-smollm2-135m-instruct-q4-k-m"),
        (":qemuarm64", "model-smollm2-135m-instruct-q8-0"),
        (":raspberrypi5", "model-smollm2-135m-instruct-q8-0")]
    # The service is one recipe for every board: the path is the same whatever the type.
    default = files[f"{LAYER}/recipes-ai/edgegenai-llama-cpp-server/files/llama-server.default"]
    assert "LLAMA_ARG_MODEL='@MODEL_DIR@/smollm2-135m-instruct/smollm2-135m-instruct.gguf'" in default
    group = files[f"{LAYER}/recipes-core/packagegroups/packagegroup-edgegenai.bb"]
    assert "model-smollm2-135m-instruct \\" in group and "-q8-0" not in group


def test_a_model_without_quantize_is_used_as_published(catalog):
    files = render(parse_spec({"boards": ["qemuarm64"], "models": ["smollm2-360m-instruct-q4-k-m"]},
                              catalog), catalog)
    recipe = files[f"{LAYER}/recipes-models/model-smollm2-360m-instruct-q4-k-m/"
                   "model-smollm2-360m-instruct-q4-k-m_1.0.bb"]
    assert "MODEL_QUANT" not in recipe and "DEPENDS" not in recipe
    assert 'MODEL_PRECISION = "Q4_K_M"' in recipe


@pytest.mark.parametrize("quantize, field, says", [
    ({"default": "Q9_K"}, "models[0].quantize.default", "knows no type 'Q9_K'"),
    ({"default": "Q4_K_M", "qemuarm64": "TQ1_0"}, "models[0].quantize.qemuarm64", "knows no type 'TQ1_0'"),
    ({"qemuarm64": "Q8_0"}, "models[0].quantize", "needs a 'default' type"),
    ({"default": "Q8_0", "jetson-orin-nano-devkit": "Q4_K_M"}, "models[0].quantize.jetson-orin-nano-devkit",
     "is not a board of the spec"),
    ({"default": "q4_k_m"}, "models[0].quantize.default", "must be a quantisation type"),
])
def test_a_wrong_quantize_is_refused_naming_the_field(catalog, quantize, field, says):
    problems = _problems(_spec(quantize), catalog)
    assert len(problems) == 1 and names_field(problems, field) and says in problems[0], problems


IMATRIX = {"url": "https://huggingface.co/o/r/resolve/0123abc/smollm2.imatrix", "filename": "smollm2.imatrix",
           "sha256": "c" * 64}


def test_a_type_that_needs_an_importance_matrix_is_refused_without_one(catalog):
    problems = _problems(_spec({"default": "Q8_0", "qemuarm64": "IQ3_XS"}), catalog)
    assert problems == ["models[0].quantize.qemuarm64: llama-quantize makes IQ3_XS only with an importance "
                        "matrix: add models[0].imatrix (url, filename, sha256)"]
    parse_spec(_spec({"default": "Q8_0", "qemuarm64": "IQ3_XS"}, imatrix=IMATRIX), catalog)


def test_an_importance_matrix_without_quantize_is_refused(catalog):
    raw = {"boards": ["qemuarm64"], "models": [{"name": "smollm2-135m-instruct", "imatrix": IMATRIX}]}
    assert _problems(raw, catalog) == [
        "models[0].imatrix: only a model quantised in the build (quantize) uses one"]


def test_the_importance_matrix_is_pinned_and_shared_by_every_type(catalog):
    files = render(parse_spec(_spec({"default": "IQ2_M", "qemuarm64": "Q4_K_M"}, imatrix=IMATRIX), catalog),
                   catalog)
    for quant in ("iq2-m", "q4-k-m"):
        text = files[f"{LAYER}/recipes-models/model-smollm2-135m-instruct-{quant}/"
                     f"model-smollm2-135m-instruct-{quant}_1.0.bb"]
        download = "smollm2-135m-instruct-1.0-imatrix-smollm2.imatrix"
        assert f"    {IMATRIX['url']};name=imatrix;downloadfilename={download} \\\n" in text
        assert f'SRC_URI[imatrix.sha256sum] = "{"c" * 64}"' in text
        assert f'MODEL_IMATRIX = "{download}"' in text


def test_an_already_quantised_file_is_not_quantised_again(catalog):
    problems = _problems(_spec({"default": "Q4_0"}, model="smollm2-360m-instruct-q4-k-m"), catalog)
    assert problems == ["models[0].quantization: smollm2-360m-instruct-q4-k-m is published as Q4_K_M; "
                        "only a F32/F16/BF16 file can be quantised (models[0].quantize)"]


def test_a_quantisation_that_is_another_models_recipe_is_refused(catalog):
    raw = {"boards": ["qemuarm64"], "models": [
        {"name": "smollm2-135m-instruct", "quantize": {"default": "Q4_K_M"}},
        "smollm2-135m-instruct-q4-k-m"]}
    problems = _problems(raw, catalog)
    assert any(p.startswith("models[0].quantize: smollm2-135m-instruct as Q4_K_M would be recipe "
                            "model-smollm2-135m-instruct-q4-k-m") for p in problems), problems


def test_a_quantisation_too_big_for_a_board_is_refused_and_a_smaller_one_fits(catalog):
    big = {"name": "big", "summary": "Big", "version": "1.0", "engine": "llama-cpp", "format": "gguf",
           "url": "https://example.com/o/r/resolve/0123abc/big.gguf", "filename": "big.gguf",
           "sha256": "b" * 64, "size": 10 * 2**30, "license": "MIT",
           "lic_files_chksum": "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302",
           "homepage": "https://example.com/big", "quantization": "F16",
           "shape": {"layers": 32, "heads": 32, "kv_heads": 8, "head_dim": 128, "vocab": 128256,
                     "feed_forward": 14336}}
    raw = {"boards": ["raspberrypi5"],
           "models": [{**big, "quantize": {"default": "Q4_K_M", "raspberrypi5": "Q8_0"}}]}
    problems = _problems(raw, catalog)
    assert len(problems) == 1 and "board 'raspberrypi5' (boards[0]) has 8192 MiB" in problems[0], problems
    raw["models"][0]["quantize"] = {"default": "Q8_0", "raspberrypi5": "Q4_K_M"}
    parse_spec(raw, catalog)


@pytest.mark.parametrize("hostile", sorted(HOSTILE))
def test_a_hostile_board_key_is_refused(catalog, hostile):
    problems = _problems(_spec({"default": "Q8_0", HOSTILE[hostile]: "Q4_K_M"}), catalog)
    assert problems and all(p.startswith("models[0].quantize") for p in problems), problems


def test_the_estimate_bounds_the_published_sizes(catalog):
    """SmolLM2-135M as its publishers quantised it (Hugging Face's listing of the repositories)."""
    model = catalog.models["smollm2-135m-instruct"]
    quantizer = catalog.engines["llama-cpp"].quantize
    published = {"Q4_K_M": 105_454_144, "Q8_0": 144_811_072}
    for quant, size in published.items():
        est = memory.quantized_size(model, quant, quantizer)
        assert size <= est <= 1.3 * size, (quant, size, est)
    assert memory.quantized_size(model, None, quantizer) == model.size
    assert memory.quantized_size(model, "F32", quantizer) == 2 * model.size


# -- the model class's shell, run with the real quantiser --------------------------

def _quantizer():
    """A runnable llama-quantize: from PATH, or the systemd stand-in's Debian build."""
    found = shutil.which("llama-quantize")
    if found:
        return [found], None
    sys.path.insert(0, str(Path(__file__).parent))
    from standin import systemd
    from standin.debian import Unavailable
    try:
        root = systemd.base("amd64").rootfs
    except (Unavailable, RuntimeError) as exc:
        return None, f"no llama-quantize on PATH and no stand-in root filesystem ({exc})"
    libs = f"{root}/usr/lib/x86_64-linux-gnu"
    return [f"{root}/usr/lib64/ld-linux-x86-64.so.2", "--library-path", f"{libs}:{libs}/llama",
            f"{root}/usr/bin/llama-quantize"], None


def _f16_model(path: Path) -> Path:
    """A llama-shaped F16 model whose rows are whole k-quant blocks (256 wide)."""
    pytest.importorskip("gguf", reason="gguf is not installed")
    from edgegenai.catalog import Shape
    from standin import tinymodel

    shape = Shape(layers=2, heads=4, kv_heads=4, head_dim=64, vocab=len(tinymodel.vocabulary()[0]),
                  feed_forward=768)
    return tinymodel.write_shaped(path, shape, seed=20261202)


def _imatrix(model: Path, path: Path) -> Path:
    """An importance matrix in llama.cpp's legacy format: per weight, the mean square of its inputs."""
    import struct

    import numpy as np
    gguf = pytest.importorskip("gguf", reason="gguf is not installed")
    reader = gguf.GGUFReader(str(model))
    rng = np.random.RandomState(7)
    entries = [(t.name, int(t.shape[0])) for t in reader.tensors
               if t.name.startswith("blk.") and len(t.shape) == 2]
    with open(path, "wb") as f:
        f.write(struct.pack("<i", len(entries)))
        for name, cols in entries:
            f.write(struct.pack("<i", len(name)) + name.encode())
            f.write(struct.pack("<ii", 1, cols))
            f.write(rng.uniform(0.1, 2.0, cols).astype("<f4").tobytes())
        f.write(struct.pack("<i", 1) + struct.pack("<i", 4) + b"test")
    return path


def _function(bbclass: str, name: str) -> str:
    return re.search(rf"^{name}\(\) \{{\n(.*?)^\}}", bbclass, re.S | re.M).group(1)


def _expand(body: str, values: dict) -> str:
    """BitBake's ${VAR} expansion of a shell function, nothing left unexpanded."""
    out = re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: values[m.group(1)], body)
    assert "${" not in out
    return out


def _build(tmp: Path, source: Path, quant: str, threads: int, tool, imatrix: Path | None = None) -> dict:
    """do_compile and do_install of the model class, as BitBake runs them (/bin/sh -e)."""
    bbclass = render(parse_spec({"boards": ["qemux86-64"]}))[f"{LAYER}/classes/edgegenai_model.bbclass"]
    work, dest = tmp / "work", tmp / "image"
    work.mkdir(parents=True)
    shutil.copy(source, work / "src-F16.gguf")
    if imatrix:
        shutil.copy(imatrix, work / "m-imatrix.dat")
    # The tool as the recipe sysroot's PATH gives it.
    bindir = tmp / "bin"
    bindir.mkdir(parents=True)
    (bindir / "llama-quantize").write_text("#!/bin/sh\nexec " + " ".join(tool) + ' "$@"\n')
    (bindir / "llama-quantize").chmod(0o755)
    values = {"MODEL_QUANT_TOOL": "llama-quantize", "MODEL_SRCDIR": str(work), "B": str(work),
              "MODEL_DOWNLOAD": "src-F16.gguf", "MODEL_FILE": "m.gguf", "MODEL_QUANT": quant,
              "MODEL_QUANT_THREADS": str(threads), "D": str(dest), "MODEL_DIR": "/usr/share/edgegenai/models",
              "MODEL_NAME": "m", "MODEL_SHA256": hashlib.sha256(source.read_bytes()).hexdigest(),
              "MODEL_LICENSE": "MIT", "MODEL_ENGINE": "llama-cpp", "PV": "1.0", "MODEL_PRECISION": "F16",
              "MODEL_SOURCE_URL": "https://example.com/o/r/resolve/0123abc/src-F16.gguf",
              "MODEL_IMATRIX": "m-imatrix.dat" if imatrix else "",
              "MODEL_IMATRIX_SHA256": hashlib.sha256(imatrix.read_bytes()).hexdigest() if imatrix else ""}
    script = "bbfatal() { echo \"$*\" >&2; exit 1; }\n" + "\n".join(
        _expand(_function(bbclass, f), values) for f in ("do_compile", "do_install"))
    proc = subprocess.run(["/bin/sh", "-e", "-c", script], capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    folder = dest / "usr/share/edgegenai/models/m"
    return {"manifest": json.loads((folder / "manifest.json").read_text()),
            "sha256": hashlib.sha256((folder / "m.gguf").read_bytes()).hexdigest(),
            "size": (folder / "m.gguf").stat().st_size}


@pytest.fixture(scope="module")
def quantise_env(tmp_path_factory):
    tool, why = _quantizer()
    if tool is None:
        pytest.skip(why)
    sys.path.insert(0, str(Path(__file__).parent))
    return tool, _f16_model(tmp_path_factory.mktemp("f16") / "f16.gguf")


@pytest.mark.parametrize("quant", ["Q4_K_M", "Q8_0"])
def test_the_class_quantises_and_records_what_it_made(tmp_path, quantise_env, quant):
    tool, source = quantise_env
    built = _build(tmp_path, source, quant, os.cpu_count() or 2, tool)
    m = built["manifest"]
    assert m["sha256"] == built["sha256"] and m["size"] == built["size"] < source.stat().st_size
    assert m["quantization"] == quant and m["file"] == "m.gguf"
    assert m["source"] == {"url": "https://example.com/o/r/resolve/0123abc/src-F16.gguf",
                           "file": "src-F16.gguf", "sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
                           "quantization": "F16"}
    assert m["quantized_by"].startswith("llama-quantize ") and "build" in m["quantized_by"], m


@pytest.mark.parametrize("quant", ["Q4_K_M", "Q8_0", "IQ4_XS"])
def test_quantisation_does_not_depend_on_the_thread_count(tmp_path, quantise_env, quant):
    """Why the class keeps MODEL_QUANT_THREADS out of the task signature."""
    tool, source = quantise_env
    digests = {(threads, run): _build(tmp_path / f"{threads}-{run}", source, quant, threads, tool)["sha256"]
               for threads, run in ((1, 0), (2, 0), (2, 1), (4, 0))}
    assert len(set(digests.values())) == 1, digests


@pytest.mark.parametrize("quant", ["IQ3_XS", "IQ2_XXS"])
def test_the_class_quantises_with_the_importance_matrix(tmp_path, quantise_env, quant):
    """The types llama.cpp refuses without one are made with it, and the manifest names it."""
    tool, source = quantise_env
    imatrix = _imatrix(source, tmp_path / "imatrix.dat")
    built = _build(tmp_path / "with", source, quant, 2, tool, imatrix)
    assert built["manifest"]["source"]["imatrix"] == {
        "file": "m-imatrix.dat", "sha256": hashlib.sha256(imatrix.read_bytes()).hexdigest()}
    assert built["manifest"]["sha256"] == built["sha256"]
    with pytest.raises(AssertionError, match="requires an (importance matrix|imatrix)"):
        _build(tmp_path / "without", source, quant, 2, tool)

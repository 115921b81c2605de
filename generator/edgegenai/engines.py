"""What the inference engines of a spec add to the layer.

Per engine: its recipe (built from its pinned source, one PACKAGECONFIG per
backend), its server as a service recipe with the files the catalog names
(unit, defaults, health check and, with `auth: api-key`, the first-boot
key), and an oeqa case.  Which files an engine has is catalog data
(`engines.yaml`: `service.files`, `service.key_files`, `oeqa`); the contract
the files keep is shared by every engine: a health endpoint, the sandbox,
device access from the backends' catalog entries, memory limits from the
model's estimate.  Pure: `put` decides where rendered files go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Set, Tuple

from . import memory
from .catalog import Catalog, Engine, Model, Requirements
from .fields import is_loopback
from .oepaths import expand
from .spec import Spec

Put = Callable[..., None]
Copy = Callable[[str, str], None]

# Where models live on the device (the model class's MODEL_DIR, usrmerge).
MODEL_DIR = "/usr/share/edgegenai/models"
# Seconds a server waits for its model to load before systemd gives up.
STARTUP_TIMEOUT = 300


def key_file_recipe(engine: Engine) -> str:
    """Where the device keeps the API key it makes on first boot, as the recipe writes it."""
    return f"${{localstatedir}}/lib/edgegenai/{engine.service.name}.key"


def key_file(engine: Engine) -> str:
    """The same path on the device."""
    return expand(key_file_recipe(engine))


@dataclass(frozen=True)
class EnginePlan:
    """One engine of the spec with everything its templates need resolved."""

    engine: Engine
    backends: Tuple[str, ...]
    model: Optional[Model]  # None: a library engine without a service
    # (MACHINE, the model as that board gets it): a quantisation per board
    # gives each board its own size, and so its own memory limits.
    board_models: Tuple[Tuple[str, Model], ...] = ()
    # The MACHINEs of the boards that run the engine, and whether that is
    # every board of the spec (else it is installed per machine).
    machines: Tuple[str, ...] = ()
    everywhere: bool = True

    def _parts(self) -> List[Requirements]:
        """The engine and its enabled backends: what each needs adds up."""
        return [self.engine, *(self.engine.backends[b] for b in self.backends)]

    @property
    def allows_wx(self) -> bool:
        return any(part.allows_wx for part in self._parts())

    @property
    def device_allow(self) -> List[str]:
        """Device nodes the service must open (the engine's, a GPU backend's)."""
        return sorted({d for part in self._parts() for d in part.device_allow})

    @property
    def groups(self) -> List[str]:
        return sorted({g for part in self._parts() for g in part.groups})

    @property
    def device_logs(self) -> List[str]:
        """What the server logs when its backends reached their devices (oeqa)."""
        return sorted({self.engine.backends[b].device_log for b in self.backends
                       if self.engine.backends[b].device_log})

    @property
    def load_logs(self) -> List[str]:
        """What the server logs when a backend's code was loaded (a CPU variant, oeqa)."""
        return sorted({self.engine.backends[b].load_log for b in self.backends
                       if self.engine.backends[b].load_log})

    @property
    def collections(self) -> Set[str]:
        """Layer collections the engine and its enabled backends' dependencies come from."""
        return {c for part in self._parts() for c in part.layers}

    @property
    def distro_features(self) -> Set[str]:
        return {f for part in self._parts() for f in part.distro_features}


def plan(spec: Spec, catalog: Catalog) -> List[EnginePlan]:
    """The spec's engines, sorted by name, each with its backends and served model."""
    plans = []
    for name in sorted(spec.engines):
        engine = catalog.engines[name]
        backends = tuple(sorted(set(spec.engines[name].backends_of(engine))))
        model = spec.served_model(name, catalog)
        runs_on = spec.engine_boards(name, catalog)
        boards = tuple((catalog.boards[b.name].machine, spec.served_model(name, catalog, b.name))
                       for b in runs_on) if model else ()
        plans.append(EnginePlan(engine, backends, model, boards,
                                tuple(sorted({catalog.boards[b.name].machine for b in runs_on})),
                                len(runs_on) == len(spec.boards)))
    return plans


@dataclass
class EngineLayer:
    """What the engines contribute beyond their own files, for the shared recipes."""

    contents: List[Tuple[str, str]] = field(default_factory=list)  # layer README rows
    distro_features: Set[str] = field(default_factory=set)
    packages: Set[str] = field(default_factory=set)  # into packagegroup-edgegenai
    # release -> packages installed on that release only
    release_packages: Dict[str, Set[str]] = field(default_factory=dict)
    # MACHINE -> packages of the engines that run on some boards only
    machine_packages: Dict[str, Set[str]] = field(default_factory=dict)


def render_engines(spec: Spec, plans: List[EnginePlan], put: Put, copy: Copy) -> EngineLayer:
    """Each engine's recipe and patches, service recipe and files, and oeqa case.

    `put(path, template, **context)` renders a template to a path inside
    the layer; `copy(path, template)` ships a file verbatim (a patch).
    """
    out = EngineLayer()
    for p in plans:
        _render_engine(p, spec.engines[p.engine.name].server, spec.releases, put, copy, out)
    return out


def _render_engine(p: EnginePlan, server, releases: List[str], put: Put, copy: Copy,
                   out: EngineLayer) -> None:
    engine = p.engine
    templates = f"layer/engines/{engine.name}"
    if engine.recipe:
        recipe_dir = f"recipes-ai/{engine.recipe}"
        for patch in engine.patches:
            copy(f"{recipe_dir}/files/{patch}", f"{templates}/patches/{patch}")
        pc_flags = [(name, be.packageconfig) for name, be in sorted(engine.backends.items())
                    if be.packageconfig]
        put(f"{recipe_dir}/{engine.recipe}_{engine.version}.bb", f"{templates}/recipe.bb.j2",
            engine=engine, packageconfig=[b for b in p.backends if engine.backends[b].packageconfig],
            packageconfig_flags=pc_flags, build_number=engine.tag.lstrip("b"))
        out.contents.append(
            (f"{recipe_dir}/", f"{engine.name} {engine.tag} ({', '.join(('cpu',) + p.backends)})"))

    out.distro_features |= p.distro_features
    # An engine that runs on some boards only is installed per machine.
    wanted = {engine.service.recipe} if engine.service else set()
    wanted |= set(engine.packages)
    if p.everywhere:
        out.packages |= wanted
    else:
        for machine in p.machines:
            out.machine_packages.setdefault(machine, set()).update(wanted)
    for release in releases:
        if engine.release_packages.get(release):
            out.release_packages.setdefault(release, set()).update(engine.release_packages[release])
    svc = engine.service
    if svc is None:
        put(f"lib/oeqa/runtime/cases/{engine.oeqa}", f"{templates}/oeqa.py.j2", engine=engine)
        out.contents.append((f"lib/oeqa/runtime/cases/{engine.oeqa}", "testimage cases: " + engine.oeqa_summary))
        return
    svc_dir = f"recipes-ai/{svc.recipe}"
    memory_recipe = f"{svc.recipe}-memory"
    auth = engine.server and server.auth == "api-key"
    files = list(svc.files) + (list(svc.key_files) if auth else [])
    units = [f for f in files if f.endswith(".service")]
    limited = engine.server and engine.model_memory == "host"
    ctx = dict(engine=engine, model=p.model, server=server, loopback=is_loopback(server.host),
               auth=auth, allow=list(server.allow), units=units, files=files,
               key_file=key_file_recipe(engine), allows_wx=p.allows_wx,
               device_allow=p.device_allow, groups=p.groups, startup_timeout=STARTUP_TIMEOUT,
               memory_recipe=memory_recipe if limited else None, model_dir=MODEL_DIR,
               machines=list(p.machines) if engine.accelerators else [])
    put(f"{svc_dir}/{svc.recipe}_1.0.bb", f"{templates}/service.bb.j2", **ctx)
    for f in files:
        put(f"{svc_dir}/files/{f}", f"{templates}/files/{f}.j2", **ctx)
    for source in svc.sources:
        copy(f"{svc_dir}/files/{source}", f"{templates}/src/{source}")
    put(f"lib/oeqa/runtime/cases/{engine.oeqa}", f"{templates}/oeqa.py.j2",
        service=svc.name, port=server.port, model_name=p.model.name,
        model_file=p.model.filename, model_dir=MODEL_DIR,
        key_file=key_file(engine) if auth else None, device_logs=p.device_logs,
        load_logs=p.load_logs, package=None if p.everywhere else svc.recipe)

    if limited:
        _render_memory(p, svc.name, memory_recipe, server.context_size, put)
        out.contents.append((f"recipes-ai/{memory_recipe}/", f"the memory limits of {svc.name} per board"))
    out.contents += [
        (f"{svc_dir}/", f"the {engine.name} {'server' if engine.server else 'service'} "
                        "as a sandboxed systemd service"),
        (f"lib/oeqa/runtime/cases/{engine.oeqa}", "testimage cases: " + engine.oeqa_summary),
    ]


def _render_memory(p: EnginePlan, service: str, recipe: str, context_size: int, put: Put) -> None:
    """The service's memory limits as a drop-in per board, in a recipe of their own.

    The limits follow the model each board serves (its quantisation) and
    the server's context; kept out of the service recipe, a change of model
    rebuilds this small recipe and never the service.  `files/` holds the
    largest limits, which also serve every board whose model is that one;
    `files/<MACHINE>/` a board with a smaller one.
    """
    unit, dropin = f"{service}.service", "10-memory.conf"
    largest = max((m for _, m in p.board_models), key=lambda m: m.size)
    put(f"recipes-ai/{recipe}/{recipe}_1.0.bb", "layer/engines/memory/recipe.bb.j2",
        engine=p.engine, unit=unit, dropin=dropin)
    boards = [(f"{machine}/", f"board {machine}", model) for machine, model in p.board_models
              if model != largest]
    for subdir, what, model in [("", "the boards without a file of their own", largest)] + boards:
        put(f"recipes-ai/{recipe}/files/{subdir}{dropin}", "layer/engines/memory/dropin.conf.j2",
            unit=unit, what=what, model=model, context_size=context_size,
            memory=memory.estimate(model, context_size))


def collections(plans: List[EnginePlan]) -> Set[str]:
    """Layer collections the engines and their backends depend on."""
    return {c for p in plans for c in p.collections}

"""What the debug variant adds to the layer, and only to a debug build.

kas/opt/debug.yml adds the `edgegenai-debug` distro override.  Everything
here hangs on it, so an image built without the fragment carries none of
it:

- the image installs packagegroup-edgegenai-debug: the tools from other
  layers the build has (ltrace, bpftrace where the release has it), and
  the debug symbols of the engines built here (llama.cpp, the Hailo-10H
  server), per machine where an engine runs on some boards only; the
  fragment itself adds OE-core's tools-debug and tools-profile;
- every board's kernel gets a tracing fragment (ftrace with the function
  graph, kprobes and uprobes, BPF, perf events, what LTTng's modules
  need), checked by `edgegenai check` against the Kconfig like any other.

Pure: `put` decides where rendered files go.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Set, Tuple

from . import kernels
from .catalog import Catalog
from .engines import EnginePlan
from .spec import Spec

OVERRIDE = "edgegenai-debug"
PACKAGEGROUP = "packagegroup-edgegenai-debug"
KERNEL_FRAGMENT = "edgegenai-debug-tracing.cfg"

Put = Callable[..., None]


def _symbols(p: EnginePlan) -> List[str]:
    """The -dbg packages of what the layer builds for an engine."""
    recipes = [p.engine.recipe] if p.engine.recipe else []
    if p.engine.service and p.engine.service.sources:
        recipes.append(p.engine.service.recipe)
    return [f"{r}-dbg" for r in recipes]


def render_debug(spec: Spec, catalog: Catalog, plans: List[EnginePlan], put: Put) -> List[Tuple[str, str]]:
    """The debug packagegroup and the kernel fragment with its appends; returns README rows."""
    everywhere: Set[str] = set()
    per_machine: Dict[str, Set[str]] = {}
    for p in plans:
        if p.everywhere:
            everywhere.update(_symbols(p))
        else:
            for machine in p.machines:
                per_machine.setdefault(machine, set()).update(_symbols(p))
    variant = catalog.debug
    put(f"recipes-core/packagegroups/{PACKAGEGROUP}.bb", "layer/debug/packagegroup.bb.j2",
        override=OVERRIDE, symbols=sorted(everywhere), packages=variant.packages,
        per_machine=sorted((m, sorted(s)) for m, s in per_machine.items()))
    kernels.append_everywhere(spec, catalog, put, "recipes-debug", KERNEL_FRAGMENT, "layer/debug/kernel.bbappend.j2",
                              "layer/debug/tracing.cfg.j2", override=OVERRIDE, config=variant.kernel_config)
    return [(f"recipes-core/packagegroups/{PACKAGEGROUP}.bb",
             "the debug variant's tools and the engines' debug symbols (kas/opt/debug.yml only)"),
            ("recipes-debug/linux/", "the kernel's tracing options, in debug builds only")]

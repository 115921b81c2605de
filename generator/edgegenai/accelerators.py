"""What the accelerators fitted to a spec's boards add to the layer.

Per driver stack: the out-of-tree module recipe, the firmware recipe and
the user-space runtime.  Per interpreter an accelerator's delegate plugs
into: its recipe.
Per accelerator: a udev rule giving its device node to a group, the kernel
configuration fragment its driver needs (appended to the board's kernel
recipe, through a dynamic layer when the kernel comes from a BSP), Mesa
options, a per-machine packagegroup entry and oeqa runtime cases.  Pure:
the caller decides where rendered files go.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

from .catalog import Accelerator, Board, Catalog, Stack
from .spec import Spec

Put = Callable[..., None]
Copy = Callable[[str, str], None]

# Groups every systemd image already has (udev creates them): not added again.
SYSTEM_GROUPS = ("render", "video")


def fitted(spec: Spec, catalog: Catalog) -> List[Tuple[Board, Accelerator]]:
    """(board, accelerator) for every accelerator fitted to a board of the spec."""
    return [(catalog.boards[ref.name], catalog.accelerators[a.name])
            for ref in spec.boards for a in ref.accelerators]


def runtime_versions(spec: Spec, catalog: Catalog) -> List[Tuple[str, str, str]]:
    """(recipe, machine, version) of the accelerator runtime each board needs.

    One layer can carry two versions of a runtime (HailoRT 4 for a Hailo-8
    board, 5 for a Hailo-10H one); BitBake would build the newest for every
    machine, so the distro pins each machine to the one its driver matches.
    A runtime released apart from its driver has one version: no pin.
    """
    pins = set()
    for board, acc in fitted(spec, catalog):
        runtime = catalog.stacks[acc.stack].runtime
        if runtime and runtime.stack_versioned:
            pins.add((runtime.recipe, board.machine, runtime.pv))
    return sorted(pins)


def _fragment(acc: Accelerator) -> str:
    """The kernel configuration fragment of an accelerator's driver."""
    return f"edgegenai-{acc.name}.cfg"


def _firmware_paths(stack: Stack) -> List[str]:
    if not stack.firmware:
        return []
    return [f.install or f.extract for f in stack.firmware.files]


def _probe(acc: Accelerator, stack: Stack, catalog: Catalog) -> Optional[str]:
    """The on-target command that succeeds only when software reaches the device.

    The stack's runtime probe (with the stack's version filled in), else the
    stack's own (a BSP's test tool), else the interpreter's, loading the
    accelerator's delegate.
    """
    if stack.runtime and stack.runtime.probe:
        return stack.runtime.probe.replace("{version}", stack.version)
    if stack.probe:
        return stack.probe.replace("{version}", stack.version)
    if acc.interpreter:
        return catalog.interpreters[acc.interpreter].probe.replace("{delegate}", acc.delegate or "")
    return None


def _file_version(pv: str) -> str:
    """The version in a recipe's file name: OE names git snapshots `_git.bb`."""
    return "git" if pv.endswith("+git") else pv


def _versioned(filename: str, pv: str) -> str:
    """A download name carrying ${PV}, so a version bump cannot reuse a stale file."""
    return filename.replace(f"-{pv}-", "-${PV}-", 1)


def render_accelerators(spec: Spec, catalog: Catalog, put: Put, copy: Copy) -> List[Tuple[str, str]]:
    """Drivers, firmware, device access, kernel fragments and runtime tests.

    `put(path, template, **context)` renders a template to a path inside the
    layer; `copy(path, template)` ships a file verbatim (a patch).  Returns the
    (path, what) rows of the layer README.
    """
    pairs = fitted(spec, catalog)
    if not pairs:
        return []
    contents = []
    per_machine_pkgs: Dict[str, List[str]] = {}
    per_machine_tests: Dict[str, List[dict]] = {}
    fragments: Dict[str, Dict[str, List[Accelerator]]] = {}  # kernel layer -> machine -> accelerators
    mesa: Dict[str, List[str]] = {}
    for board, acc in pairs:
        stack = catalog.stacks[acc.stack]
        pkgs = per_machine_pkgs.setdefault(board.machine, [])
        if stack.driver:
            pkgs.append(stack.driver.recipe)
        else:
            pkgs.extend(f"kernel-module-{m.replace('_', '-')}" for m in acc.kernel_modules)
        if stack.firmware:
            pkgs.append(stack.firmware.recipe)
        if stack.runtime:
            pkgs.extend(stack.runtime.packages)
        pkgs.extend(stack.packages)
        pkgs.append("edgegenai-devices")
        if acc.mesa_packageconfig:
            pkgs.append("libteflon")
            mesa.setdefault(board.machine, []).extend(acc.mesa_packageconfig)
        if acc.interpreter:
            pkgs.append(catalog.interpreters[acc.interpreter].recipe)
        if acc.kernel_config:
            fragments.setdefault(board.kernel_layer, {}).setdefault(board.machine, []).append(acc)
        per_machine_tests.setdefault(board.machine, []).append({
            "name": acc.name, "modules": acc.kernel_modules, "node": acc.device.node,
            "group": acc.device.group, "firmware": _firmware_paths(stack),
            "probe": _probe(acc, stack, catalog)})

    for sname in sorted({acc.stack for _, acc in pairs}):
        stack = catalog.stacks[sname]
        modules = sorted({m for _, acc in pairs if acc.stack == sname for m in acc.kernel_modules})
        if stack.driver:
            drv = stack.driver
            base = f"recipes-kernel/{drv.recipe}"
            put(f"{base}/{drv.recipe}_{_file_version(drv.pv)}.bb", "layer/accelerators/kernel-module.bb.j2",
                driver=drv, modules=modules)
            for patch in drv.patches:
                copy(f"{base}/files/{patch}", f"layer/accelerators/files/{patch}")
            contents.append((f"recipes-kernel/{drv.recipe}/", f"{drv.summary} ({stack.version})"))
        if stack.firmware:
            fw = stack.firmware
            put(f"recipes-bsp/{fw.recipe}/{fw.recipe}_{fw.pv}.bb", "layer/accelerators/firmware.bb.j2",
                firmware=fw, licence_name=f"{fw.recipe}-{fw.pv}-LICENSE")
            contents.append((f"recipes-bsp/{fw.recipe}/", f"{fw.summary}; LICENSE_FLAGS {fw.license_flags}"))
        if stack.runtime:
            rt = stack.runtime
            base = f"recipes-ai/{rt.recipe}"
            put(f"{base}/{rt.recipe}_{_file_version(rt.pv)}.bb", f"layer/accelerators/runtime/{rt.template}.bb.j2",
                runtime=rt, stack=stack)
            for patch in rt.patches:
                copy(f"{base}/files/{patch}", f"layer/accelerators/files/{patch}")
            contents.append((f"{base}/", f"{rt.summary} ({rt.pv})"))

    for iname in sorted({acc.interpreter for _, acc in pairs if acc.interpreter}):
        interp = catalog.interpreters[iname]
        base = f"recipes-ai/{interp.recipe}"
        put(f"{base}/{interp.recipe}_{interp.pv}.bb", "layer/accelerators/interpreter/wheel.bb.j2", interp=interp)
        for wheel in interp.wheels:
            put(f"{base}/{interp.recipe}-python{wheel.python}.inc", "layer/accelerators/interpreter/wheel-python.inc.j2",
                wheel=wheel, wheel_file=_versioned(wheel.url.rsplit("/", 1)[1], interp.pv))
        contents.append((f"recipes-ai/{interp.recipe}/", f"{interp.summary} ({interp.pv})"))

    accs = sorted({acc.name: acc for _, acc in pairs}.values(), key=lambda a: a.name)
    groups = sorted({a.device.group for a in accs})
    put("recipes-bsp/edgegenai-devices/edgegenai-devices_1.0.bb", "layer/accelerators/devices.bb.j2",
        groups=groups, new_groups=[g for g in groups if g not in SYSTEM_GROUPS])
    put("recipes-bsp/edgegenai-devices/files/70-edgegenai-accelerators.rules",
        "layer/accelerators/files/70-edgegenai-accelerators.rules.j2", accelerators=accs)
    contents.append(("recipes-bsp/edgegenai-devices/", "udev rules and groups for the accelerators' device nodes"))

    for klayer, machines in sorted(fragments.items()):
        kdir = "recipes-kernel/linux" if klayer == "core" else f"dynamic-layers/{klayer}/recipes-kernel/linux"
        providers = sorted({k for b, _ in pairs if b.kernel_layer == klayer for k in b.kernel_recipes()})
        for provider in providers:
            put(f"{kdir}/{provider}_%.bbappend", "layer/accelerators/kernel.bbappend.j2",
                per_machine=[(m, [_fragment(a) for a in accs]) for m, accs in sorted(machines.items())])
        for acc in {a.name: a for accs in machines.values() for a in accs}.values():
            put(f"{kdir}/files/{_fragment(acc)}", "layer/accelerators/fragment.cfg.j2", acc=acc)
        contents.append((f"{kdir}/", f"kernel configuration fragments for {', '.join(providers)}"))
    if mesa:
        put("recipes-graphics/mesa/mesa.bbappend", "layer/accelerators/mesa.bbappend.j2",
            per_machine=sorted((m, sorted(set(o))) for m, o in mesa.items()))
        contents.append(("recipes-graphics/mesa/", "Mesa NPU drivers and the Teflon TFLite delegate"))

    put("recipes-core/packagegroups/packagegroup-edgegenai-accelerators.bb",
        "layer/accelerators/packagegroup.bb.j2",
        per_machine=sorted((m, sorted(set(p))) for m, p in per_machine_pkgs.items()))
    put("lib/oeqa/runtime/cases/edgegenai_accelerators.py",
        "layer/accelerators/oeqa/edgegenai_accelerators.py.j2",
        per_machine=sorted(per_machine_tests.items()))
    contents.append(("lib/oeqa/runtime/cases/edgegenai_accelerators.py", "testimage cases for the accelerators"))
    return contents

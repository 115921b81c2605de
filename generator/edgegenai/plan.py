"""What a spec puts on each device, before anything is built: the plan.

Per board and release: the engines the board runs, on which device, with
which model (file, size, quantisation, licence) and how much of the
board's memory the service will take (the estimate the service's limits
come from, against the board's RAM and the system's reserve); the
accelerators with their driver, firmware and runtime versions; the image
features; the upstream repositories and the commits they are pinned to;
and every licence flag the build will stop on until it is accepted.

Pure data (JSON-ready dicts): `cli/plan.py` prints it for people, as
Markdown for a pull request, or as JSON.
"""

from __future__ import annotations

from typing import Dict, List

from . import licences, memory
from .catalog import Catalog
from .render import board_pins, layer_collections
from .spec import Spec


def _mib(n: int) -> int:
    """Whole MiB, as the service's memory drop-in and the spec's memory check count them."""
    return n // memory.MIB


def _memory(engine, model, context_size: int, ram_mib: int) -> dict:
    """The service's share of the board's memory, and what is left."""
    if engine.model_memory != "host":
        return {"where": "accelerator", "service_max": engine.host_memory_max}
    est = memory.estimate(model, context_size)
    out = {"where": "board", "context_size": context_size, "weights_mib": _mib(est.weights),
           "board_mib": ram_mib, "system_reserve_mib": memory.SYSTEM_RESERVE // memory.MIB}
    if est.total is None:
        out.update(estimate_mib=None, high_mib=None, max_mib=None,
                   left_mib=ram_mib - out["system_reserve_mib"] - out["weights_mib"])
        return out
    out.update(kv_cache_mib=_mib(est.kv_cache), compute_mib=_mib(est.compute),
               runtime_mib=memory.RUNTIME // memory.MIB, estimate_mib=_mib(est.total),
               high_mib=est.high_mib, max_mib=est.max_mib,
               left_mib=ram_mib - out["system_reserve_mib"] - est.high_mib)
    return out


def _model(model, quant) -> dict:
    return {"name": model.name, "format": model.format, "file": model.filename, "size": model.size,
            "quantization": quant or model.quantization, "quantized_in_build": bool(quant),
            "license": model.license, "license_flags": model.license_flags.split(),
            "sha256": model.sha256}


def _engine(spec: Spec, catalog: Catalog, ref, name: str) -> dict:
    engine = catalog.engines[name]
    espec = spec.engines[name]
    backends = sorted(set(espec.backends_of(engine)))
    devices = [engine.device] if engine.device else \
        [engine.backends[b].device for b in sorted(engine.backends) if engine.backends[b].device
         and (engine.backends[b].always or b in backends)]
    out = {"engine": name, "backends": backends, "devices": devices, "model": None, "server": None,
           "memory": None}
    model = spec.served_model(name, catalog, ref.name)
    if model is None:
        return out
    mref = next(m for m in spec.models if m.name == model.name)
    out["model"] = _model(model, mref.quant_for(ref.name))
    if engine.server:
        server = espec.server
        out["server"] = {"host": server.host, "port": server.port, "auth": server.auth,
                         "allow": list(server.allow)}
        out["memory"] = _memory(engine, model, server.context_size, catalog.boards[ref.name].memory_mb)
    return out


def _accelerator(catalog: Catalog, name: str) -> dict:
    acc = catalog.accelerators[name]
    stack = catalog.stacks[acc.stack]
    parts = {"driver": stack.driver, "firmware": stack.firmware, "runtime": stack.runtime}
    return {"name": name, "stack": stack.name, "version": stack.version, "serves": acc.serves,
            **{k: (f"{v.recipe} {v.pv}" if v else None) for k, v in parts.items()},
            "packages": list(stack.packages)}


def make(spec: Spec, catalog: Catalog) -> dict:
    """The plan of a valid spec (see the module's docstring)."""
    devices: List[dict] = []
    collections = layer_collections(spec, catalog)
    for ref in spec.boards:
        board = catalog.boards[ref.name]
        flags = [{"flag": t.flag, "fragment": f"kas/opt/{t.flag}.yml"}
                 for t in licences.for_board(spec, catalog, ref.name)]
        for rel in spec.releases:
            release = catalog.releases[rel]
            devices.append({
                "board": ref.name, "machine": board.machine, "arch": board.arch, "cpu": board.cpu,
                "ram_mib": board.memory_mb, "release": rel, "yocto": release.version,
                "kernel": (board.kernel_versions or {}).get(rel) or release.kernel,
                "engines": [_engine(spec, catalog, ref, e) for e in spec.board_engines(ref, catalog)],
                "accelerators": [_accelerator(catalog, a.name) for a in ref.accelerators],
                "features": list(spec.image.features),
                "licence_flags": flags,
                "layers": [{"repo": n, "url": u, "commit": c}
                           for n, u, c in board_pins(catalog, collections, board, release)],
            })
    return {"project": spec.project, "image": spec.image.name, "devices": devices}


def by_device(plan: Dict) -> Dict[str, dict]:
    """The plan's devices keyed "<board> on <release>"."""
    return {f"{d['board']} on {d['release']}": d for d in plan["devices"]}

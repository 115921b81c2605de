"""`edgegenai plan [SPEC] [--json | --markdown] [--diff OLD_SPEC]`: see before you build.

What the spec puts on each device (board x release): engines and the
device each runs on, models, the memory the service takes against the
board's RAM, accelerators and their versions, image features, licence
flags the build stops on, and the upstream pins.  For people it fits 80
columns; `--markdown` is for a pull request comment; `--json` for tools.
`--diff OLD_SPEC` shows, per device, what changing OLD_SPEC into SPEC
changes.
"""

from __future__ import annotations

import difflib
import json
import textwrap
from pathlib import Path
from typing import List, Optional

import click

from .. import plan as plan_mod
from ..catalog import load_catalog
from ..spec import load_spec

WIDTH = 80
LABEL = 10  # the label column of the text plan


def _size(n: int) -> str:
    return f"{n / 10**9:.2f} GB" if n >= 10**9 else f"{n / 10**6:.1f} MB"


def _memory(mem: Optional[dict]) -> Optional[str]:
    if mem is None:
        return None
    if mem["where"] == "accelerator":
        return f"the model is on the accelerator's own memory; the service is capped at {mem['service_max']}"
    if mem["estimate_mib"] is None:
        return (f"{mem['weights_mib']} MiB of weights (the model has no shape: no KV cache estimate, "
                f"no limits) of {mem['board_mib']} MiB")
    return (f"{mem['estimate_mib']} MiB at a {mem['context_size']}-token context (weights "
            f"{mem['weights_mib']}, KV cache {mem['kv_cache_mib']}, compute {mem['compute_mib']}, runtime "
            f"{mem['runtime_mib']}); limits {mem['high_mib']}/{mem['max_mib']} MiB (high/max) of "
            f"{mem['board_mib']} MiB, {mem['left_mib']} MiB left after {mem['system_reserve_mib']} for the system")


def _rows(device: dict) -> List[tuple]:
    """(label, text) rows of one device."""
    rows = []
    for e in device["engines"]:
        where = ", ".join(e["devices"]) or "-"
        backends = f" ({', '.join(e['backends'])})" if e["backends"] else ""
        server = ""
        if e["server"]:
            s = e["server"]
            server = f"; HTTP on {s['host']}:{s['port']}" + (", API key" if s["auth"] == "api-key" else "")
        rows.append(("engine", f"{e['engine']}{backends} on {where}{server}"))
        m = e["model"]
        if m:
            quant = f" {m['quantization']}" if m["quantization"] else ""
            built = " (quantised in the build)" if m["quantized_in_build"] else ""
            flags = f", flags {' '.join(m['license_flags'])}" if m["license_flags"] else ""
            rows.append(("model", f"{m['name']}: {m['format']}{quant}{built}, {_size(m['size'])}, "
                                  f"{m['license']}{flags}"))
        mem = _memory(e["memory"])
        if mem:
            rows.append(("memory", mem))
    for a in device["accelerators"]:
        parts = ", ".join(v for v in (a["driver"], a["firmware"], a["runtime"]) if v)
        rows.append(("accel", f"{a['name']}: {a['stack']} {a['version']}" + (f" ({parts})" if parts else "")))
    rows.append(("features", ", ".join(device["features"]) or "none"))
    rows.append(("licences", ", ".join(f"{f['flag']} ({f['fragment']})" for f in device["licence_flags"])
                 or "none to accept"))
    rows.append(("layers", ", ".join(f"{l['repo']} {l['commit'][:12]}" for l in device["layers"])))
    return rows


def _title(d: dict) -> str:
    return (f"{d['board']} on {d['release']} (Yocto {d['yocto']}): {d['machine']}, {d['arch']}, "
            f"{d['ram_mib'] // 1024} GiB, Linux {d['kernel']}")


def text(device: dict) -> List[str]:
    lines = textwrap.wrap(_title(device), WIDTH, subsequent_indent="  ")
    for label, value in _rows(device):
        lines += textwrap.wrap(value, WIDTH, initial_indent=f"  {label:<{LABEL}}",
                               subsequent_indent=" " * (LABEL + 2), break_on_hyphens=False)
    return lines


def markdown(plan: dict) -> str:
    out = [f"## edgegenai plan: {plan['project']} ({plan['image']})", ""]
    for d in plan["devices"]:
        out += [f"### {_title(d)}", "", "| | |", "|---|---|"]
        out += [f"| {label} | {value.replace('|', '&#124;')} |" for label, value in _rows(d)]
        out.append("")
    return "\n".join(out)


def diff(old: dict, new: dict) -> str:
    """Per device, a unified diff of its text plan; devices added or gone in full."""
    before, after = plan_mod.by_device(old), plan_mod.by_device(new)
    chunks = []
    for key in list(before) + [k for k in after if k not in before]:
        a = text(before[key]) if key in before else []
        b = text(after[key]) if key in after else []
        if a == b:
            continue
        chunks.append("\n".join(difflib.unified_diff(a, b, f"old: {key}" if a else "/dev/null",
                                                     f"new: {key}" if b else "/dev/null", lineterm="", n=0)))
    return "\n".join(chunks) if chunks else "no device changes"


@click.command("plan")
@click.argument("spec_file", metavar="[SPEC]", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="The plan as JSON.")
@click.option("--markdown", "as_markdown", is_flag=True, help="The plan as Markdown (a pull request comment).")
@click.option("--diff", "old_spec", type=click.Path(dir_okay=False, path_type=Path),
              help="Show what changes on each device from OLD_SPEC to SPEC.")
def command(spec_file, as_json, as_markdown, old_spec):
    """What SPEC (default: the built-in spec) puts on each device, before a build."""
    if as_json and as_markdown:
        raise click.UsageError("--json and --markdown: choose one")
    catalog = load_catalog()
    plan = plan_mod.make(load_spec(spec_file, catalog), catalog)
    if old_spec is not None:
        changes = diff(plan_mod.make(load_spec(old_spec, catalog), catalog), plan)
        click.echo(f"```diff\n{changes}\n```" if as_markdown else changes)
        return
    if as_json:
        click.echo(json.dumps(plan, indent=2))
    elif as_markdown:
        click.echo(markdown(plan))
    else:
        click.echo("\n\n".join("\n".join(text(d)) for d in plan["devices"]))

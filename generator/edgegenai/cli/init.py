"""`edgegenai init`: a spec for your boards, asked for or given as flags.

It asks (or takes as flags, for scripts: `--board`, `--release`,
`--accelerator BOARD=NAME`, `--model`, `--feature`, `--yes` for the
defaults of anything not given) which boards, releases, accelerators each
board can carry, which model (only those that fit every chosen board's
memory are offered) and which image features; then writes a commented
spec that passes validation, never over an existing file unless
`--force`.  The engine follows from the model; a model for an
accelerator is offered only when every board carries that accelerator.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List

import click
import yaml

from .. import memory
from ..catalog import Catalog, load_catalog
from ..errors import UserError
from ..spec import can_run, parse_spec, BoardRef
from .boards import _installable, _on

DEFAULT_FEATURES = ["ssh"]


def _interactive() -> bool:
    """Ask only a person: a script or CI piping into init gets the defaults."""
    return sys.stdin.isatty()


def _fits(catalog: Catalog, model, boards: List[str], accelerators: Dict[str, List[str]]) -> bool:
    """Whether every board can serve the model: its engine runs there and the model fits its memory."""
    engine = catalog.engines[model.engine]
    for b in boards:
        ref = BoardRef(name=b, accelerators=[{"name": a} for a in accelerators.get(b, [])])
        if not can_run(engine, ref) or not all(_on(catalog.boards[b], engine.needs)):
            return False
        if engine.model_memory == "host":
            est = memory.estimate(model, 4096)
            if not memory.fits(est, catalog.boards[b].memory_mb):
                return False
    return True


def _carriable(catalog: Catalog, board: str, releases: List[str]) -> List[str]:
    """Accelerators the board can carry on every chosen release."""
    b = catalog.boards[board]
    return sorted(a.name for a in catalog.accelerators.values()
                  if all(r in _on(b, a.needs) and _installable(a, b, r, catalog) for r in releases))


def _ask_list(what: str, choices: List[str], default: List[str]) -> List[str]:
    click.echo(f"{what}: {', '.join(choices)}")
    while True:
        raw = click.prompt(f"{what} (comma-separated)", default=",".join(default), show_default=True)
        picked = [p.strip() for p in raw.split(",") if p.strip()]
        unknown = [p for p in picked if p not in choices]
        if not unknown:
            return picked
        click.echo(f"not one of them: {', '.join(unknown)}")


def _text(project: str, releases: List[str], boards: List[dict], engine: str, model: str,
          features: List[str]) -> str:
    def dump(value) -> str:
        return yaml.safe_dump(value, default_flow_style=False, sort_keys=False).rstrip("\n")

    return "\n".join([
        "# Written by `edgegenai init`; `edgegenai plan` shows what it puts on each device,",
        "# `edgegenai generate` renders the layer from it.",
        dump({"project": project}),
        "",
        "# Yocto releases, default first (kas/opt/<release>.yml selects another).",
        dump({"releases": releases}),
        "",
        "# Target boards and the accelerators fitted to them (`edgegenai catalog boards`).",
        dump({"boards": boards}),
        "",
        "# The engine that serves the model; its server listens on loopback unless you",
        "# set host, auth: api-key and allow (see the README).",
        dump({"engines": {engine: {}}}),
        "",
        "# Models, pinned by checksum (`edgegenai catalog models`).",
        dump({"models": [model]}),
        "",
        "# Image features (`edgegenai catalog features`).",
        dump({"image": {"features": features}}),
        "",
    ])


@click.command("init")
@click.option("-o", "--output", default="edgegenai.yaml", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="The spec file to write.")
@click.option("--project", default="edgegenai", show_default=True, help="Project name.")
@click.option("--board", "boards", multiple=True, help="A board (repeat for more).")
@click.option("--release", "releases", multiple=True, help="A Yocto release (repeat; the first is the default).")
@click.option("--accelerator", "accelerators", multiple=True, metavar="BOARD=NAME",
              help="Fit an accelerator to a board (repeat).")
@click.option("--model", help="The model to serve (default: the largest that fits every board).")
@click.option("--feature", "features", multiple=True, help="An image feature (repeat; default: ssh).")
@click.option("-y", "--yes", is_flag=True, help="Ask nothing: the defaults for anything not given.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def command(output, project, boards, releases, accelerators, model, features, yes, force):
    """Write a spec for your boards, asking for what the flags do not say."""
    catalog = load_catalog()
    ask = not yes and _interactive()
    if output.exists() and not force:
        raise UserError(f"{output}: exists; choose another --output, or --force to overwrite it")

    boards = list(boards) or (_ask_list("boards", sorted(catalog.boards), ["qemuarm64"]) if ask else ["qemuarm64"])
    releases = list(releases) or (_ask_list("releases", sorted(catalog.releases, reverse=True),
                                            ["wrynose", "scarthgap"]) if ask else ["wrynose", "scarthgap"])
    for flag, given, known in (("--board", boards, catalog.boards), ("--release", releases, catalog.releases)):
        unknown = [g for g in given if g not in known]
        if unknown:
            raise UserError(f"{flag}: unknown {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}")
    fitted: Dict[str, List[str]] = {}
    for item in accelerators:
        board, _, name = item.partition("=")
        if not name:
            raise UserError(f"--accelerator {item!r}: must be BOARD=NAME")
        fitted.setdefault(board, []).append(name)
    if ask and not accelerators:
        for b in boards:
            choices = _carriable(catalog, b, releases) if b in catalog.boards else []
            if choices:
                fitted[b] = _ask_list(f"accelerators on {b} (none: leave empty)", choices, [])

    if model is None:
        offers = [m for m in catalog.models.values()
                  if catalog.engines[m.engine].server and _fits(catalog, m, boards, fitted)]
        # Prefer the accelerator's engine, then the engine's own default
        # model, then the largest.
        offers.sort(key=lambda m: (catalog.engines[m.engine].accelerators == [],
                                   catalog.engines[m.engine].default_model != m.name, -m.size, m.name))
        if not offers:
            raise UserError("no catalog model can be served on every board chosen; name one with --model")
        names = [m.name for m in offers]
        model = click.prompt("model", type=click.Choice(names), default=names[0]) if ask else names[0]
    if model not in catalog.models:
        raise UserError(f"--model: unknown model {model!r}; known: {', '.join(sorted(catalog.models))}")
    features = list(features) or (_ask_list("image features", sorted(catalog.features), DEFAULT_FEATURES)
                                  if ask else DEFAULT_FEATURES)

    refs = [{"name": b, "accelerators": fitted[b]} if fitted.get(b) else b for b in boards]
    engine = catalog.models[model].engine
    text = _text(project, releases, refs, engine, model, features)
    parse_spec(yaml.safe_load(text), catalog, str(output))  # refuse to write a spec that does not validate
    output.write_text(text, encoding="utf-8")
    click.echo(f"edgegenai: wrote {output}; next: edgegenai plan {output}, then edgegenai generate {output}")

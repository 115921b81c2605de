"""The restricted terms an image carries, and how a user accepts them.

OE stops a build at a recipe whose LICENSE_FLAGS the user has not put in
LICENSE_FLAGS_ACCEPTED.  The flags of a spec come from three places: a
BSP whose proprietary recipes the distro flags (meta-tegra: nvidia-jetson),
the firmware of a fitted accelerator (hailo-firmware) and a model whose
licence restricts use (the model's `license_flags`).  For each, the kas
files get an explicit fragment, `kas/opt/<flag>.yml`, and `edgegenai
build` asks for it by name: accepting terms is always a visible step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

from .catalog import Catalog
from .spec import Spec


@dataclass(frozen=True)
class Terms:
    """One licence flag: what it covers and the boards whose builds need it."""

    flag: str
    details: str
    boards: Tuple[str, ...]
    # The BSP layer collection whose recipes the distro flags, if that is where it comes from.
    layer: str = ""
    # The BSP's own acceptance variables the fragment sets too (variable, value).
    conf: Tuple[Tuple[str, str], ...] = ()


def terms(spec: Spec, catalog: Catalog) -> List[Terms]:
    """Every flag a build of the spec needs accepted, sorted by flag."""
    found: dict = {}

    def add(flag: str, details: str, boards, layer: str = "", conf=()) -> None:
        old = found.get(flag)
        merged = tuple(sorted(set(boards) | set(old.boards if old else ())))
        found[flag] = Terms(flag, old.details if old else details, merged, old.layer if old else layer,
                            old.conf if old else tuple(conf))

    for ref in spec.boards:
        board = catalog.boards[ref.name]
        for coll in board.layers:
            layer = catalog.layers[coll]
            if layer.licence_flag:
                add(layer.licence_flag, layer.licence_details or "", [board.name], coll,
                    sorted(layer.licence_conf.items()))
        for acc_ref in ref.accelerators:
            firmware = catalog.stacks[catalog.accelerators[acc_ref.name].stack].firmware
            for flag in (firmware.license_flags.split() if firmware else []):
                add(flag, f"{firmware.summary} ({firmware.recipe} {firmware.pv}) is proprietary; its "
                          f"terms are the file its recipe's LIC_FILES_CHKSUM names, which the build "
                          f"copies to tmp/deploy/licenses/{firmware.recipe}/. Read them, then accept "
                          f"them by adding {flag} to LICENSE_FLAGS_ACCEPTED (kas/opt/{flag}.yml).",
                    [board.name])
    everywhere = [ref.name for ref in spec.boards]
    for model in spec.resolved_models(catalog):
        for flag in model.license_flags.split():
            add(flag, f"The model {model.name} is under {model.license}, which restricts its use; "
                      f"its terms are the file its recipe's LIC_FILES_CHKSUM names (see "
                      f"{model.homepage}). Read them, then accept them by adding {flag} to "
                      f"LICENSE_FLAGS_ACCEPTED (kas/opt/{flag}.yml).", everywhere)
    return [found[f] for f in sorted(found)]


def for_board(spec: Spec, catalog: Catalog, board: str) -> List[Terms]:
    """The flags a build of one board of the spec needs accepted."""
    return [t for t in terms(spec, catalog) if board in t.boards]

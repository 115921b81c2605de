"""Where a kernel configuration fragment for every board of a spec goes.

A feature that needs kernel options on every board (the debug variant's
tracing, the containers' namespaces and netfilter) appends its fragment to
each board's kernel recipe: OE-core's in a `recipes-*/linux` directory of
the layer, a BSP's through that BSP's dynamic layer, so the append is used
only when the BSP is present.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Set, Tuple

from .catalog import Catalog
from .spec import Spec

Put = Callable[..., None]


def layers(spec: Spec, catalog: Catalog) -> List[str]:
    """BSP collections whose kernel recipes get a fragment (BBFILES_DYNAMIC)."""
    return sorted({catalog.boards[b.name].kernel_layer for b in spec.boards} - {"core"})


def append_everywhere(spec: Spec, catalog: Catalog, put: Put, recipes_dir: str, fragment: str,
                      append_template: str, fragment_template: str, **context) -> None:
    """The fragment and an append for each kernel recipe of the spec's boards."""
    kernels: Dict[str, Set[str]] = {}
    for ref in spec.boards:
        board = catalog.boards[ref.name]
        kernels.setdefault(board.kernel_layer, set()).update(board.kernel_recipes())
    for klayer, providers in sorted(kernels.items()):
        kdir = f"{recipes_dir}/linux" if klayer == "core" else f"dynamic-layers/{klayer}/{recipes_dir}/linux"
        for provider in sorted(providers):
            put(f"{kdir}/{provider}_%.bbappend", append_template, fragment=fragment, **context)
        put(f"{kdir}/files/{fragment}", fragment_template, **context)


def release_masks(spec: Spec, catalog: Catalog) -> List[Tuple[str, List[str]]]:
    """(release, kernel recipes) whose appends must be masked on that release.

    A BSP that renames its kernel recipe between releases (meta-tegra:
    linux-noble-nvidia-tegra on wrynose, linux-jammy-nvidia-tegra on
    scarthgap) gets an append for each; on a release without the recipe
    that append would dangle, which BitBake refuses.
    """
    providers = [catalog.boards[ref.name].kernel_provider for ref in spec.boards]
    renamed = {name for p in providers if isinstance(p, dict) for name in p.values()}
    out = []
    for release in spec.releases:
        used = {p.get(release) if isinstance(p, dict) else p for p in providers}
        if renamed - used:
            out.append((release, sorted(renamed - used)))
    return out

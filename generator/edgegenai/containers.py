"""What the containers feature adds: Podman on every board, and the kernel it needs.

Podman, crun, netavark and aardvark-dns come from meta-virtualization
(pinned per release, with the meta-openembedded layers it depends on).
The distro gets the DISTRO_FEATURES it requires (virtualization, seccomp,
ipv6) and the podman stack wrynose's container profile sets (scarthgap
has no profile and would default to runc and CNI).  Every board's kernel
gets a fragment with the options podman and crun need (namespaces,
cgroups, seccomp, overlayfs, veth, a bridge with netfilter NAT), checked
against the Kconfig like the others.  What exactly is catalog data
(features.yaml `containers`).  Pure: `put` decides where files go.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Set, Tuple

from .catalog import Catalog, Feature
from .spec import Spec

NAME = "containers"
KERNEL_FRAGMENT = "edgegenai-containers.cfg"

Put = Callable[..., None]


def feature(spec: Spec, catalog: Catalog):
    """The feature's catalog entry if the spec asks for it, else None."""
    return catalog.features[NAME] if NAME in spec.image.features else None


def kernel_layers(spec: Spec, catalog: Catalog) -> List[str]:
    """BSP collections whose kernel recipes get the fragment (BBFILES_DYNAMIC)."""
    if feature(spec, catalog) is None:
        return []
    return sorted({catalog.boards[b.name].kernel_layer for b in spec.boards} - {"core"})


def render_containers(spec: Spec, catalog: Catalog, put: Put) -> List[Tuple[str, str]]:
    """The kernel fragment and its appends; returns README rows."""
    feat: Feature = feature(spec, catalog)
    if feat is None:
        return []
    kernels: Dict[str, Set[str]] = {}
    for ref in spec.boards:
        board = catalog.boards[ref.name]
        kernels.setdefault(board.kernel_layer, set()).update(board.kernel_recipes())
    for klayer, providers in sorted(kernels.items()):
        kdir = "recipes-containers/linux" if klayer == "core" else f"dynamic-layers/{klayer}/recipes-containers/linux"
        for provider in sorted(providers):
            put(f"{kdir}/{provider}_%.bbappend", "layer/containers/kernel.bbappend.j2", fragment=KERNEL_FRAGMENT)
        put(f"{kdir}/files/{KERNEL_FRAGMENT}", "layer/containers/containers.cfg.j2", config=feat.kernel_config)
    return [("recipes-containers/linux/", "the kernel options Podman and crun need, on every board")]

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

from typing import Callable, List, Tuple

from . import kernels
from .catalog import Catalog, Feature
from .spec import Spec

NAME = "containers"
KERNEL_FRAGMENT = "edgegenai-containers.cfg"

Put = Callable[..., None]


def feature(spec: Spec, catalog: Catalog):
    """The feature's catalog entry if the spec asks for it, else None."""
    return catalog.features[NAME] if NAME in spec.image.features else None


def render_containers(spec: Spec, catalog: Catalog, put: Put) -> List[Tuple[str, str]]:
    """The kernel fragment and its appends; returns README rows."""
    feat: Feature = feature(spec, catalog)
    if feat is None:
        return []
    kernels.append_everywhere(spec, catalog, put, "recipes-containers", KERNEL_FRAGMENT,
                              "layer/containers/kernel.bbappend.j2", "layer/containers/containers.cfg.j2",
                              config=feat.kernel_config)
    return [("recipes-containers/linux/", "the kernel options Podman and crun need, on every board")]

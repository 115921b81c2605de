"""What the CVE report option adds: `kas/opt/cve.yml` and one include per release.

Each release reports CVEs its own way (releases.yaml `cve_check`): wrynose
through OE-core's sbom-cve-check fragment, into its SPDX 3.0 SBOM;
scarthgap through the cve-check class, beside its SPDX 2.2 SBOM.  One kas
option serves both: it requires `edgegenai-cve-${LAYERSERIES_CORENAMES}.inc`,
which OE-core's layer.conf names for the release being built, so the
option needs no per-release variant and an unknown release stops the
build at the `require`.
"""

from __future__ import annotations

from typing import Callable, List

from .catalog import Release

# The kas option fragment, kas/opt/<OPTION>.yml.
OPTION = "cve"


def _how(release: Release) -> str:
    check = release.cve_check
    return f"the {check.fragment} fragment" if check.fragment else f"the {check.inherit} class"


def summary(releases: List[Release]) -> str:
    """How each release makes its CVE report, in one line."""
    return "; ".join(f"{r.name}, {_how(r)}" for r in releases)


def render_cve(releases: List[Release], put: Callable[..., None], put_in_layer: Callable[..., None]) -> None:
    for release in releases:
        put_in_layer(f"conf/distro/include/edgegenai-cve-{release.name}.inc",
                     "layer/conf/distro/include/edgegenai-cve.inc.j2", release=release)
    put(f"kas/opt/{OPTION}.yml", "kas/cve.yml.j2", releases=[(r.name, r.sbom, _how(r)) for r in releases])

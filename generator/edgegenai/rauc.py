"""RAUC on the device, shared by the features that install signed bundles.

`ota` (A/B system slots) and `model-rollout` (model artifacts) both put
RAUC on the device and sign bundles with the same keys.  What they share
lives here: meta-rauc as a layer dependency, the keys' settings (a distro
include), the development keys' recipe and its kas option, and RAUC's
system.conf with the keyring, through one bbappend to meta-rauc's
rauc-conf.  Each feature says what system.conf gets from it: `ota` the
bootloader and the two root file system slots per board, `model-rollout`
the artifact repository; without `ota`, the running root file system is
RAUC's one read-only slot, behind a backend that refuses to switch it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

from .spec import Spec

FEATURES = ("ota", "model-rollout")
# Layer collections RAUC needs: meta-rauc.
COLLECTIONS = ("rauc",)
# The keyring's name beside system.conf, the development keys' recipe and kas option.
KEYRING = "edgegenai-keyring.pem"
DEV_KEYS_RECIPE = "edgegenai-rauc-dev-keys"
DEV_KEYS_OPTION = "rauc-dev-keys"
# A release's own keys: paths in these variables, passed from the environment
# into BitBake by the kas option KEYS_OPTION (CI secrets become files, not settings).
KEYS_OPTION = "rauc-keys"
KEY_VARIABLES = ("EDGEGENAI_RAUC_KEY", "EDGEGENAI_RAUC_CERT", "EDGEGENAI_RAUC_KEYRING")
# The keys' settings, required by the distro.
DISTRO_INCLUDE = "edgegenai-rauc.inc"
# RAUC's own status (slots, artifacts), on the data partition: never in a slot.
DATA_DIR = "/data/edgegenai/rauc"
# Bundle recipes start with these (ota: edgegenai-bundle, model-rollout: edgegenai-model-bundle-<model>).
BUNDLE_PREFIXES = ("edgegenai-bundle", "edgegenai-model-bundle-")
# Without A/B slots: RAUC's backend for the one read-only slot, and its name.
SINGLE_SLOT_BACKEND = "edgegenai-rauc-bootloader"
SINGLE_SLOT_NAME = "system"


@dataclass(frozen=True)
class Slots:
    """One board's A/B system slots, as system.conf names them."""

    machine: str
    bootloader: str  # RAUC's backend: grub, uboot
    slots: tuple  # (bootname, device) for A and B
    grubenv: str = ""


@dataclass(frozen=True)
class ArtifactRepo:
    """An artifact repository system.conf declares (model-rollout)."""

    name: str
    path: str
    description: str


def wanted(spec: Spec) -> bool:
    return any(f in spec.image.features for f in FEATURES)


def distro_includes(spec: Spec) -> List[str]:
    return [DISTRO_INCLUDE] if wanted(spec) else []


def has_dev_keys(layer: Path) -> bool:
    """Whether a generated layer has the development keys' recipe."""
    return any(layer.glob(f"recipes-ota/{DEV_KEYS_RECIPE}/*.bb"))


def bundle_recipes(layer: Path) -> List[str]:
    """The bundle recipes (PNs) of a generated layer: the system's (ota) and the models'."""
    return sorted({p.name.split("_")[0] for p in layer.glob("recipes-ota/*/*.bb")
                   if p.parent.name.startswith(BUNDLE_PREFIXES)})


def signing() -> dict:
    """Template context for recipes that sign bundles or trust their CA."""
    return dict(dev_keys_recipe=DEV_KEYS_RECIPE, dev_keys_option=DEV_KEYS_OPTION, keyring=KEYRING)


def render_rauc(spec: Spec, put: Callable[..., None], boards: List[Slots],
                repo: Optional[ArtifactRepo]) -> List[tuple]:
    """system.conf (one per board with A/B slots, else one), the rauc-conf bbappend, the keys.

    Returns README rows.
    """
    if not wanted(spec):
        return []
    ctx = dict(signing(), data_dir=DATA_DIR, repo=repo, backend=SINGLE_SLOT_BACKEND,
               bootname=SINGLE_SLOT_NAME)
    if boards:
        for b in boards:
            put(f"recipes-ota/rauc/files/{b.machine}/system.conf", "layer/rauc/files/system.conf.j2",
                board=b, **ctx)
    else:
        put("recipes-ota/rauc/files/system.conf", "layer/rauc/files/system.conf.j2", board=None, **ctx)
    put("recipes-ota/rauc/rauc-conf.bbappend", "layer/rauc/rauc-conf.bbappend.j2", **ctx)
    put(f"conf/distro/include/{DISTRO_INCLUDE}", "layer/conf/distro/include/edgegenai-rauc.inc.j2", **ctx)
    put(f"recipes-ota/{DEV_KEYS_RECIPE}/{DEV_KEYS_RECIPE}-native_1.0.bb", "layer/rauc/dev-keys.bb.j2", **ctx)
    what = "the A/B slots" if boards else "one read-only system slot"
    what += " and the models artifact repository" if repo else ""
    return [(f"recipes-ota/{DEV_KEYS_RECIPE}/", "DEVELOPMENT signing keys, made in the build"),
            ("recipes-ota/rauc/", f"RAUC's system.conf and keyring: {what}")]


def render_dev_keys_option(spec: Spec, put: Callable[..., None]) -> None:
    """kas/opt/rauc-dev-keys.yml, the development keys, a choice the user makes by name;
    kas/opt/rauc-keys.yml, a release's keys named by the environment (what CI does)."""
    if wanted(spec):
        put(f"kas/opt/{DEV_KEYS_OPTION}.yml", "kas/rauc-dev-keys.yml.j2", dev_keys_recipe=DEV_KEYS_RECIPE)
        put(f"kas/opt/{KEYS_OPTION}.yml", "kas/rauc-keys.yml.j2", variables=KEY_VARIABLES,
            dev_keys_option=DEV_KEYS_OPTION)

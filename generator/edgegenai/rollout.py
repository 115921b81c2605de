"""What the model-rollout feature adds: signed model bundles kept only if the device passes a gate.

A model update is a RAUC bundle whose only image is an artifact of the
`models` artifact repository (RAUC 1.14 and later; meta-rauc has 1.15.2 on
both releases): RAUC checks its signature and installs the tree (model file,
manifest, the server settings that point at it) with one symlink switch, so
a model changes without a system update and model and settings change
together.  RAUC keeps no earlier artifact once a new one is in place, so the
way back is the last bundle that passed the gate, kept on the device and
installed again; with none, the image's own model.  The gate and that
choice live in one script on the device (`edgegenai-model-rollout`), which
the service reads its model through: a drop-in adds the artifact's
settings after the image's, by way of a link the script owns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Optional, Tuple

from . import engines
from .catalog import Catalog
from .spec import Spec, model_recipe

FEATURE = "model-rollout"
# Layer collections the feature needs: meta-rauc.
COLLECTIONS = ("rauc",)
RECIPE = "edgegenai-model-rollout"
SCRIPT = "edgegenai-model-rollout"
# The artifact repository (system.conf) and the rollout's own state, on the
# data partition once A/B system slots come: neither may live in a rootfs slot.
REPO_NAME = "models"
REPO_PATH = "/data/edgegenai/models"
STATE_DIR = "/data/edgegenai/rollout"
RAUC_DATA = "/data/edgegenai/rauc"
# RAUC's bootloader backend while the image has one system slot, and that slot's name.
BOOTLOADER = "edgegenai-rauc-bootloader"
BOOTNAME = "system"
DROPIN = "20-model-rollout.conf"
# The keyring's name beside system.conf, the development keys' recipe and kas option.
KEYRING = "edgegenai-keyring.pem"
DEV_KEYS_RECIPE = "edgegenai-rauc-dev-keys"
DEV_KEYS_OPTION = "rauc-dev-keys"
BUNDLE_RECIPE = "edgegenai-model-bundle"
CLASS = "edgegenai_model_artifact"
# The keys' settings, required by the distro.
DISTRO_INCLUDE = "edgegenai-rollout.inc"
TMPFILES = "edgegenai-model-rollout.conf"
# The gate's fixed request (prompt, max_tokens): JSON, so the prompt lands in no script.
REQUEST = "model-gate.json"


def wanted(spec: Spec) -> bool:
    return FEATURE in spec.image.features


def distro_includes(spec: Spec) -> List[str]:
    return [DISTRO_INCLUDE] if wanted(spec) else []


def bundle_recipes(layer: Path) -> List[str]:
    """The model bundle recipes (PNs) of a generated layer."""
    return sorted({p.name.split("_")[0] for p in layer.glob(f"recipes-ota/{BUNDLE_RECIPE}-*/*.bb")})


def has_dev_keys(layer: Path) -> bool:
    """Whether a generated layer has the development keys' recipe."""
    return any(layer.glob(f"recipes-ota/{DEV_KEYS_RECIPE}/*.bb"))


def active_env() -> str:
    """The link the server reads the artifact's settings through (absent: the image's model)."""
    return f"{STATE_DIR}/active.env"


def render_rollout(spec: Spec, catalog: Catalog, plans: List[engines.EnginePlan],
                   put: Callable[..., None]) -> Tuple[List[Tuple[str, str]], List[str]]:
    """The rollout recipe and RAUC's system.conf: (README rows, packages for the image)."""
    if not wanted(spec):
        return [], []
    p = next(p for p in plans if p.engine.service and p.engine.service.model_setting)
    svc = p.engine.service
    server = spec.engines[p.engine.name].server
    auth = server.auth == "api-key"
    ctx = dict(service=f"{svc.name}.service", unit=f"{svc.name}.service", artifact=p.engine.name,
               repo_name=REPO_NAME, repo_path=REPO_PATH, state_dir=STATE_DIR,
               defaults=svc.name, gate=spec.image.gate,
               key_file=engines.key_file(p.engine) if auth else None, active=active_env(),
               dropin=DROPIN, tmpfiles=TMPFILES, script=SCRIPT,
               rauc_data=RAUC_DATA, bootloader=BOOTLOADER, bootname=BOOTNAME, keyring=KEYRING,
               dev_keys_recipe=DEV_KEYS_RECIPE, dev_keys_option=DEV_KEYS_OPTION,
               bundle_recipe=BUNDLE_RECIPE, model_setting=svc.model_setting,
               alias_setting=svc.alias_setting, bundle_settings=svc.bundle_settings,
               model=p.model, request=REQUEST)
    base = f"recipes-ota/{RECIPE}"
    put(f"{base}/{RECIPE}_1.0.bb", "layer/rollout/recipe.bb.j2", **ctx)
    put(f"{base}/files/{SCRIPT}", "layer/rollout/files/edgegenai-model-rollout.j2", **ctx)
    put(f"{base}/files/{DROPIN}", "layer/rollout/files/dropin.conf.j2", **ctx)
    put(f"{base}/files/{TMPFILES}", "layer/rollout/files/tmpfiles.conf.j2", **ctx)
    put(f"{base}/files/{BOOTLOADER}", "layer/rollout/files/bootloader.j2", **ctx)
    put(f"{base}/files/{REQUEST}", "layer/rollout/files/gate-request.json.j2", **ctx)
    put("recipes-ota/rauc/rauc-conf.bbappend", "layer/rollout/rauc-conf.bbappend.j2", **ctx)
    put("recipes-ota/rauc/files/system.conf", "layer/rollout/files/system.conf.j2", **ctx)
    put(f"classes/{CLASS}.bbclass", "layer/rollout/classes/edgegenai_model_artifact.bbclass.j2", **ctx)
    put(f"conf/distro/include/{DISTRO_INCLUDE}", "layer/conf/distro/include/edgegenai-rollout.inc.j2", **ctx)
    # The model recipe each board serves (its quantisation): each deploys its artifact.
    machine_pns = sorted({(catalog.boards[b.name].machine,
                           model_recipe(p.model.name, _quant(spec, p.model.name, b.name)))
                          for b in spec.boards})
    default_pn = model_recipe(p.model.name, _quant(spec, p.model.name, None))
    for pn in sorted({pn for _, pn in machine_pns} | {default_pn}):
        put(f"recipes-ota/model-artifacts/{pn}_%.bbappend", "layer/rollout/model.bbappend.j2", **ctx)
    bundle = f"{BUNDLE_RECIPE}-{p.model.name}"
    put(f"recipes-ota/{bundle}/{bundle}_{p.model.version}.bb", "layer/rollout/bundle.bb.j2",
        default_pn=default_pn, machine_pns=[(m, pn) for m, pn in machine_pns if pn != default_pn], **ctx)
    put(f"recipes-ota/{DEV_KEYS_RECIPE}/{DEV_KEYS_RECIPE}-native_1.0.bb", "layer/rollout/dev-keys.bb.j2", **ctx)
    contents = [(f"{base}/", f"{SCRIPT}: install a model bundle, gate it, keep or roll back"),
                (f"recipes-ota/{bundle}/", f"the signed model bundle of {p.model.name}"),
                ("recipes-ota/model-artifacts/", "the model recipes' trees for the bundle"),
                (f"recipes-ota/{DEV_KEYS_RECIPE}/", "DEVELOPMENT signing keys, made in the build"),
                ("recipes-ota/rauc/", "RAUC's system.conf and keyring: the models artifact repository")]
    return contents, [RECIPE]


def _quant(spec: Spec, model: str, board: Optional[str]) -> Optional[str]:
    """The quantisation `board` gets (None: its default), None for a file used as published."""
    ref = next((m for m in spec.models if m.name == model), None)
    return ref.quant_for(board) if ref else None


def render_dev_keys_option(spec: Spec, put: Callable[..., None]) -> None:
    """kas/opt/rauc-dev-keys.yml: the development keys, a choice the user makes by name."""
    if wanted(spec):
        put(f"kas/opt/{DEV_KEYS_OPTION}.yml", "kas/rauc-dev-keys.yml.j2", dev_keys_recipe=DEV_KEYS_RECIPE)

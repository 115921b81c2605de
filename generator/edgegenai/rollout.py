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

from typing import Callable, List, Optional, Tuple

from . import engines, rauc
from .catalog import Catalog
from .spec import Spec, model_recipe

FEATURE = "model-rollout"
RECIPE = "edgegenai-model-rollout"
SCRIPT = "edgegenai-model-rollout"
# The artifact repository (system.conf) and the rollout's own state, on the
# data partition once A/B system slots come: neither may live in a rootfs slot.
REPO_NAME = "models"
REPO_PATH = "/data/edgegenai/models"
STATE_DIR = "/data/edgegenai/rollout"
DROPIN = "20-model-rollout.conf"
BUNDLE_RECIPE = "edgegenai-model-bundle"
CLASS = "edgegenai_model_artifact"
TMPFILES = "edgegenai-model-rollout.conf"
# The gate's fixed request (prompt, max_tokens): JSON, so the prompt lands in no script.
REQUEST = "model-gate.json"


def wanted(spec: Spec) -> bool:
    return FEATURE in spec.image.features


def bundle_recipe(spec: Spec, catalog: Catalog) -> Optional[str]:
    """The model bundle's recipe (PN): one per served model, the one the server's model setting names."""
    if not wanted(spec):
        return None
    return _bundle(_served(engines.plan(spec, catalog)))


def _served(plans: List[engines.EnginePlan]) -> engines.EnginePlan:
    return next(p for p in plans if p.engine.service and p.engine.service.model_setting)


def _bundle(served: engines.EnginePlan) -> str:
    return f"{BUNDLE_RECIPE}-{served.model.name}"


def active_env() -> str:
    """The link the server reads the artifact's settings through (absent: the image's model)."""
    return f"{STATE_DIR}/active.env"


def artifact_repo(spec: Spec) -> Optional[rauc.ArtifactRepo]:
    """The repository RAUC's system.conf declares for model bundles."""
    if not wanted(spec):
        return None
    return rauc.ArtifactRepo(REPO_NAME, REPO_PATH, f"Models and the settings that serve them ({SCRIPT})")


def render_rollout(spec: Spec, catalog: Catalog, plans: List[engines.EnginePlan],
                   put: Callable[..., None], ota: bool) -> Tuple[List[Tuple[str, str]], List[str]]:
    """The rollout recipe, the bundles and the artifact class: (README rows, packages for the image).

    With `ota`, RAUC switches A/B slots itself and the single-slot backend is left out.
    """
    if not wanted(spec):
        return [], []
    p = _served(plans)
    svc = p.engine.service
    server = spec.engines[p.engine.name].server
    auth = server.auth == "api-key"
    ctx = dict(service=f"{svc.name}.service", unit=f"{svc.name}.service", artifact=p.engine.name,
               repo_name=REPO_NAME, repo_path=REPO_PATH, state_dir=STATE_DIR,
               defaults=svc.name, gate=spec.image.gate,
               key_file=engines.key_file(p.engine) if auth else None, active=active_env(),
               dropin=DROPIN, tmpfiles=TMPFILES, script=SCRIPT,
               rauc_data=None if ota else rauc.DATA_DIR,  # with ota, edgegenai-ota declares it
               bootloader=None if ota else rauc.SINGLE_SLOT_BACKEND,
               bootname=rauc.SINGLE_SLOT_NAME, **rauc.signing(), bundle_recipe=BUNDLE_RECIPE,
               model_setting=svc.model_setting,
               alias_setting=svc.alias_setting, bundle_settings=svc.bundle_settings,
               model=p.model, request=REQUEST)
    base = f"recipes-ota/{RECIPE}"
    put(f"{base}/{RECIPE}_1.0.bb", "layer/rollout/recipe.bb.j2", **ctx)
    put(f"{base}/files/{SCRIPT}", "layer/rollout/files/edgegenai-model-rollout.j2", **ctx)
    put(f"{base}/files/{DROPIN}", "layer/rollout/files/dropin.conf.j2", **ctx)
    put(f"{base}/files/{TMPFILES}", "layer/rollout/files/tmpfiles.conf.j2", **ctx)
    if not ota:
        put(f"{base}/files/{rauc.SINGLE_SLOT_BACKEND}", "layer/rollout/files/bootloader.j2", **ctx)
    put(f"{base}/files/{REQUEST}", "layer/rollout/files/gate-request.json.j2", **ctx)
    put(f"classes/{CLASS}.bbclass", "layer/rollout/classes/edgegenai_model_artifact.bbclass.j2", **ctx)
    # The model recipe each board serves (its quantisation): each deploys its artifact.
    machine_pns = sorted({(catalog.boards[b.name].machine,
                           model_recipe(p.model.name, _quant(spec, p.model.name, b.name)))
                          for b in spec.boards})
    default_pn = model_recipe(p.model.name, _quant(spec, p.model.name, None))
    for pn in sorted({pn for _, pn in machine_pns} | {default_pn}):
        put(f"recipes-ota/model-artifacts/{pn}_%.bbappend", "layer/rollout/model.bbappend.j2", **ctx)
    bundle = _bundle(p)
    put(f"recipes-ota/{bundle}/{bundle}_{p.model.version}.bb", "layer/rollout/bundle.bb.j2",
        default_pn=default_pn, machine_pns=[(m, pn) for m, pn in machine_pns if pn != default_pn], **ctx)
    contents = [(f"{base}/", f"{SCRIPT}: install a model bundle, gate it, keep or roll back"),
                (f"recipes-ota/{bundle}/", f"the signed model bundle of {p.model.name}"),
                ("recipes-ota/model-artifacts/", "the model recipes' trees for the bundle")]
    return contents, [RECIPE]


def _quant(spec: Spec, model: str, board: Optional[str]) -> Optional[str]:
    """The quantisation `board` gets (None: its default), None for a file used as published."""
    ref = next((m for m in spec.models if m.name == model), None)
    return ref.quant_for(board) if ref else None

"""Remote access to a production device: ssh with keys only, for an administrator.

With the `ssh` feature (required of every spec: a device must have a way
in), a production image gets:

- `edgegenai-remote-access`: the user `admin`, whose authorized_keys is the
  build host's file named by EDGEGENAI_AUTHORIZED_KEYS (kas or local.conf;
  keys are never in the spec or the layer), sudo for that user, and an
  sshd drop-in: public keys only, no passwords, no root login, `admin`
  alone.  Without the variable the recipe is skipped with the reason, and
  the image cannot be built: a production image with no way in is refused.
- a policy in the image recipe: the features that open a root login
  without a password (empty-root-password, allow-empty-password,
  allow-root-login) stop the build unless kas/opt/debug.yml's override is
  on.

A debug image (kas/opt/debug.yml) leaves the package out: its root logs
in as OE-core's debug features allow, and oeqa's testimage, which logs in
as root, runs there.
"""

from __future__ import annotations

from typing import Callable, List, Tuple

from . import debug

RECIPE = "edgegenai-remote-access"
ADMIN = "admin"
KEYS_VAR = "EDGEGENAI_AUTHORIZED_KEYS"
# Image features that let root in without a password: development only.
OPEN_FEATURES = ("allow-empty-password", "allow-root-login", "empty-root-password", "debug-tweaks")

Put = Callable[..., None]


def render_remote(put: Put) -> List[Tuple[str, str]]:
    """The remote-access recipe and its files; returns README rows."""
    ctx = dict(recipe=RECIPE, admin=ADMIN, override=debug.OVERRIDE)
    put(f"recipes-core/{RECIPE}/{RECIPE}_1.0.bb", "layer/remote/recipe.bb.j2", **ctx)
    put(f"recipes-core/{RECIPE}/files/50-edgegenai.conf", "layer/remote/sshd.conf.j2", **ctx)
    put(f"recipes-core/{RECIPE}/files/50-edgegenai-admin", "layer/remote/sudoers.j2", **ctx)
    return [(f"recipes-core/{RECIPE}/", f"ssh for {ADMIN} with the keys of {KEYS_VAR}, keys only, no root login")]


def image_context() -> dict:
    """What the image recipe needs: the recipe, the features refused outside debug builds."""
    return dict(remote_recipe=RECIPE, open_features=" ".join(OPEN_FEATURES), debug_override=debug.OVERRIDE)

"""What an update server adds to the ota feature: rauc-hawkbit-updater, set up per device.

With `image.ota.hawkbit`, the image polls a hawkBit server (its DDI API)
for system bundles and installs them with RAUC into the other slot; the
slot is then kept or left exactly as after a `rauc install` by hand (the
health check of `ota`).  meta-rauc packages the client; what is ours:

- the image's settings (server, tenant, TLS verified, where a bundle is
  downloaded: /data, never RAM), in a key file with no secret in it;
- each device's name and token live on /data, provisioned once per device
  (`target-name`, `auth-token`), never in the image; a composer run as root
  before the client starts checks them and joins them to the settings in
  /run, readable by the client's user alone;
- our own sandboxed unit, which runs nothing until the device is
  provisioned; meta-rauc's unit (an example config) is left disabled.

The client reports an install as done before the reboot, so hawkBit sees
"success" for a slot that the health check may yet leave; the booted slot
is the truth (`rauc status`).
"""

from __future__ import annotations

from typing import Callable, List, Tuple

from .ota import FEATURE as OTA
from .spec import Spec

RECIPE = "edgegenai-hawkbit"
UNIT = "edgegenai-hawkbit.service"
COMPOSER = "edgegenai-hawkbit-config"
SETTINGS = "hawkbit.conf"  # in ${sysconfdir}/edgegenai/
UPSTREAM = "rauc-hawkbit-updater"
USER = "rauc-hawkbit"  # meta-rauc's useradd for the client
PROVISION_DIR = "/data/edgegenai/hawkbit"
DOWNLOAD_DIR = "/data/edgegenai/hawkbit-download"
RUNTIME_DIR = "edgegenai-hawkbit"  # /run/<this>/config.conf


def wanted(spec: Spec) -> bool:
    return OTA in spec.image.features and spec.image.ota.hawkbit is not None


def render_hawkbit(spec: Spec, put: Callable[..., None]) -> Tuple[List[Tuple[str, str]], List[str]]:
    """The client's recipe of ours and the bbappend that disables meta-rauc's unit: (README rows, packages)."""
    if not wanted(spec):
        return [], []
    ctx = dict(recipe=RECIPE, unit=UNIT, composer=COMPOSER, settings=SETTINGS, upstream=UPSTREAM,
               user=USER, provision_dir=PROVISION_DIR, download_dir=DOWNLOAD_DIR,
               runtime_dir=RUNTIME_DIR, hawkbit=spec.image.ota.hawkbit)
    base = f"recipes-ota/{RECIPE}"
    put(f"{base}/{RECIPE}_1.0.bb", "layer/hawkbit/recipe.bb.j2", **ctx)
    put(f"{base}/files/{UNIT}", "layer/hawkbit/files/hawkbit.service.j2", **ctx)
    put(f"{base}/files/{COMPOSER}", "layer/hawkbit/files/compose.sh.j2", **ctx)
    put(f"{base}/files/{SETTINGS}", "layer/hawkbit/files/hawkbit.conf.j2", **ctx)
    put(f"{base}/files/{RECIPE}.conf", "layer/hawkbit/files/tmpfiles.conf.j2", **ctx)
    put(f"recipes-ota/{UPSTREAM}/{UPSTREAM}_%.bbappend", "layer/hawkbit/upstream.bbappend.j2", **ctx)
    return [(f"{base}/", f"the hawkBit client against {spec.image.ota.hawkbit.server}, "
                         f"provisioned per device on /data")], [RECIPE]

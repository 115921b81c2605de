"""OE-core's path variables as they are on the device, for what reads recipes as text.

The layer's recipes write paths in OE's spelling (`${bindir}`); the checks,
the renderer's own constants and the stand-in images need them as the
device has them (`/usr/bin`).  These are OE-core's defaults
(meta/conf/bitbake.conf, usrmerge), which the edgegenai distro keeps.
"""

from __future__ import annotations

import re

# OE-core's default path variables (meta/conf/bitbake.conf), as installed on the device.
OE_PATHS = {
    "prefix": "/usr", "exec_prefix": "/usr", "base_prefix": "",
    "bindir": "/usr/bin", "sbindir": "/usr/sbin", "libexecdir": "/usr/libexec",
    "datadir": "/usr/share", "sysconfdir": "/etc", "localstatedir": "/var",
    "libdir": "/usr/lib", "includedir": "/usr/include", "nonarch_libdir": "/usr/lib",
    "base_bindir": "/bin", "base_sbindir": "/sbin", "base_libdir": "/lib",
    "systemd_unitdir": "/usr/lib/systemd", "systemd_system_unitdir": "/usr/lib/systemd/system",
    "servicedir": "/srv", "sharedstatedir": "/com",
}


def expand(value: str) -> str:
    """`${bindir}` -> `/usr/bin`; unknown variables stay as they are."""
    return re.sub(r"\$\{(\w+)\}", lambda m: OE_PATHS.get(m.group(1), m.group(0)), value)

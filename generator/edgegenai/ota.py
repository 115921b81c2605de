"""What the ota feature adds: A/B system updates with RAUC, kept only when the model server is healthy.

Every board with an A/B layout (boards.yaml `ota:`) gets one disk layout:
1 boot, 2 and 3 the root file system slots A and B, 4 data, written as a
wks file per MACHINE.  The kernel lives in each slot, so a slot is a whole
system; the bootloader (bootloaders.yaml) picks the slot from its
environment, which RAUC edits when it installs a bundle into the other
slot.  Boot and data partitions are mounted by units of ours rather than
wic's fstab edit, so a slot installed from the plain ext4 image mounts
them too.

A new slot boots once on trial.  It is kept when meta-rauc's
rauc-mark-good runs, which is ordered after boot-complete.target; our
health unit is required by that target and passes only once the served
engine answers its health check (systemd's boot assessment).  A slot whose
server never comes up is not marked good, and the bootloader goes back to
the other slot on the next boot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple

from . import engines, rauc
from .catalog import Board, Bootloader, Catalog, Release
from .spec import Spec

FEATURE = "ota"
RECIPE = "edgegenai-ota"
HEALTH_UNIT = "edgegenai-ota-health.service"
BUNDLE_RECIPE = "edgegenai-bundle"
GRUBENV_RECIPE = "edgegenai-grubenv"
BOOT_SCRIPT_RECIPE = "edgegenai-boot-script"
KERNEL_FRAGMENT = "edgegenai-rauc.cfg"
UBOOT_FRAGMENT = "edgegenai-env-in-fat.cfg"
# Partitions, the same on every board.
BOOT, SLOT_A, SLOT_B, DATA = 1, 2, 3, 4
SLOTS = (("A", SLOT_A), ("B", SLOT_B))
MOUNTS = (("boot", "/boot", BOOT, "vfat"), ("data", "/data", DATA, "ext4"))
# Tries a U-Boot slot gets before the other is booted (RAUC's uboot backend resets to 3).
UBOOT_TRIES = 3
# wks files and wic's GRUB config: where wrynose looks (and refuses <layer>/wic);
# scarthgap is pointed there by WKS_SEARCH_PATH and an absolute --configfile.
WIC_DIR = "files/wic"
# Where the ESP keeps GRUB's environment block (grub-efi's prefix is /EFI/BOOT).
GRUBENV = "/boot/EFI/BOOT/grubenv"


@dataclass(frozen=True)
class Layout:
    """One board's A/B layout with everything its templates need resolved."""

    board: Board
    loader: Bootloader

    @property
    def machine(self) -> str:
        return self.board.machine

    def device(self, part: int) -> str:
        ota = self.board.ota
        return f"{ota.disk}{ota.part_prefix}{part}"

    @property
    def disk_name(self) -> str:
        """The disk as wic's --ondisk names it (sda, mmcblk0)."""
        return self.board.ota.disk.rsplit("/", 1)[-1]

    def slots(self) -> rauc.Slots:
        return rauc.Slots(self.machine, self.loader.rauc,
                          tuple((name, self.device(part)) for name, part in SLOTS),
                          GRUBENV if self.loader.rauc == "grub" else "")


def wanted(spec: Spec) -> bool:
    return FEATURE in spec.image.features


def layouts(spec: Spec, catalog: Catalog) -> List[Layout]:
    """The spec's boards' layouts (the spec refuses `ota` for a board without one)."""
    if not wanted(spec):
        return []
    out = []
    for ref in spec.boards:
        board = catalog.boards[ref.name]
        out.append(Layout(board, catalog.bootloaders[board.ota.bootloader]))
    return out


def image_settings(spec: Spec, catalog: Catalog) -> List[Tuple[str, str, str]]:
    """(variable, operator, value) lines for the image recipe: the wic image, what it is made of."""
    lays = layouts(spec, catalog)
    if not lays:
        return []
    out = [("IMAGE_FSTYPES:append", "=", " wic ext4"), ("WKS_FILE", "=", "edgegenai-ota-${MACHINE}.wks.in"),
           ("WKS_SEARCH_PATH:prepend", "=", f"${{EDGEGENAI_LAYERDIR}}/{WIC_DIR}:"),
           ("EDGEGENAI_OTA_DEPLOYS", "=", "")]
    for lay in lays:
        deps = " ".join(f"{r}:do_deploy" for r in lay.loader.deploys)
        out.append((f"EDGEGENAI_OTA_DEPLOYS:{lay.machine}", "=", deps))
        firmware = lay.loader.qemu_firmware.get(lay.machine)
        if firmware:
            out.append((f"EXTRA_IMAGEDEPENDS:append:{lay.machine}", "=", f" {firmware}"))
        bios = lay.loader.qemu_bios.get(lay.machine)
        if bios:
            out.append((f"QB_DEFAULT_BIOS:{lay.machine}", "=", bios))
        if lay.loader.rauc == "grub":
            out.append((f"IMAGE_EFI_BOOT_FILES:append:{lay.machine}", "=", f" {GRUBENV_RECIPE};EFI/BOOT/grubenv"))
        elif lay.board.ota.uboot_env == "edgegenai":
            out.append((f"IMAGE_BOOT_FILES:{lay.machine}", "=", "boot.scr"))
    # Flags take no overrides: the MACHINE's list comes through a variable.
    out.append(("do_image_wic[depends]", "+=", " ${EDGEGENAI_OTA_DEPLOYS}"))
    return out


def render_ota(spec: Spec, catalog: Catalog, plans: List[engines.EnginePlan],
               releases: List[Release], put: Callable[..., None]) -> Tuple[List[Tuple[str, str]], List[str]]:
    """The layer's A/B pieces: (README rows, packages for the image)."""
    lays = layouts(spec, catalog)
    if not lays:
        return [], []
    services = [p.engine.service for p in plans if p.engine.server and p.engine.service]
    ota = spec.image.ota
    ctx = dict(recipe=RECIPE, health_unit=HEALTH_UNIT, services=services, timeout=ota.health_timeout,
               mounts=MOUNTS, data_dir=rauc.DATA_DIR, tries=UBOOT_TRIES, slots=SLOTS,
               kernel_fragment=KERNEL_FRAGMENT, uboot_fragment=UBOOT_FRAGMENT,
               bundle_recipe=BUNDLE_RECIPE, grubenv_recipe=GRUBENV_RECIPE,
               boot_script_recipe=BOOT_SCRIPT_RECIPE, **rauc.signing())
    base = f"recipes-ota/{RECIPE}"
    runtime = {lay.machine: lay.loader.runtime for lay in lays}
    put(f"{base}/{RECIPE}_1.0.bb", "layer/ota/recipe.bb.j2", runtime=sorted(runtime.items()), **ctx)
    put(f"{base}/files/{HEALTH_UNIT}", "layer/ota/files/health.service.j2", **ctx)
    put(f"{base}/files/{RECIPE}.conf", "layer/ota/files/tmpfiles.conf.j2", **ctx)
    for lay in lays:
        for name, where, part, fstype in MOUNTS:
            put(f"{base}/files/{lay.machine}/{name}.mount", "layer/ota/files/mount.j2",
                what=lay.device(part), where=where, fstype=fstype, **ctx)
        put(f"{WIC_DIR}/edgegenai-ota-{lay.machine}.wks.in", "layer/ota/wks.j2", lay=lay, size=ota,
            boot=BOOT, wic_dir=WIC_DIR, **ctx)
        if lay.loader.rauc == "grub":
            put(f"{WIC_DIR}/edgegenai-ota-grub-{lay.machine}.cfg", "layer/ota/grub.cfg.j2", lay=lay, **ctx)
        else:
            put(f"recipes-ota/{BOOT_SCRIPT_RECIPE}/files/{lay.machine}/boot.cmd", "layer/ota/boot.cmd.j2",
                lay=lay, **ctx)
    grub = [lay.machine for lay in lays if lay.loader.rauc == "grub"]
    uboot = [lay for lay in lays if lay.loader.rauc == "uboot"]
    if grub:
        put(f"recipes-ota/{GRUBENV_RECIPE}/{GRUBENV_RECIPE}_1.0.bb", "layer/ota/grubenv.bb.j2",
            machines=grub, **ctx)
    if uboot:
        put(f"recipes-ota/{BOOT_SCRIPT_RECIPE}/{BOOT_SCRIPT_RECIPE}_1.0.bb", "layer/ota/boot-script.bb.j2",
            machines=[lay.machine for lay in uboot], **ctx)
    own_env = [lay for lay in uboot if lay.board.ota.uboot_env == "edgegenai"]
    if own_env:
        put("recipes-ota/u-boot/u-boot_%.bbappend", "layer/ota/u-boot.bbappend.j2",
            machines=[lay.machine for lay in own_env], **ctx)
        for lay in own_env:
            put(f"recipes-ota/u-boot/files/{lay.machine}/fw_env.config", "layer/ota/files/fw_env.config.j2",
                lay=lay, **ctx)
            put(f"recipes-ota/u-boot/files/{lay.machine}/{UBOOT_FRAGMENT}", "layer/ota/files/env-in-fat.cfg.j2",
                lay=lay, boot=BOOT, **ctx)
    for klayer, providers in sorted(_kernels(lays).items()):
        kdir = "recipes-ota/linux" if klayer == "core" else f"dynamic-layers/{klayer}/recipes-ota/linux"
        for provider in providers:
            put(f"{kdir}/{provider}_%.bbappend", "layer/ota/kernel.bbappend.j2", **ctx)
        put(f"{kdir}/files/{KERNEL_FRAGMENT}", "layer/ota/files/rauc.cfg.j2", **ctx)
    put(f"recipes-ota/{BUNDLE_RECIPE}/{BUNDLE_RECIPE}_1.0.bb", "layer/ota/bundle.bb.j2", **ctx)
    settings = sorted((f"{var}:{lay.machine}", value) for lay in lays
                      for var, value in lay.board.ota.conf.items())
    roles = sorted({lay.loader.wic_source for lay in lays})
    wic = [(role, [(r.name, r.wic[role]) for r in releases]) for role in roles]
    put("conf/distro/include/edgegenai-ota.inc", "layer/conf/distro/include/edgegenai-ota.inc.j2",
        settings=settings, wic=wic, **ctx)
    contents = [(f"{base}/", "A/B system slots: the boot and data mounts, the health check that keeps a slot"),
                (f"recipes-ota/{BUNDLE_RECIPE}/", "the signed system bundle (the image for the other slot)"),
                (f"{WIC_DIR}/", "the A/B disk layout per board" + (" and GRUB's slot choice" if grub else ""))]
    if uboot:
        contents.append((f"recipes-ota/{BOOT_SCRIPT_RECIPE}/", "U-Boot's slot choice (boot.scr)"))
    return contents, [RECIPE]


def distro_includes(spec: Spec) -> List[str]:
    return ["edgegenai-ota.inc"] if wanted(spec) else []


def _kernels(lays: List[Layout]) -> Dict[str, List[str]]:
    """kernel layer -> kernel recipes of the layouts' boards."""
    out: Dict[str, set] = {}
    for lay in lays:
        out.setdefault(lay.board.kernel_layer, set()).update(lay.board.kernel_recipes())
    return {k: sorted(v) for k, v in out.items()}

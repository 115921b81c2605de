"""The ota feature: A/B system slots with RAUC, what it renders and what the spec refuses.

Real BitBake over the rendered layer is `edgegenai check --bitbake`; here:
the layout each board gets, RAUC's system.conf per MACHINE, the boot
assessment unit, the bootloaders' slot choice (GRUB's syntax with
grub-script-check where it is installed), and the refusals.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from edgegenai import debug, ota, rauc
from edgegenai.checks.kconfig import kernel_fragments
from edgegenai.checks.model import Workspace
from edgegenai.errors import SpecError
from edgegenai.render import render
from edgegenai.spec import parse_spec

LAYER = "meta-edgegenai"
OTA = {"boards": ["qemux86-64", "qemuarm64"], "image": {"features": ["ssh", "ota"]}}


@pytest.fixture(scope="module")
def files(catalog):
    return render(parse_spec(OTA, catalog), catalog)


def _problems(raw, catalog):
    with pytest.raises(SpecError) as err:
        parse_spec(raw, catalog)
    return err.value.problems


def test_system_conf_per_machine_names_its_slots_and_bootloader(files):
    x86 = files[f"{LAYER}/recipes-ota/rauc/files/qemux86-64/system.conf"]
    assert "bootloader=grub\ngrubenv=/boot/EFI/BOOT/grubenv" in x86
    assert "[slot.rootfs.0]\ndevice=/dev/sda2\ntype=ext4\nbootname=A" in x86
    assert "[slot.rootfs.1]\ndevice=/dev/sda3\ntype=ext4\nbootname=B" in x86
    arm = files[f"{LAYER}/recipes-ota/rauc/files/qemuarm64/system.conf"]
    assert "bootloader=uboot" in arm and "grubenv" not in arm
    assert "device=/dev/vda2" in arm and "device=/dev/vda3" in arm
    for conf in (x86, arm):
        assert "readonly" not in conf and "custom" not in conf and "[artifacts" not in conf
        assert f"data-directory={rauc.DATA_DIR}" in conf
    # No machine-less system.conf: a board not in the spec keeps meta-rauc's.
    assert f"{LAYER}/recipes-ota/rauc/files/system.conf" not in files


def test_each_board_gets_boot_two_slots_and_data(files):
    for machine, disk in (("qemux86-64", "sda"), ("qemuarm64", "vda")):
        wks = files[f"{LAYER}/files/wic/edgegenai-ota-{machine}.wks.in"]
        parts = [line for line in wks.splitlines() if line.startswith("part ")]
        assert len(parts) == 4 and all(f"--ondisk {disk} " in p for p in parts)
        assert parts[0].startswith("part /boot --source ${EDGEGENAI_WIC_")
        assert parts[1].startswith("part / --source rootfs") and "--fixed-size 2048M" in parts[1]
        assert parts[2].startswith("part --source empty") and "--fixed-size 2048M" in parts[2]
        assert parts[3].startswith("part /data ")
        # Mounts come from units in every slot, never from wic's fstab edit of slot A.
        assert all("--no-fstab-update" in p for p in parts if " / " in p or "/boot" in p or "/data" in p)
    assert 'WKS_FILE = "edgegenai-ota-${MACHINE}.wks.in"' in files[f"{LAYER}/recipes-core/images/edgegenai-image.bb"]


def test_partition_sizes_come_from_the_spec(catalog):
    raw = dict(OTA, image={"features": ["ssh", "ota"], "ota": {"slot_mib": 4096, "data_mib": 512}})
    wks = render(parse_spec(raw, catalog), catalog)[f"{LAYER}/files/wic/edgegenai-ota-qemuarm64.wks.in"]
    assert wks.count("--fixed-size 4096M") == 2 and "--fixed-size 512M" in wks


def test_wic_plugin_names_follow_each_release(files, catalog):
    inc = files[f"{LAYER}/conf/distro/include/edgegenai-ota.inc"]
    for release in ("wrynose", "scarthgap"):
        for role in ("efi", "partition"):
            plugin = catalog.releases[release].wic[role]
            assert f'EDGEGENAI_WIC_{role.upper()}[{release}] = "{plugin}"' in inc
    assert catalog.releases["wrynose"].wic["efi"] != catalog.releases["scarthgap"].wic["efi"]
    assert "edgegenai-ota.inc" in files[f"{LAYER}/conf/distro/edgegenai.conf"]


def test_a_slot_is_kept_only_once_the_server_is_healthy(files):
    unit = files[f"{LAYER}/recipes-ota/edgegenai-ota/files/{ota.HEALTH_UNIT}"]
    assert "After=llama-server.service" in unit and "Before=boot-complete.target" in unit
    assert "RequiredBy=boot-complete.target" in unit
    assert "ExecStart=@BINDIR@/llama-server-health --wait 600" in unit
    recipe = files[f"{LAYER}/recipes-ota/edgegenai-ota/edgegenai-ota_1.0.bb"]
    # meta-rauc's rauc-mark-good runs after boot-complete.target: it does the marking.
    assert "rauc-mark-good" in recipe and "kernel-image" in recipe
    assert 'RDEPENDS:${PN}:append:qemux86-64 = " grub-editenv"' in recipe
    assert 'RDEPENDS:${PN}:append:qemuarm64 = " libubootenv-bin u-boot-env"' in recipe


def test_health_timeout_comes_from_the_spec(catalog):
    raw = dict(OTA, image={"features": ["ssh", "ota"], "ota": {"health_timeout": 90}})
    unit = render(parse_spec(raw, catalog), catalog)[f"{LAYER}/recipes-ota/edgegenai-ota/files/{ota.HEALTH_UNIT}"]
    assert "--wait 90\n" in unit and "TimeoutStartSec=120" in unit


def test_mounts_name_each_boards_partitions(files):
    base = f"{LAYER}/recipes-ota/edgegenai-ota/files"
    assert "What=/dev/sda1\nWhere=/boot\nType=vfat" in files[f"{base}/qemux86-64/boot.mount"]
    assert "What=/dev/vda4\nWhere=/data\nType=ext4" in files[f"{base}/qemuarm64/data.mount"]


def test_grub_boots_the_slot_rauc_chose_from_that_slots_kernel(files):
    cfg = files[f"{LAYER}/files/wic/edgegenai-ota-grub-qemux86-64.cfg"]
    assert "load_env --file ${prefix}/grubenv ORDER A_OK A_TRY B_OK B_TRY" in cfg
    assert "save_env --file ${prefix}/grubenv ORDER A_OK A_TRY B_OK B_TRY" in cfg
    assert "linux (hd0,gpt2)/boot/bzImage root=/dev/sda2 rootwait console=ttyS0,115200 rauc.slot=A" in cfg
    assert "linux (hd0,gpt3)/boot/bzImage root=/dev/sda3 rootwait console=ttyS0,115200 rauc.slot=B" in cfg
    # Only modules OE's grub-efi builds in: no echo, no terminal_output.
    assert not re.search(r"^\s*(echo|terminal_output|insmod)\b", cfg, re.M)
    image = files[f"{LAYER}/recipes-core/images/edgegenai-image.bb"]
    assert 'IMAGE_EFI_BOOT_FILES:append:qemux86-64 = " edgegenai-grubenv;EFI/BOOT/grubenv"' in image


@pytest.mark.skipif(shutil.which("grub-script-check") is None, reason="grub-script-check is not installed")
def test_grub_cfg_is_valid_grub_script(files, tmp_path):
    path = tmp_path / "grub.cfg"
    path.write_text(files[f"{LAYER}/files/wic/edgegenai-ota-grub-qemux86-64.cfg"])
    assert subprocess.run(["grub-script-check", str(path)], capture_output=True).returncode == 0
    path.write_text(files[f"{LAYER}/files/wic/edgegenai-ota-grub-qemux86-64.cfg"] + "\nif [ x ]; then\n")
    assert subprocess.run(["grub-script-check", str(path)], capture_output=True).returncode != 0


def test_u_boot_keeps_its_environment_on_the_boot_partition(files):
    cmd = files[f"{LAYER}/recipes-ota/edgegenai-boot-script/files/qemuarm64/boot.cmd"]
    assert 'setenv bootargs "console=ttyAMA0,115200"' in cmd
    assert "root=/dev/vda${bootpart} rootwait rauc.slot=${raucslot}" in cmd
    assert "load virtio 0:${bootpart} ${kernel_addr_r} /boot/@KERNEL_IMAGETYPE@" in cmd
    frag = files[f"{LAYER}/recipes-ota/u-boot/files/qemuarm64/{ota.UBOOT_FRAGMENT}"]
    assert 'CONFIG_ENV_FAT_INTERFACE="virtio"' in frag and 'CONFIG_ENV_FAT_DEVICE_AND_PART="0:1"' in frag
    assert "/boot/uboot.env  0x0000   0x40000" in files[f"{LAYER}/recipes-ota/u-boot/files/qemuarm64/fw_env.config"]
    append = files[f"{LAYER}/recipes-ota/u-boot/u-boot_%.bbappend"]
    assert "EDGEGENAI_UBOOT_FILES[qemuarm64]" in append and "SRC_URI:append:edgegenai" in append


def test_the_kernel_gets_what_verity_bundles_need(files, tmp_path):
    frag = files[f"{LAYER}/recipes-ota/linux/files/{ota.KERNEL_FRAGMENT}"]
    for sym in ("BLK_DEV_LOOP", "SQUASHFS", "BLK_DEV_DM", "DM_VERITY"):
        assert f"CONFIG_{sym}=y" in frag
    assert "file://edgegenai-rauc.cfg" in files[f"{LAYER}/recipes-ota/linux/linux-yocto_%.bbappend"]


def test_the_kernel_check_skips_u_boots_fragment(files, tmp_path, catalog):
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    ws = Workspace(tmp_path)
    names = sorted(p.name for p in kernel_fragments(ws))
    # The kernel's: RAUC's, and the debug variant's tracing; not U-Boot's.
    assert names == sorted([ota.KERNEL_FRAGMENT, debug.KERNEL_FRAGMENT])


def test_the_system_bundle_is_signed_verity_of_the_image(files):
    bundle = files[f"{LAYER}/recipes-ota/{ota.BUNDLE_RECIPE}/{ota.BUNDLE_RECIPE}_1.0.bb"]
    assert 'RAUC_BUNDLE_FORMAT = "verity"' in bundle
    assert 'RAUC_SLOT_rootfs = "edgegenai-image"' in bundle and 'RAUC_SLOT_rootfs[fstype] = "ext4"' in bundle
    assert 'RAUC_BUNDLE_COMPATIBLE = "edgegenai-${MACHINE}"' in bundle
    assert "bbfatal \"No signing key" in bundle
    assert f"{LAYER}/recipes-ota/{rauc.DEV_KEYS_RECIPE}/{rauc.DEV_KEYS_RECIPE}-native_1.0.bb" in files
    assert "kas/opt/rauc-dev-keys.yml" in files
    assert not any("PRIVATE KEY" in text for text in files.values())


def test_with_model_rollout_raucs_own_slots_replace_the_single_slot_backend(catalog):
    raw = dict(OTA, image={"features": ["ssh", "ota", "model-rollout"]})
    files = render(parse_spec(raw, catalog), catalog)
    conf = files[f"{LAYER}/recipes-ota/rauc/files/qemux86-64/system.conf"]
    assert "bootloader=grub" in conf and "[artifacts.models]" in conf
    assert not any(rauc.SINGLE_SLOT_BACKEND in p for p in files)
    # RAUC's data directory is declared once (systemd-tmpfiles ignores a duplicate line, with a warning).
    tmpfiles = [t for p, t in files.items() if "/tmpfiles" in p or p.endswith(".conf") and "/files/" in p]
    assert sum(f"d {rauc.DATA_DIR} " in t for t in tmpfiles) == 1
    assert rauc.SINGLE_SLOT_BACKEND not in files[f"{LAYER}/recipes-ota/edgegenai-model-rollout/edgegenai-model-rollout_1.0.bb"]


def test_raspberry_pi_5_on_wrynose_uses_its_bsps_u_boot(catalog):
    files = render(parse_spec({"releases": ["wrynose"], "boards": ["raspberrypi5"],
                               "image": {"features": ["ssh", "ota"]}}, catalog), catalog)
    inc = files[f"{LAYER}/conf/distro/include/edgegenai-ota.inc"]
    assert 'RPI_USE_U_BOOT:raspberrypi5 = "1"' in inc
    assert 'PREFERRED_PROVIDER_u-boot-default-script:raspberrypi5 = "edgegenai-boot-script"' in inc
    cmd = files[f"{LAYER}/recipes-ota/edgegenai-boot-script/files/raspberrypi5/boot.cmd"]
    assert "fdt get value bootargs /chosen bootargs" in cmd and "root=/dev/mmcblk0p${bootpart}" in cmd
    # meta-raspberrypi's U-Boot keeps its environment in FAT already: no bbappend of ours.
    assert f"{LAYER}/recipes-ota/u-boot/u-boot_%.bbappend" not in files
    kernel = f"{LAYER}/dynamic-layers/raspberrypi/recipes-ota/linux/linux-raspberrypi_%.bbappend"
    assert kernel in files
    assert "raspberrypi:${LAYERDIR}/dynamic-layers/raspberrypi/" in files[f"{LAYER}/conf/layer.conf"]


def test_raspberry_pi_5_on_scarthgap_is_refused_with_the_reason(catalog):
    problems = _problems({"boards": ["raspberrypi5"], "image": {"features": ["ssh", "ota"]}}, catalog)
    assert len(problems) == 1
    assert problems[0].startswith("image.features[1]: ota: not for raspberrypi5 on scarthgap:")
    assert "2024.01" in problems[0] and "meta-lts-mixins" in problems[0]


def test_a_board_without_a_layout_is_refused(catalog):
    problems = _problems({"boards": ["rock-5b"], "image": {"features": ["ssh", "ota"]}}, catalog)
    assert problems == [f"image.features[1]: ota: board 'rock-5b' (boards[0]) has no A/B layout yet; "
                        f"boards that have one: qemuarm64, qemux86-64, raspberrypi5"]


@pytest.mark.parametrize("field,value", [
    ("slot_mib", 255), ("slot_mib", "2048"), ("slot_mib", True), ("slot_mib", 10**12),
    ("data_mib", 0), ("data_mib", "${@os.system('id')}"), ("health_timeout", 9),
    ("health_timeout", -1), ("health_timeout", 1.5), ("health_timeout", "60\nExecStart=/bin/sh"),
])
def test_ota_numbers_refuse_hostile_values_naming_the_field(catalog, field, value):
    problems = _problems(dict(OTA, image={"features": ["ssh", "ota"], "ota": {field: value}}), catalog)
    assert [p for p in problems if p.startswith(f"image.ota.{field}:")], problems
    assert all("\n" not in p for p in problems)


def test_bundle_recipes_lists_the_system_and_model_bundles(catalog, tmp_path):
    raw = dict(OTA, image={"features": ["ssh", "ota", "model-rollout"]})
    for path, text in render(parse_spec(raw, catalog), catalog).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    assert rauc.bundle_recipes(tmp_path / LAYER) == [
        "edgegenai-bundle", "edgegenai-model-bundle-smollm2-360m-instruct-q4-k-m"]


def test_runqemu_starts_each_boards_bootloader_which_boots_the_slot(files):
    """A wic image carries its kernels: runqemu must start the bootloader, not a kernel of its own."""
    image = files[f"{LAYER}/recipes-core/images/edgegenai-image.bb"]
    assert 'EXTRA_IMAGEDEPENDS:append:qemux86-64 = " ovmf"' in image
    assert 'EXTRA_IMAGEDEPENDS:append:qemuarm64 = " u-boot"' in image
    assert 'QB_DEFAULT_BIOS:qemuarm64 = "u-boot.bin"' in image
    assert "QB_DEFAULT_BIOS:qemux86-64" not in image  # `runqemu wic ovmf` names OVMF itself

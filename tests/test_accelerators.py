"""Real boards and their accelerators: compatibility rules and what they render."""

from __future__ import annotations

import pytest
import yaml

from edgegenai import writer
from edgegenai.checks import Workspace, kasconfig, oelint
from edgegenai.errors import SpecError
from edgegenai.render import render
from edgegenai.spec import load_spec, parse_spec

from conftest import ROOT

MODEL = "smollm2-360m-instruct-q4-k-m"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def _spec(boards, releases=("wrynose",), **extra):
    return {"releases": list(releases), "boards": boards, "models": [MODEL], **extra}


BAD = [
    ([{"name": "rock-5b", "accelerators": ["rk3588-npu"]}], ("wrynose", "scarthgap"),
     "boards[0].accelerators[0]: rk3588-npu needs rocket-npu, which board 'rock-5b' has only on wrynose, "
     "not on scarthgap; drop scarthgap from releases"),
    ([{"name": "qemuarm64", "accelerators": ["coral-pcie"]}], ("wrynose",),
     "boards[0].accelerators[0]: coral-pcie needs pcie, which board 'qemuarm64' does not have"),
    ([{"name": "raspberrypi5", "accelerators": ["hailo8", "hailo10h"]}], ("wrynose",),
     "boards[0].accelerators[1]: hailo10h needs the hailort-5 stack but board 'raspberrypi5' already carries "
     "hailort-4; their drivers and firmware cannot be mixed on one board"),
    ([{"name": "raspberrypi5", "accelerators": [{"name": "hailo8l", "version": "5.3.0"}]}], ("wrynose",),
     "boards[0].accelerators[0].version: hailo8l runs with the hailort-4 stack at 4.23.0 "
     "(driver, firmware and runtime pinned together), not 5.3.0"),
    ([{"name": "raspberrypi5", "accelerators": ["tpu9000"]}], ("wrynose",),
     "boards[0].accelerators[0]: unknown accelerator 'tpu9000'; known: coral-pcie, hailo10h, hailo8, hailo8l, intel-npu, rk3588-npu"),
    ([{"name": "intel-corei7-64", "accelerators": ["intel-npu"]}], ("wrynose", "scarthgap"),
     "boards[0].accelerators[0]: intel-npu needs intel-npu, which board 'intel-corei7-64' has only on wrynose, "
     "not on scarthgap (scarthgap's linux-firmware has no intel-vpu package and its meta-intel branch no "
     "linux-npu-driver); drop scarthgap from releases"),
    ([{"name": "qemux86-64", "accelerators": ["intel-npu"]}], ("wrynose",),
     "boards[0].accelerators[0]: intel-npu needs intel-npu, which board 'qemux86-64' does not have"),
    ([{"name": "rock-5b", "accelerators": ["coral-pcie", "coral-pcie"]}], ("wrynose",),
     "boards[0].accelerators[1]: accelerator 'coral-pcie' is named twice on board 'rock-5b'"),
    ([{"name": "rock-5b", "accelerators": [{"name": "coral-pcie", "colour": "red"}]}], ("wrynose",),
     "boards[0].accelerators[0].colour: unknown field"),
]


@pytest.mark.parametrize("boards,releases,expected", BAD, ids=[b[2].split(":")[0] + "-" + str(i) for i, b in enumerate(BAD)])
def test_impossible_combination_is_rejected(catalog, boards, releases, expected):
    with pytest.raises(SpecError) as err:
        parse_spec(_spec(boards, releases), catalog)
    assert expected in err.value.problems, err.value.problems


def _with_capability(catalog, board, capability):
    """The catalog with one more capability on a board: to reach rules behind the capability check."""
    b = catalog.boards[board]
    boards = {**catalog.boards, board: b.model_copy(update={"capabilities": b.capabilities + [capability]})}
    return catalog.model_copy(update={"boards": boards})


def _with_python(catalog, release, python):
    """The catalog with another Python on a release: one no wheel is pinned for."""
    releases = {**catalog.releases, release: catalog.releases[release].model_copy(update={"python": python})}
    return catalog.model_copy(update={"releases": releases})


@pytest.mark.parametrize("board,release,widen,why", [
    ("raspberrypi5", "scarthgap", lambda c: _with_python(c, "scarthgap", "3.13"), "release scarthgap has Python 3.13"),
    ("qemux86-64", "wrynose", lambda c: _with_capability(c, "qemux86-64", "pcie"), "board 'qemux86-64' is x86_64"),
])
def test_interpreter_wheel_must_match_python_and_arch(catalog, board, release, widen, why):
    """The Edge TPU's delegate needs LiteRT, wheels built for one Python and architecture each."""
    with pytest.raises(SpecError) as err:
        parse_spec(_spec([{"name": board, "accelerators": ["coral-pcie"]}], (release,)), widen(catalog))
    assert err.value.problems == [
        "boards[0].accelerators[0]: coral-pcie needs python3-ai-edge-litert 2.2.0, whose wheels are for "
        f"Python 3.12, 3.14 on aarch64; {why}"]


def test_interpreter_brings_the_wheel_of_each_release_s_python(catalog):
    """Coral on both LTS releases: one recipe, one wheel per Python, chosen by the release."""
    files = render(parse_spec(_spec([{"name": "raspberrypi5", "accelerators": ["coral-pcie"]}],
                                    ("wrynose", "scarthgap")), catalog), catalog)
    base = "meta-edgegenai/recipes-ai/python3-ai-edge-litert/"
    recipe = files[base + "python3-ai-edge-litert_2.2.0.bb"]
    assert "require ${BPN}-python${PYTHON_BASEVERSION}.inc\n" in recipe
    for python, tag in (("3.12", "cp312"), ("3.14", "cp314")):
        inc = files[f"{base}python3-ai-edge-litert-python{python}.inc"]
        wheel = next(w for w in catalog.interpreters["litert"].wheels if w.python == python)
        assert f'SRC_URI[wheel.sha256sum] = "{wheel.sha256}"\n' in inc
        assert f"downloadfilename=ai_edge_litert-${{PV}}-{tag}-{tag}-manylinux_2_27_aarch64.whl.zip" in inc
    assert catalog.releases["scarthgap"].python == "3.12" and catalog.releases["wrynose"].python == "3.14"


def test_vulkan_is_accepted_on_a_board_with_a_gpu(catalog):
    spec = parse_spec(_spec(["raspberrypi5"], engines={"llama-cpp": {"backends": ["vulkan"]}}), catalog)
    files = render(spec, catalog)
    assert 'PACKAGECONFIG ??= "vulkan"\n' in files["meta-edgegenai/recipes-ai/llama-cpp/llama-cpp_0.0.8770.bb"]
    assert "vulkan" in files["meta-edgegenai/conf/distro/edgegenai.conf"]


@pytest.fixture(scope="module")
def arm(catalog):
    return render(load_spec(ROOT / "examples" / "arm-boards.yaml", catalog), catalog)


def test_accelerator_packages_are_per_machine(arm):
    pg = arm["meta-edgegenai/recipes-core/packagegroups/packagegroup-edgegenai-accelerators.bb"]
    assert 'RDEPENDS:${PN}:append:raspberrypi5 = " edgegenai-devices hailo-pci hailo8-firmware hailort hailort-cli"\n' in pg
    assert ('RDEPENDS:${PN}:append:rock-5b = " edgegenai-devices gasket-driver kernel-module-rocket libedgetpu '
            'libteflon python3-ai-edge-litert"\n') in pg
    assert 'PACKAGE_ARCH = "${MACHINE_ARCH}"\n' in pg
    image = arm["meta-edgegenai/recipes-core/images/edgegenai-image.bb"]
    assert "    packagegroup-edgegenai-accelerators \\\n" in image


def test_kernel_module_recipes_are_pinned(arm):
    gasket = arm["meta-edgegenai/recipes-kernel/gasket-driver/gasket-driver_git.bb"]
    assert 'SRCREV = "5815ee3908a46a415aac616ac7b9aedcb98a504c"\n' in gasket
    assert "    file://0001-gasket-build-with-Linux-6.12-and-newer.patch \\\n" in gasket
    assert 'RPROVIDES:${PN} += "kernel-module-apex kernel-module-gasket"\n' in gasket
    assert "inherit module\n" in gasket
    patch = arm["meta-edgegenai/recipes-kernel/gasket-driver/files/0001-gasket-build-with-Linux-6.12-and-newer.patch"]
    assert "Upstream-Status: Pending" in patch and "+#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)\n" in patch
    hailo = arm["meta-edgegenai/recipes-kernel/hailo-pci/hailo-pci_4.23.0.bb"]
    assert 'SRCREV = "ce1087bfe8132c99b41374e3128fc78612a3f492"\n' in hailo
    assert 'EXTRA_OEMAKE += "-C ${STAGING_KERNEL_DIR} M=${S}/linux/pcie"\n' in hailo
    assert 'KERNEL_MODULE_AUTOLOAD += "hailo_pci"\n' in hailo
    assert 'MODULES_MODULE_SYMVERS_LOCATION = "linux/pcie"\n' in hailo


def test_runtime_fetches_what_upstream_would_download(arm, catalog):
    """HailoRT's FetchContent dependencies are BitBake sources, pinned and licensed."""
    recipe = arm["meta-edgegenai/recipes-ai/hailort/hailort_4.23.0.bb"]
    runtime = catalog.stacks["hailort-4"].runtime
    assert 'SRCREV_hailort = "08f088d3b443c7846af067269ce998c6d5d91449"\n' in recipe
    assert len(runtime.bundled) == 8
    for dep in runtime.bundled:
        assert f";name={dep.name};destsuffix=${{BP}}/{dep.dir} \\\n" in recipe, dep.name
        assert f'SRCREV_{dep.name} = "{dep.srcrev}"\n' in recipe, dep.name
        assert f"file://{dep.dir}/{dep.lic_file};md5={dep.lic_md5} \\\n" in recipe, dep.name
        assert dep.dir == f"hailort/external/{dep.name}-src"  # where hailort's cmake/external/*.cmake look
    assert "-DHAILO_OFFLINE_COMPILATION=ON" in recipe
    assert "-DHAILO_HOST_PROTOBUF_DIR=${B}/protobuf-host" in recipe
    assert "[network]" not in recipe and "AUTOREV" not in recipe
    # Applications build against it with find_package(HailoRT 4.23.0 EXACT).
    assert "${B}/hailort/libhailort/src/CMakeFiles/Export/*/HailoRTTargets*.cmake" in recipe
    assert "${D}${libdir}/cmake/HailoRT/" in recipe
    patch = arm["meta-edgegenai/recipes-ai/hailort/files/"
                "0001-cmake-cross-compile-with-a-protobuf-built-for-the-build-host.patch"]
    assert "Upstream-Status: Pending" in patch and "+        if(HAILO_HOST_PROTOBUF_DIR)\n" in patch


def test_each_board_gets_the_runtime_its_driver_matches(catalog):
    """Hailo-8 on one board and Hailo-10H on another: two HailoRT versions, pinned per machine."""
    spec = parse_spec(_spec([{"name": "raspberrypi5", "accelerators": ["hailo8"]},
                             {"name": "rock-5b", "accelerators": ["hailo10h"]}]), catalog)
    files = render(spec, catalog)
    distro = files["meta-edgegenai/conf/distro/edgegenai.conf"]
    assert 'PREFERRED_VERSION_hailort:raspberrypi5 = "4.23.0"\n' in distro
    assert 'PREFERRED_VERSION_hailort:rock-5b = "5.3.0"\n' in distro
    five = files["meta-edgegenai/recipes-ai/hailort/hailort_5.3.0.bb"]
    assert 'SRCREV_hailort = "d503417f2a0db186a838390fb08690c4ea0f415e"\n' in five
    assert 'PACKAGE_ARCH = "${MACHINE_ARCH}"\n' in five
    # Hailo's CLI11 fork is fetched by commit; its licence comes through
    # hailort's third-party list, since no LICENSE md5 could be confirmed there.
    assert ";name=cli11;destsuffix=${BP}/hailort/external/cli11-src \\\n" in five
    assert "cli11-src/LICENSE" not in five
    assert "file://hailort/LICENSE-3RD-PARTY.md;md5=eb78bffb175a3f2be317bb4c45fedecf \\\n" in five
    assert "hailort/external/tl-expected-src/COPYING;md5=65d3616852dbf7b1a6d4b53b00626032" in five
    pg = files["meta-edgegenai/recipes-core/packagegroups/packagegroup-edgegenai-accelerators.bb"]
    assert 'RDEPENDS:${PN}:append:rock-5b = " edgegenai-devices hailo10h-firmware hailo1x-pci hailort hailort-cli"\n' in pg


def test_npu_gets_the_interpreter_its_delegate_plugs_into(arm, catalog):
    """Teflon is a TFLite delegate: the board also gets LiteRT, pinned by PyPI's sha256."""
    base = "meta-edgegenai/recipes-ai/python3-ai-edge-litert/"
    recipe = arm[base + "python3-ai-edge-litert_2.2.0.bb"]
    wheel = next(w for w in catalog.interpreters["litert"].wheels if w.python == "3.14")
    inc = arm[base + "python3-ai-edge-litert-python3.14.inc"]
    # Saved under a .zip name, the wheel is unpacked by the fetcher (base.bbclass
    # adds unzip-native for that name) where S and LIC_FILES_CHKSUM expect it.
    assert (f'SRC_URI += "{wheel.url};name=wheel;downloadfilename='
            'ai_edge_litert-${PV}-cp314-cp314-manylinux_2_27_aarch64.whl.zip;subdir=${BP}"\n') in inc
    assert f'SRC_URI[wheel.sha256sum] = "{wheel.sha256}"\n' in inc
    # The wheel has no licence file: LiteRT's comes from its repository at the tag.
    assert "    file://${BP}-LICENSE;md5=86d3f3a95c324c9479bd8986968f4327 \\\n" in recipe
    assert ("https://raw.githubusercontent.com/google-ai-edge/LiteRT/145c7523ff08d5e57ab5c582141775eea47da9c7/"
            "LICENSE;name=licence1;downloadfilename=${BP}-LICENSE;subdir=${BP}") in recipe
    assert 'NO_GENERIC_LICENSE[Ooura-FFT] = "${BP}-readme2d.txt"\n' in recipe
    assert "NO_GENERIC_LICENSE[Apache" not in recipe
    assert 'SRC_URI[licence2.sha256sum] = "0b2a2082537735a2a576dbec2e8f9c1a09812eac6df6a389502a6ba860072906"\n' in recipe
    assert 'COMPATIBLE_HOST = "aarch64.*-linux"\n' in recipe
    assert 'RDEPENDS:${PN} += "python3-core python3-ctypes python3-numpy"\n' in recipe
    assert "[network]" not in recipe + inc and "AUTOREV" not in recipe + inc
    case = arm["meta-edgegenai/lib/oeqa/runtime/cases/edgegenai_accelerators.py"]
    assert "load_delegate(\\'libteflon.so\\')" in case


def test_coral_gets_libedgetpu_built_from_the_interpreter_s_litert(arm):
    """The Edge TPU delegate, built from source against LiteRT's TensorFlow Lite, offline."""
    recipe = arm["meta-edgegenai/recipes-ai/libedgetpu/libedgetpu_git.bb"]
    assert 'PV = "16.0+git"\n' in recipe  # the file is libedgetpu_git.bb
    assert 'SRCREV_libedgetpu = "e35aed18fea2e2d25d98352e5a5bd357c170bd4d"\n' in recipe
    assert 'SRCREV_litert = "145c7523ff08d5e57ab5c582141775eea47da9c7"\n' in recipe
    # LiteRT keeps prebuilt binaries of other platforms in Git LFS: not fetched.
    assert "branch=release/2.2.0;lfs=0;name=litert;destsuffix=${BP}/litert" in recipe
    assert "file://litert/LICENSE;md5=86d3f3a95c324c9479bd8986968f4327" in recipe
    assert "oe_runmake libedgetpu-throttled" in recipe
    assert 'ln -sf libedgetpu.so.1.0 ${D}${libdir}/libedgetpu.so.1' in recipe
    assert "[network]" not in recipe and "AUTOREV" not in recipe
    for patch in ("0001-port-include-cstdint-for-the-fixed-width-integer-types.patch",
                  "0002-makefile_build-build-against-LiteRT-and-a-current-abseil.patch"):
        assert f"    file://{patch} \\\n" in recipe
        text = arm[f"meta-edgegenai/recipes-ai/libedgetpu/files/{patch}"]
        assert "Upstream-Status: Pending" in text and "Signed-off-by:" in text
    # abseil-cpp and flatbuffers: the layer needs meta-oe, and says so.
    assert 'LAYERDEPENDS_edgegenai = "core yocto openembedded-layer"\n' in arm["meta-edgegenai/conf/layer.conf"]
    # One libedgetpu for every machine: no per-machine version pin.
    assert "PREFERRED_VERSION_libedgetpu" not in arm["meta-edgegenai/conf/distro/edgegenai.conf"]
    case = arm["meta-edgegenai/lib/oeqa/runtime/cases/edgegenai_accelerators.py"]
    assert "load_delegate(\\'libedgetpu.so.1\\')" in case


def test_only_boards_with_such_a_delegate_get_an_interpreter(catalog):
    files = render(parse_spec(_spec([{"name": "raspberrypi5", "accelerators": ["hailo8"]}]), catalog), catalog)
    assert not any("python3-ai-edge-litert" in path or "python3-ai-edge-litert" in text for path, text in files.items())


def test_a_spec_without_runtimes_pins_no_versions(catalog):
    files = render(parse_spec(_spec([{"name": "rock-5b", "accelerators": ["coral-pcie"]}]), catalog), catalog)
    assert "PREFERRED_VERSION" not in files["meta-edgegenai/conf/distro/edgegenai.conf"]
    assert not any("recipes-ai/hailort" in path for path in files)


def test_firmware_licence_is_declared(arm):
    fw = arm["meta-edgegenai/recipes-bsp/hailo8-firmware/hailo8-firmware_4.23.0.bb"]
    assert 'LICENSE_FLAGS = "hailo-firmware"\n' in fw
    assert 'LICENSE = "Proprietary"\n' in fw
    assert "${nonarch_base_libdir}/firmware/hailo/hailo8_fw.bin" in fw
    assert "/lib/" not in fw.replace("${nonarch_base_libdir}", "")


def test_device_nodes_go_to_groups(arm):
    rules = arm["meta-edgegenai/recipes-bsp/edgegenai-devices/files/70-edgegenai-accelerators.rules"]
    assert 'SUBSYSTEM=="apex", GROUP="apex", MODE="0660"\n' in rules
    assert 'SUBSYSTEM=="hailo_chardev", GROUP="hailo", MODE="0660"\n' in rules
    assert 'SUBSYSTEM=="accel", GROUP="render", MODE="0660"\n' in rules
    devices = arm["meta-edgegenai/recipes-bsp/edgegenai-devices/edgegenai-devices_1.0.bb"]
    assert 'GROUPADD_PARAM:${PN} = "--system apex; --system hailo"\n' in devices


def test_kernel_fragments_reach_each_kernel(arm):
    yocto = arm["meta-edgegenai/recipes-kernel/linux/linux-yocto_%.bbappend"]
    assert 'SRC_URI:append:rock-5b = " file://edgegenai-rk3588-npu.cfg file://edgegenai-coral-pcie.cfg"\n' in yocto
    rpi = arm["meta-edgegenai/dynamic-layers/raspberrypi/recipes-kernel/linux/linux-raspberrypi_%.bbappend"]
    assert 'SRC_URI:append:raspberrypi5 = " file://edgegenai-hailo8l.cfg"\n' in rpi
    assert arm["meta-edgegenai/recipes-kernel/linux/files/edgegenai-rk3588-npu.cfg"].endswith(
        "CONFIG_DRM_ACCEL=y\nCONFIG_DRM_ACCEL_ROCKET=m\n")
    conf = arm["meta-edgegenai/conf/layer.conf"]
    assert 'BBFILES_DYNAMIC += "raspberrypi:${LAYERDIR}/dynamic-layers/raspberrypi/*/*/*.bbappend"\n' in conf
    assert 'LAYERDEPENDS_edgegenai = "core yocto openembedded-layer"\n' in conf  # libedgetpu's abseil, flatbuffers
    assert 'PACKAGECONFIG:append:rock-5b = " rocket teflon"\n' in arm["meta-edgegenai/recipes-graphics/mesa/mesa.bbappend"]


def test_bsp_layers_are_switched_on_per_board(arm):
    include = yaml.safe_load(arm["kas/include/edgegenai.yml"])
    assert include["repos"]["meta-rockchip"]["layers"] == {".": "disabled"}
    assert include["repos"]["meta-arm"]["layers"] == {"meta-arm": "disabled", "meta-arm-toolchain": "disabled"}
    rock = yaml.safe_load(arm["kas/rock-5b.yml"])
    assert rock["repos"] == {"meta-arm": {"layers": {"meta-arm": None, "meta-arm-toolchain": None}},
                             "meta-rockchip": {"layers": {".": None}}}
    assert yaml.safe_load(arm["kas/raspberrypi5.yml"])["repos"] == {"meta-raspberrypi": {"layers": {".": None}}}


def test_oeqa_cases_know_each_machine(arm):
    case = arm["meta-edgegenai/lib/oeqa/runtime/cases/edgegenai_accelerators.py"]
    compile(case, "edgegenai_accelerators.py", "exec")
    assert '"node": "/dev/accel/accel0",' in case
    assert '"firmware": [\'hailo/hailo8_fw.bin\'],' in case
    assert '"probe": "hailortcli fw-control identify | grep -F \'Firmware Version: 4.23.0 \'",' in case


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_metadata_has_no_unrendered_values(catalog, example):
    """A missing optional catalog field must not leak into BitBake metadata as 'None'."""
    files = render(load_spec(example, catalog), catalog)
    for path, text in files.items():
        if path.endswith((".bb", ".bbappend", ".bbclass", ".conf", ".inc", ".yml")):
            assert "None" not in text, path


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_renders_lint_clean_and_kas_valid(tmp_path, catalog, example):
    """The examples' layers pass the same oelint and kas checks as the committed one."""
    spec = load_spec(example, catalog)
    writer.write(render(spec, catalog), tmp_path)
    ws = Workspace(tmp_path, spec_file=example)
    assert ws.releases == spec.releases
    for check in (oelint, kasconfig):
        outcome = check.check(ws)
        assert outcome.skipped is None, outcome.skipped
        assert outcome.findings == [], [f"{f.location}: {f.message}" for f in outcome.findings]


def test_hailo10h_node_is_the_5_3_driver_s(catalog):
    """hailo1x_pci 5.3.0 makes class hailo1x, nodes h1x-<n>: the rule and the test must name those."""
    files = render(load_spec(ROOT / "examples" / "raspberrypi5-ai-hat-2.yaml", catalog), catalog)
    rules = files["meta-edgegenai/recipes-bsp/edgegenai-devices/files/70-edgegenai-accelerators.rules"]
    assert 'SUBSYSTEM=="hailo1x", GROUP="hailo", MODE="0660"\n' in rules
    assert "hailo_chardev" not in rules
    case = files["meta-edgegenai/lib/oeqa/runtime/cases/edgegenai_accelerators.py"]
    assert '"node": "/dev/h1x-0",' in case

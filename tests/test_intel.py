"""The Intel board: meta-intel pinned and patched through kas, the NPU's stack, the iGPU serving."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from edgegenai import writer
from edgegenai.checks import Workspace
from edgegenai.checks.bitbake import layers_for, patch_repos
from edgegenai.render import render
from edgegenai.spec import load_spec, parse_spec

from conftest import ROOT

PATCH = "0001-wic-move-the-wks-files-to-files-wic.patch"
# meta-intel master's top-level wic/ at the pinned commit (413f4312).
WKS = ["core-image-tiny.wks.in", "generic-bootdisk.wks.in", "grub-bootdisk-microcode.wks.in",
       "image-installer.wks.in", "systemd-bootdisk-microcode.wks.in"]


@pytest.fixture(scope="module")
def intel(catalog):
    return render(load_spec(ROOT / "examples" / "intel-core-ultra.yaml", catalog), catalog)


@pytest.fixture(scope="module")
def both(catalog):
    """The board on both releases, without the NPU (scarthgap cannot drive it)."""
    spec = parse_spec({"releases": ["wrynose", "scarthgap"], "boards": ["intel-corei7-64"],
                       "engines": {"llama-cpp": {"backends": ["vulkan"]}},
                       "models": ["smollm2-360m-instruct-q4-k-m"]}, catalog)
    return render(spec, catalog)


def test_npu_stack_is_installed_on_the_board_only(intel):
    pg = intel["meta-edgegenai/recipes-core/packagegroups/packagegroup-edgegenai-accelerators.bb"]
    assert ('RDEPENDS:${PN}:append:intel-corei7-64 = " edgegenai-devices kernel-module-intel-vpu level-zero-loader '
            'linux-firmware-intel-vpu linux-npu-driver linux-npu-driver-firmware linux-npu-driver-tests"\n') in pg
    conf = intel["meta-edgegenai/conf/layer.conf"]
    # level-zero and linux-npu-driver are in meta-intel's meta-oe dynamic layer.
    assert 'LAYERDEPENDS_edgegenai = "core yocto openembedded-layer"\n' in conf
    assert 'BBFILES_DYNAMIC += "intel:${LAYERDIR}/dynamic-layers/intel/*/*/*.bbappend"\n' in conf


def test_npu_node_goes_to_render_without_new_groups(intel):
    rules = intel["meta-edgegenai/recipes-bsp/edgegenai-devices/files/70-edgegenai-accelerators.rules"]
    assert 'SUBSYSTEM=="accel", GROUP="render", MODE="0660"\n' in rules
    devices = intel["meta-edgegenai/recipes-bsp/edgegenai-devices/edgegenai-devices_1.0.bb"]
    # render is udev's own group: useradd with nothing to add is a parse error.
    assert "inherit allarch\n" in devices
    assert "useradd" not in devices.replace("# ", "") and "GROUPADD_PARAM" not in devices


def test_kernel_fragment_reaches_linux_intel(intel):
    append = intel["meta-edgegenai/dynamic-layers/intel/recipes-kernel/linux/linux-intel_%.bbappend"]
    assert 'SRC_URI:append:intel-corei7-64 = " file://edgegenai-intel-npu.cfg"\n' in append
    fragment = intel["meta-edgegenai/dynamic-layers/intel/recipes-kernel/linux/files/edgegenai-intel-npu.cfg"]
    assert fragment.endswith("CONFIG_DRM_ACCEL=y\nCONFIG_DRM_ACCEL_IVPU=m\n")


def test_oeqa_probes_the_npu_through_the_user_mode_driver(intel):
    case = intel["meta-edgegenai/lib/oeqa/runtime/cases/edgegenai_accelerators.py"]
    compile(case, "edgegenai_accelerators.py", "exec")
    assert '"node": "/dev/accel/accel0",' in case
    assert '"modules": [\'intel_vpu\'],' in case
    assert "npu-umd-test --gtest_filter='Driver.GetProperties:Device.GetProperties'" in case


def test_the_igpu_serves_the_model_through_vulkan(intel):
    recipe = intel["meta-edgegenai/recipes-ai/llama-cpp/llama-cpp_0.0.8770.bb"]
    assert 'PACKAGECONFIG ??= "openmp vulkan"\n' in recipe
    unit = intel["meta-edgegenai/recipes-ai/edgegenai-llama-cpp-server/files/llama-server.service"]
    assert "DeviceAllow=char-drm rw\n" in unit and "SupplementaryGroups=render\n" in unit
    assert "vulkan" in intel["meta-edgegenai/conf/distro/edgegenai.conf"]


def test_meta_intel_is_pinned_and_patched_by_kas(intel):
    include = yaml.safe_load(intel["kas/include/edgegenai.yml"])
    repo = include["repos"]["meta-intel"]
    assert repo["commit"] == "413f4312cd1fe3684f5a19db1dd97d0550bbef54"
    assert repo["layers"] == {".": "disabled"}
    assert repo["patches"] == {PATCH[:-6]: {"repo": "edgegenai", "path": f"kas/patches/meta-intel/{PATCH}"}}
    assert yaml.safe_load(intel["kas/intel-corei7-64.yml"])["repos"] == {"meta-intel": {"layers": {".": None}}}
    shipped = intel[f"kas/patches/meta-intel/{PATCH}"]
    assert shipped == (ROOT / "templates" / "kas" / "patches" / "meta-intel" / PATCH).read_text("utf-8")


def test_a_release_whose_pin_needs_no_patch_switches_it_off(both):
    """scarthgap's meta-intel has no wic/ to move: its fragment removes the include's patch."""
    include = yaml.safe_load(both["kas/include/edgegenai.yml"])["repos"]["meta-intel"]
    scarthgap = yaml.safe_load(both["kas/opt/scarthgap.yml"])["repos"]["meta-intel"]
    wrynose = yaml.safe_load(both["kas/opt/wrynose.yml"])["repos"]["meta-intel"]
    assert scarthgap == {"branch": "scarthgap", "commit": "5d153e35b4e752505efeae368f188fac5e31cf33",
                         "patches": {PATCH[:-6]: None}}
    assert wrynose["patches"] == include["patches"]


def test_specs_without_the_board_ship_no_patch(catalog):
    files = render(load_spec(ROOT / "examples" / "arm-boards.yaml", catalog), catalog)
    assert not [p for p in files if p.startswith("kas/patches/")]
    assert "meta-intel" not in yaml.safe_load(files["kas/include/edgegenai.yml"])["repos"]


def _meta_intel(root):
    """A checkout with meta-intel's layout where the patch touches it."""
    layer = root / "wrynose" / "meta-intel"
    (layer / "conf").mkdir(parents=True)
    (layer / "conf" / "layer.conf").write_text('BBFILE_COLLECTIONS += "intel"\n')
    (layer / "wic").mkdir()
    for name in WKS:
        (layer / "wic" / name).write_text(f"# {name}\n")
    return layer


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_bitbake_check_sees_the_layer_as_kas_patches_it(tmp_path, catalog):
    spec = load_spec(ROOT / "examples" / "intel-core-ultra.yaml", catalog)
    out = tmp_path / "out"
    writer.write(render(spec, catalog), out)
    checkout = _meta_intel(tmp_path / "src")
    build = tmp_path / "build"
    copies, problems = patch_repos(Workspace(out), "wrynose", tmp_path / "src" / "wrynose", build)
    assert problems == []
    moved = copies["meta-intel"]
    assert not (moved / "wic").exists()
    assert sorted(p.name for p in (moved / "files" / "wic").iterdir()) == WKS
    assert (checkout / "wic").is_dir(), "the checkout itself is left as it is"
    paths, _ = layers_for(Workspace(out), tmp_path / "src" / "wrynose", catalog.boards["intel-corei7-64"], copies)
    assert moved in paths


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_patch_that_no_longer_applies_is_an_error(tmp_path, catalog):
    spec = load_spec(ROOT / "examples" / "intel-core-ultra.yaml", catalog)
    out = tmp_path / "out"
    writer.write(render(spec, catalog), out)
    checkout = _meta_intel(tmp_path / "src")
    (checkout / "wic" / WKS[0]).unlink()  # upstream moved on
    _, problems = patch_repos(Workspace(out), "wrynose", tmp_path / "src" / "wrynose", tmp_path / "build")
    assert len(problems) == 1 and problems[0].startswith(f"{PATCH} does not apply to ")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_patch_is_a_pure_rename(tmp_path):
    """git am applies it to a tree holding exactly meta-intel's wic/ files, content unchanged."""
    layer = _meta_intel(tmp_path)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(layer)]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "base"], check=True)
    subprocess.run(git + ["am", "-q", str(ROOT / "templates" / "kas" / "patches" / "meta-intel" / PATCH)], check=True)
    diff = subprocess.run(git + ["diff", "--stat", "-M", "HEAD~1", "HEAD"], capture_output=True, text=True,
                          check=True).stdout
    assert diff.strip().endswith(f"{len(WKS)} files changed, 0 insertions(+), 0 deletions(-)")
    assert all((layer / "files" / "wic" / name).read_text() == f"# {name}\n" for name in WKS)


def test_skylake_board_is_meta_intel_s_x86_64_v3_machine_with_the_npu(catalog):
    """intel-skylake-64: the same BSP and NPU stack, the image built for AVX2."""
    spec = parse_spec({"releases": ["wrynose"],
                       "boards": [{"name": "intel-skylake-64", "accelerators": ["intel-npu"]}],
                       "engines": {"llama-cpp": {"backends": ["vulkan"]}},
                       "models": ["smollm2-360m-instruct-q4-k-m"]}, catalog)
    files = render(spec, catalog)
    kas = yaml.safe_load(files["kas/intel-skylake-64.yml"])
    assert kas["machine"] == "intel-skylake-64"
    assert kas["repos"] == {"meta-intel": {"layers": {".": None}}}
    append = files["meta-edgegenai/dynamic-layers/intel/recipes-kernel/linux/linux-intel_%.bbappend"]
    assert 'SRC_URI:append:intel-skylake-64 = " file://edgegenai-intel-npu.cfg"\n' in append
    board = catalog.boards["intel-skylake-64"]
    assert board.kernel_provider == catalog.boards["intel-corei7-64"].kernel_provider == "linux-intel"
    with pytest.raises(Exception, match="intel-npu, which board 'intel-skylake-64' has only on wrynose"):
        parse_spec({"releases": ["scarthgap"],
                    "boards": [{"name": "intel-skylake-64", "accelerators": ["intel-npu"]}]}, catalog)

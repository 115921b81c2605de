"""The containers feature: Podman and crun from meta-virtualization, and the kernel they need."""

from __future__ import annotations

import pytest
import yaml

from edgegenai.render import render
from edgegenai.spec import parse_spec

from conftest import judge_on_linux_6_12

LAYER = "meta-edgegenai"
FRAGMENT = "edgegenai-containers.cfg"
SPEC = {"releases": ["wrynose", "scarthgap"], "boards": ["qemux86-64", "raspberrypi5"],
        "image": {"features": ["ssh", "containers"]}}


@pytest.fixture(scope="module")
def files(catalog):
    return render(parse_spec(SPEC, catalog), catalog)


def test_podman_and_crun_with_the_distro_they_need(files):
    pg = files[f"{LAYER}/recipes-core/packagegroups/packagegroup-edgegenai.bb"]
    assert "    crun \\\n" in pg and "    podman \\\n" in pg
    distro = files[f"{LAYER}/conf/distro/edgegenai.conf"]
    assert 'DISTRO_FEATURES:append = " ipv6 seccomp virtualization"' in distro
    for var, value in (("engine", "podman"), ("runtime", "crun"), ("networking", "netavark"),
                       ("dns", "aardvark-dns")):
        assert f'VIRTUAL-RUNTIME_container_{var} = "{value}"\n' in distro
    conf = files[f"{LAYER}/conf/layer.conf"]
    assert ('LAYERDEPENDS_edgegenai = "core yocto filesystems-layer meta-python networking-layer '
            'openembedded-layer virtualization-layer"') in conf


def test_meta_virtualization_is_pinned_per_release(files, catalog):
    include = yaml.safe_load(files["kas/include/edgegenai.yml"])
    virt = include["repos"]["meta-virtualization"]
    assert virt["commit"] == catalog.releases["wrynose"].repos["meta-virtualization"].commit
    assert virt["url"] == "https://git.yoctoproject.org/meta-virtualization"
    assert include["repos"]["meta-openembedded"]["layers"] == {
        "meta-oe": None, "meta-python": None, "meta-networking": None, "meta-filesystems": None}
    scarthgap = yaml.safe_load(files["kas/opt/scarthgap.yml"])["repos"]["meta-virtualization"]
    assert scarthgap["commit"] == catalog.releases["scarthgap"].repos["meta-virtualization"].commit


def test_every_board_kernel_gets_the_fragment(files):
    core = files[f"{LAYER}/recipes-containers/linux/linux-yocto_%.bbappend"]
    rpi = files[f"{LAYER}/dynamic-layers/raspberrypi/recipes-containers/linux/linux-raspberrypi_%.bbappend"]
    for append in (core, rpi):
        assert f'SRC_URI:append:edgegenai = " file://{FRAGMENT}"' in append
    assert 'BBFILES_DYNAMIC += "raspberrypi:' in files[f"{LAYER}/conf/layer.conf"]


def test_without_the_feature_none_of_it(catalog):
    files = render(parse_spec({**SPEC, "image": {"features": ["ssh"]}}, catalog), catalog)
    assert not [p for p in files if "recipes-containers" in p]
    assert "podman" not in files[f"{LAYER}/recipes-core/packagegroups/packagegroup-edgegenai.bb"]
    assert "meta-virtualization" not in files["kas/include/edgegenai.yml"]
    assert "VIRTUAL-RUNTIME" not in files[f"{LAYER}/conf/distro/edgegenai.conf"]


@pytest.mark.parametrize("arch", ["x86", "arm64"])
def test_the_fragment_sticks_on_a_real_kernel(files, tmp_path, arch):
    """Every option podman and crun need is set as asked once merged onto the defconfig."""
    lines, findings = judge_on_linux_6_12(files[f"{LAYER}/recipes-containers/linux/files/{FRAGMENT}"], arch,
                                          tmp_path)
    assert len(lines) == 40 and findings == []

"""The i.MX 8M Plus EVK: NXP's BSP, its EULA accepted only by the user, llama.cpp on the A53 cores."""

from __future__ import annotations

import pytest
import yaml

from edgegenai.render import render
from edgegenai.spec import load_spec

from conftest import ROOT


@pytest.fixture(scope="module")
def imx(catalog):
    return render(load_spec(ROOT / "examples" / "imx8mp.yaml", catalog), catalog)


def test_the_eula_is_accepted_by_a_fragment_the_user_adds(imx):
    fragment = yaml.safe_load(imx["kas/opt/fsl-eula.yml"])
    conf = fragment["local_conf_header"]["edgegenai-fsl-eula"]
    assert conf == 'LICENSE_FLAGS_ACCEPTED += "fsl-eula"\nACCEPT_FSL_EULA = "1"\n'
    board = imx["kas/imx8mp-lpddr4-evk.yml"]
    assert "#   kas build kas/imx8mp-lpddr4-evk.yml:kas/opt/fsl-eula.yml\n" in board
    # Never accepted on the user's behalf: not in the board file, the include or a release fragment.
    for path in ("kas/imx8mp-lpddr4-evk.yml", "kas/include/edgegenai.yml", "kas/opt/wrynose.yml",
                 "kas/opt/scarthgap.yml"):
        assert "ACCEPT_FSL_EULA" not in imx[path] and "LICENSE_FLAGS_ACCEPTED" not in imx[path]
    kconfig = imx["kas/Kconfig"]
    assert "config ACCEPT_FSL_EULA\n" in kconfig and '\tdefault "kas/opt/fsl-eula.yml"\n' in kconfig


def test_the_distro_flags_the_bsp_s_proprietary_recipes(imx):
    distro = imx["meta-edgegenai/conf/distro/edgegenai.conf"]
    assert 'EDGEGENAI_LICENCE_FLAG[freescale-layer] = "fsl-eula"\n' in distro
    assert "LICENSE_FLAGS_DETAILS[fsl-eula] = " in distro


def test_meta_freescale_is_pinned_per_release_and_on_for_the_board(imx, catalog):
    include = yaml.safe_load(imx["kas/include/edgegenai.yml"])["repos"]["meta-freescale"]
    assert include["commit"] == catalog.releases["wrynose"].repos["meta-freescale"].commit
    assert include["layers"] == {".": "disabled"}
    scarthgap = yaml.safe_load(imx["kas/opt/scarthgap.yml"])["repos"]["meta-freescale"]
    assert scarthgap == {"branch": "scarthgap", "commit": "4143744bc82508f00395a0ffe30e624b2341176a"}
    assert yaml.safe_load(imx["kas/imx8mp-lpddr4-evk.yml"])["repos"] == {"meta-freescale": {"layers": {".": None}}}


def test_llama_cpp_serves_on_the_cpu_only(imx):
    recipe = imx["meta-edgegenai/recipes-ai/llama-cpp/llama-cpp_0.0.8770.bb"]
    assert 'PACKAGECONFIG ??= "openmp"\n' in recipe
    unit = imx["meta-edgegenai/recipes-ai/edgegenai-llama-cpp-server/files/llama-server.service"]
    assert "PrivateDevices=yes\n" in unit and "DeviceAllow" not in unit
    assert not [p for p in imx if "accelerators" in p]

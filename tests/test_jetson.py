"""Jetson Orin boards: meta-tegra in the kas files, llama.cpp on CUDA, NVIDIA's terms declared."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from edgegenai.catalog import Board
from edgegenai.render import render
from edgegenai.spec import parse_spec

MODEL = "smollm2-360m-instruct-q4-k-m"
LLAMA = "meta-edgegenai/recipes-ai/llama-cpp/llama-cpp_0.0.8770.bb"
UNIT = "meta-edgegenai/recipes-ai/edgegenai-llama-cpp-server/files/llama-server.service"
DISTRO = "meta-edgegenai/conf/distro/edgegenai.conf"
NANO = "jetson-orin-nano-devkit"


def _render(catalog, backends=("openmp", "cuda"), boards=(NANO,), releases=("wrynose", "scarthgap")):
    spec = {"boards": list(boards), "releases": list(releases), "models": [MODEL],
            "engines": {"llama-cpp": {"backends": list(backends)}}}
    return render(parse_spec(spec, catalog), catalog)


def test_cuda_backend_builds_llama_cpp_with_meta_tegra_s_class(catalog):
    files = _render(catalog)
    recipe = files[LLAMA]
    assert 'PACKAGECONFIG ??= "cuda openmp"\n' in recipe
    assert 'PACKAGECONFIG[cuda] = "-DGGML_CUDA=ON,-DGGML_CUDA=OFF"\n' in recipe
    inherit = re.search(r"^inherit_defer (.*)$", recipe, re.M).group(1)
    assert "bb.utils.contains('PACKAGECONFIG', 'cuda'" in inherit and "-native" in inherit
    assert 'LAYERDEPENDS_edgegenai = "core yocto tegra"\n' in files["meta-edgegenai/conf/layer.conf"]


def test_cpu_build_keeps_the_cuda_class_out(catalog):
    """Without the backend nothing depends on meta-tegra: the class is named only behind PACKAGECONFIG."""
    files = _render(catalog, backends=("openmp",))
    recipe = files[LLAMA]
    assert 'PACKAGECONFIG ??= "openmp"\n' in recipe
    assert not re.search(r"^inherit .*\bcuda\b", recipe, re.M)
    assert 'LAYERDEPENDS_edgegenai = "core yocto"\n' in files["meta-edgegenai/conf/layer.conf"]


def test_service_opens_only_the_gpu_s_compute_nodes(catalog):
    unit = _render(catalog)[UNIT]
    allowed = re.findall(r"^DeviceAllow=(\S+) rw$", unit, re.M)
    assert "/dev/nvmap" in allowed and "/dev/nvgpu/igpu0/ctrl" in allowed
    # Not the debugger, profiler or scheduler nodes.
    assert not [d for d in allowed if re.search(r"dbg|prof|ctxsw|/sched|-sched", d)]
    assert "DevicePolicy=closed\n" in unit and "SupplementaryGroups=video\n" in unit
    assert "PrivateUsers=no\n" in unit  # a user namespace would hide the video group
    cpu_unit = _render(catalog, backends=("openmp",))[UNIT]
    assert "DeviceAllow" not in cpu_unit and "PrivateDevices=yes\n" in cpu_unit


def test_oeqa_checks_the_model_went_to_the_gpu(catalog):
    case = _render(catalog)["meta-edgegenai/lib/oeqa/runtime/cases/edgegenai.py"]
    assert "DEVICE_LOGS = ['offloaded [1-9][0-9]*/[0-9]+ layers to GPU']\n" in case
    cpu = _render(catalog, backends=("openmp",))["meta-edgegenai/lib/oeqa/runtime/cases/edgegenai.py"]
    assert "DEVICE_LOGS = []\n" in cpu


def test_cuda_is_refused_where_no_board_has_it(catalog):
    from edgegenai.spec import SpecError

    with pytest.raises(SpecError) as err:
        _render(catalog, boards=(NANO, "raspberrypi5"))
    assert err.value.problems == [
        "engines.llama-cpp.backends[1]: backend 'cuda' needs cuda, which board 'raspberrypi5' "
        "(boards[1]) does not have"]


def test_kas_pins_meta_tegra_per_release(catalog):
    files = _render(catalog)
    include = files["kas/include/edgegenai.yml"]
    assert "  meta-tegra:\n    url: https://github.com/OE4T/meta-tegra.git\n    branch: \"wrynose\"\n" \
           "    commit: 727633deca9b72643112d1aebadafb736dad60c0\n    layers:\n      .: disabled\n" in include
    assert "  meta-tegra:\n    branch: \"scarthgap\"\n    commit: 37530d284a27b904c34a94ef5856015825749b06\n" \
        in files["kas/opt/scarthgap.yml"]
    board = files[f"kas/{NANO}.yml"]
    assert f"machine: {NANO}\n" in board and "  meta-tegra:\n    layers:\n      .:\n" in board
    assert f"edgegenai-image-{NANO}.rootfs.tegraflash-tar.zst (wrynose)" in board
    assert f"edgegenai-image-{NANO}.rootfs.tegraflash.tar.gz (scarthgap)" in board


def test_nvidia_terms_stop_the_build_until_accepted(catalog):
    files = _render(catalog)
    distro = files[DISTRO]
    assert 'EDGEGENAI_LICENCE_FLAG[tegra] = "nvidia-jetson"\n' in distro
    assert "LICENSE_FLAGS_DETAILS[nvidia-jetson] = " in distro
    assert "d.getVarFlag('EDGEGENAI_LICENCE_FLAG', d.getVar('FILE_LAYERNAME')" in distro
    fragment = files["kas/opt/nvidia-jetson.yml"]
    assert 'LICENSE_FLAGS_ACCEPTED += "nvidia-jetson"\n' in fragment
    assert "kas/opt/nvidia-jetson.yml" in files[f"kas/{NANO}.yml"]
    assert 'default "kas/opt/nvidia-jetson.yml"\n\tdepends on ACCEPT_NVIDIA_JETSON\n' in files["kas/Kconfig"]


def test_boards_without_proprietary_bsp_get_no_licence_fragment(catalog):
    files = _render(catalog, backends=("openmp",), boards=("qemuarm64",))
    assert "kas/opt/nvidia-jetson.yml" not in files
    assert "EDGEGENAI_LICENCE_FLAG" not in files[DISTRO]
    assert "ACCEPT_" not in files["kas/Kconfig"]


def test_a_kernel_per_release_must_name_every_release(catalog):
    data = catalog.boards[NANO].model_dump()
    assert Board(**data).kernel_recipes() == ["linux-jammy-nvidia-tegra", "linux-noble-nvidia-tegra"]
    data["kernel_provider"] = {"wrynose": "linux-noble-nvidia-tegra"}
    with pytest.raises(ValidationError, match="kernel_provider must name the kernel of each release"):
        Board(**data)


def _spec(catalog, **raw):
    raw.setdefault("boards", [NANO])
    return parse_spec(raw, catalog)


def test_tensorrt_engine_gets_its_default_onnx_model_and_the_gpu(catalog):
    spec = _spec(catalog, engines={"tensorrt": {}})
    assert [m.name for m in spec.models] == ["mnist-8-onnx"]
    files = render(spec, catalog)
    unit = files["meta-edgegenai/recipes-ai/edgegenai-tensorrt-engine/files/tensorrt-engine.service"]
    assert "ExecStart=@BINDIR@/tensorrt-engine mnist-8-onnx\n" in unit
    assert "DeviceAllow=/dev/nvmap rw\n" in unit and "PrivateNetwork=yes\n" in unit
    group = files["meta-edgegenai/recipes-core/packagegroups/packagegroup-edgegenai.bb"]
    for pkg in ("tensorrt-core", "tensorrt-plugins", "tensorrt-trtexec", "edgegenai-tensorrt-engine",
                "model-mnist-8-onnx"):
        assert f"    {pkg} \\\n" in group
    assert "llama" not in group
    assert 'DISTRO_FEATURES:append = " opengl seccomp"\n' in files[DISTRO]
    assert "meta-edgegenai/lib/oeqa/runtime/cases/edgegenai_tensorrt.py" in files


def test_a_spec_without_models_gets_only_its_engines_defaults(catalog):
    spec = _spec(catalog, boards=["qemux86-64"])
    assert [m.name for m in spec.models] == ["smollm2-360m-instruct-q4-k-m"]
    both = _spec(catalog, engines={"llama-cpp": {}, "tensorrt": {}})
    assert [m.name for m in both.models] == ["smollm2-360m-instruct-q4-k-m", "mnist-8-onnx"]


def test_tensorrt_is_refused_without_a_cuda_gpu_and_has_no_server(catalog):
    from edgegenai.spec import SpecError

    with pytest.raises(SpecError) as err:
        _spec(catalog, boards=["qemuarm64"], engines={"tensorrt": {"server": {"port": 9000}}})
    assert err.value.problems == [
        "engines.tensorrt: tensorrt needs cuda, which board 'qemuarm64' (boards[0]) does not have",
        "engines.tensorrt.server: tensorrt runs no server; drop server"]


def test_an_onnx_model_is_not_served_by_llama_cpp(catalog):
    from edgegenai.spec import SpecError

    with pytest.raises(SpecError) as err:
        _spec(catalog, engines={"llama-cpp": {}}, models=["smollm2-360m-instruct-q4-k-m", "mnist-8-onnx"])
    assert err.value.problems == [
        "models[1].engine: engine 'tensorrt' is not in the spec's engines (llama-cpp)"]


def test_tensorrt_python_bindings_only_where_they_match_the_core(catalog):
    group = "meta-edgegenai/recipes-core/packagegroups/packagegroup-edgegenai.bb"
    both = render(_spec(catalog, engines={"tensorrt": {}}), catalog)[group]
    assert 'EDGEGENAI_RELEASE_RDEPENDS[scarthgap] = "python3-tensorrt"\n' in both
    assert "EDGEGENAI_RELEASE_RDEPENDS[wrynose]" not in both
    assert "d.getVarFlag('EDGEGENAI_RELEASE_RDEPENDS', d.getVar('LAYERSERIES_CORENAMES'))" in both
    wrynose = render(_spec(catalog, engines={"tensorrt": {}}, releases=["wrynose"]), catalog)[group]
    assert "python3-tensorrt" not in wrynose


def test_kernel_appends_for_the_other_release_s_kernel_are_masked(catalog):
    """meta-tegra's kernel recipe is renamed between releases: each release masks the other's appends."""
    from conftest import ROOT
    from edgegenai.spec import load_spec
    files = render(load_spec(ROOT / "examples" / "jetson-orin.yaml", catalog), catalog)
    conf = files["meta-edgegenai/conf/layer.conf"]
    assert ('EDGEGENAI_RELEASE_BBMASK[wrynose] = "/dynamic-layers/[^/]+/recipes-[^/]+/linux/'
            'linux-jammy-nvidia-tegra_%[.]bbappend$"') in conf
    assert ('EDGEGENAI_RELEASE_BBMASK[scarthgap] = "/dynamic-layers/[^/]+/recipes-[^/]+/linux/'
            'linux-noble-nvidia-tegra_%[.]bbappend$"') in conf
    appends = [p for p in files if p.endswith("nvidia-tegra_%.bbappend")]
    assert {p.rsplit("/", 1)[1] for p in appends} == {"linux-noble-nvidia-tegra_%.bbappend",
                                                      "linux-jammy-nvidia-tegra_%.bbappend"}
    # Each mask matches exactly the appends of the recipe it names.
    for release, other in (("wrynose", "jammy"), ("scarthgap", "noble")):
        pattern = re.search(rf'EDGEGENAI_RELEASE_BBMASK\[{release}\] = "([^"]*)"', conf).group(1)
        masked = [p for p in appends if re.search(pattern, "/" + p)]
        assert masked and all(f"linux-{other}-nvidia-tegra" in p for p in masked)
    plain = render(load_spec(None, catalog), catalog)["meta-edgegenai/conf/layer.conf"]
    assert "BBMASK" not in plain

"""Template output for small inline specs, asserted as exact strings."""

from __future__ import annotations

import re

from edgegenai.render import render
from edgegenai.spec import parse_spec

MODEL = "smollm2-360m-instruct-q4-k-m"
LLAMA = "meta-edgegenai/recipes-ai/llama-cpp/llama-cpp_0.0.8770.bb"
UNIT = "meta-edgegenai/recipes-ai/edgegenai-llama-cpp-server/files/llama-server.service"
DEFAULTS = "meta-edgegenai/recipes-ai/edgegenai-llama-cpp-server/files/llama-server.default"


def _render(catalog, **spec):
    spec.setdefault("boards", ["qemuarm64"])
    spec.setdefault("models", [MODEL])
    return render(parse_spec(spec, catalog), catalog)


def test_layer_conf_follows_the_spec_releases(catalog):
    files = _render(catalog, releases=["scarthgap"])
    conf = files["meta-edgegenai/conf/layer.conf"]
    assert 'LAYERSERIES_COMPAT_edgegenai = "scarthgap"\n' in conf
    assert 'LAYERDEPENDS_edgegenai = "core yocto"\n' in conf


def test_backends_become_packageconfig(catalog):
    files = _render(catalog, engines={"llama-cpp": {"backends": ["openmp", "blas"]}})
    recipe = files[LLAMA]
    assert 'PACKAGECONFIG ??= "blas openmp"\n' in recipe
    assert 'PACKAGECONFIG[vulkan] = "-DGGML_VULKAN=ON,-DGGML_VULKAN=OFF,vulkan-loader vulkan-headers shaderc-native"\n' in recipe
    assert 'SRCREV = "82764d8f405ff7928c061d8c100b50e9f77939f6"\n' in recipe
    assert "    -DGGML_NATIVE=OFF \\\n" in recipe


def test_blas_pulls_in_meta_oe_everywhere(catalog):
    files = _render(catalog, engines={"llama-cpp": {"backends": ["blas"]}})
    assert 'LAYERDEPENDS_edgegenai = "core yocto openembedded-layer"\n' in files["meta-edgegenai/conf/layer.conf"]
    include = files["kas/include/edgegenai.yml"]
    assert "  meta-openembedded:\n" in include and "      meta-oe:\n" in include
    assert "  meta-openembedded:\n    branch: \"scarthgap\"\n" in files["kas/opt/scarthgap.yml"]


def test_without_blas_meta_oe_is_not_cloned(catalog):
    files = _render(catalog)
    assert "meta-openembedded" not in files["kas/include/edgegenai.yml"]


def test_server_settings_reach_the_service(catalog):
    files = _render(catalog, engines={"llama-cpp": {"server": {"port": 9000, "threads": 2, "context_size": 2048}}})
    defaults = files[DEFAULTS]
    assert f"LLAMA_ARG_MODEL='@MODEL_DIR@/{MODEL}/SmolLM2-360M-Instruct-Q4_K_M.gguf'\n" in defaults
    assert "LLAMA_ARG_PORT='9000'\n" in defaults
    assert "LLAMA_ARG_THREADS='2'\n" in defaults
    assert "LLAMA_ARG_CTX_SIZE='2048'\n" in defaults


def test_loopback_server_is_fenced_to_localhost(catalog):
    files = _render(catalog)
    unit = files[UNIT]
    assert "IPAddressDeny=any\nIPAddressAllow=localhost\n" in unit
    assert "NoNewPrivileges=yes\n" in unit and "User=llama\n" in unit
    assert "LoadCredential" not in unit and "API_KEY" not in unit
    assert not [p for p in files if "llama-server-key" in p]


LAN = {"host": "0.0.0.0", "auth": "api-key", "allow": ["192.168.7.0/24", "fd00::/8"]}


def test_lan_server_needs_its_key_and_keeps_an_allow_list(catalog):
    files = _render(catalog, engines={"llama-cpp": {"server": LAN}})
    unit = files[UNIT]
    assert "IPAddressDeny=any\nIPAddressAllow=localhost 192.168.7.0/24 fd00::/8\n" in unit
    assert "LoadCredential=api-key:@KEYFILE@\nEnvironment=LLAMA_ARG_API_KEY_FILE=%d/api-key\n" in unit
    assert "Wants=llama-server-key.service\n" in unit
    key_unit = files[UNIT.replace("llama-server.service", "llama-server-key.service")]
    assert "ConditionPathExists=!@KEYFILE@\n" in key_unit and "PrivateNetwork=yes\n" in key_unit
    recipe = files["meta-edgegenai/recipes-ai/edgegenai-llama-cpp-server/edgegenai-llama-cpp-server_1.0.bb"]
    assert "s,@KEYFILE@,${localstatedir}/lib/edgegenai/llama-server.key,g" in recipe
    assert "file://llama-server-key \\\n" in recipe
    # No key anywhere in what is generated: the device makes it.
    assert not [p for p, text in files.items() if re.search(r"\b[0-9a-f]{64}\n", text) and "key" in p]


def test_lan_server_with_any_client_has_no_ip_fence(catalog):
    unit = _render(catalog, engines={"llama-cpp": {"server": dict(LAN, allow=["any"])}})[UNIT]
    assert "IPAddressDeny" not in unit and "LoadCredential=api-key:" in unit


def test_model_recipe_is_pinned(catalog):
    files = _render(catalog)
    recipe = files[f"meta-edgegenai/recipes-models/model-{MODEL}/model-{MODEL}_1.0.bb"]
    assert 'SRC_URI[sha256sum] = "16c7f1667fea34bacad196a57b548effcb37614db4ab5677a20c8c7b823b9e63"\n' in recipe
    assert "/resolve/391ed11137586e383b1be0fab9acf01d282c2e11/" in recipe
    assert 'LICENSE = "Apache-2.0"\n' in recipe
    assert "LICENSE_FLAGS" not in recipe


def test_restricted_model_licence_is_declared(catalog):
    custom = {"name": "gated", "summary": "a gated model", "version": "3", "engine": "llama-cpp",
              "format": "gguf", "url": "https://example.com/g.gguf", "filename": "g.gguf",
              "sha256": "b" * 64, "size": 10, "license": "CLOSED", "lic_files_chksum": "",
              "license_flags": "commercial_gated", "homepage": "https://example.com"}
    files = _render(catalog, models=[custom])
    recipe = files["meta-edgegenai/recipes-models/model-gated/model-gated_3.bb"]
    assert 'LICENSE_FLAGS = "commercial_gated"\n' in recipe


def test_kas_board_files(catalog):
    files = _render(catalog, boards=["qemuarm64", "qemux86-64"])
    assert files["kas/qemux86-64.yml"].endswith("includes:\n    - kas/include/edgegenai.yml\n\nmachine: qemux86-64\n")
    assert "#   kas build kas/qemuarm64.yml:kas/opt/scarthgap.yml\n" in files["kas/qemuarm64.yml"]
    assert sorted(p for p in files if p.startswith("kas/opt/")) == [
        "kas/opt/cve.yml", "kas/opt/debug.yml", "kas/opt/scarthgap.yml", "kas/opt/wrynose.yml"]


def test_cve_report_option_requires_the_building_releases_include(catalog):
    files = _render(catalog, releases=["wrynose", "scarthgap"])
    assert files["kas/opt/cve.yml"].endswith(
        "    require conf/distro/include/edgegenai-cve-${LAYERSERIES_CORENAMES}.inc\n")
    wrynose = files["meta-edgegenai/conf/distro/include/edgegenai-cve-wrynose.inc"]
    scarthgap = files["meta-edgegenai/conf/distro/include/edgegenai-cve-scarthgap.inc"]
    assert 'OE_FRAGMENTS += "core/yocto/sbom-cve-check"\n' in wrynose and "INHERIT" not in wrynose
    assert 'INHERIT += "cve-check"\n' in scarthgap and "OE_FRAGMENTS" not in scarthgap
    only = _render(catalog, releases=["scarthgap"])
    assert not any("edgegenai-cve-wrynose" in p for p in only)


def test_image_memory_and_features(catalog):
    files = _render(catalog, image={"features": ["ssh", "tools-debug"]})
    image = files["meta-edgegenai/recipes-core/images/edgegenai-image.bb"]
    assert 'IMAGE_FEATURES += "\\\n    ssh-server-openssh \\\n    tools-debug \\\n"\n' in image
    assert 'QB_MEM:qemuarm64 = "-m 4096"\n' in image
    assert "QB_MEM:qemux86-64" not in image


def test_rendering_is_deterministic(catalog):
    assert _render(catalog) == _render(catalog)


def test_gpu_backend_opens_only_the_render_node(catalog):
    spec = parse_spec({"boards": ["raspberrypi5"], "models": [MODEL],
                       "engines": {"llama-cpp": {"backends": ["vulkan"]}}}, catalog)
    unit = render(spec, catalog)[UNIT]
    assert "PrivateDevices=no\nDevicePolicy=closed\nDeviceAllow=char-drm rw\nSupplementaryGroups=render\n" in unit
    assert "PrivateUsers=no\n" in unit
    assert "MemoryDenyWriteExecute" not in unit


def test_cpu_service_sees_no_devices(catalog):
    unit = _render(catalog)[UNIT]
    assert "PrivateDevices=yes\nDevicePolicy=closed\n" in unit
    assert "DeviceAllow" not in unit and "PrivateUsers=yes\n" in unit
    assert "MemoryDenyWriteExecute=yes\n" in unit

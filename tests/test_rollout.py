"""The model-rollout feature: what it renders, `edgegenai bundle`, and the script's refusals.

The whole cycle with the real RAUC and llama-server is test_rollout_boot.py;
here the rollout script runs on this host against stand-ins of rauc,
systemctl and curl that print what a real one prints, for the refusals that
cycle does not reach: a bundle that is not a model bundle, and one whose
settings try to move the server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from edgegenai import rollout
from edgegenai.cli import main
from edgegenai.errors import SpecError
from edgegenai.render import render
from edgegenai.spec import parse_spec

ROLLOUT = {"boards": ["qemux86-64", "qemuarm64"], "image": {"features": ["ssh", "model-rollout"]}}
LAYER = "meta-edgegenai"
SCRIPT = f"{LAYER}/recipes-ota/edgegenai-model-rollout/files/edgegenai-model-rollout"


@pytest.fixture(scope="module")
def files(catalog):
    return render(parse_spec(ROLLOUT, catalog), catalog)


def test_without_the_feature_nothing_of_it_is_rendered(catalog):
    plain = render(parse_spec({"boards": ["qemux86-64"]}, catalog), catalog)
    assert not [p for p in plain if "recipes-ota" in p or "rauc" in p]
    assert "rauc" not in plain[f"{LAYER}/conf/layer.conf"]


def test_the_feature_brings_meta_rauc_pinned_on_both_releases(files, catalog):
    layer_conf = files[f"{LAYER}/conf/layer.conf"]
    assert 'LAYERDEPENDS_edgegenai = "core yocto rauc"' in layer_conf
    assert " rauc " in files[f"{LAYER}/conf/distro/edgegenai.conf"]
    pins = {r: catalog.releases[r].repos["meta-rauc"].commit for r in ("wrynose", "scarthgap")}
    include = yaml.safe_load(files["kas/include/edgegenai.yml"])["repos"]["meta-rauc"]
    assert include["commit"] == pins["wrynose"] and include["branch"] == "wrynose"
    other = yaml.safe_load(files["kas/opt/scarthgap.yml"])["repos"]["meta-rauc"]
    assert other["commit"] == pins["scarthgap"] and other["branch"] == "scarthgap"


def test_system_conf_has_one_read_only_slot_and_the_models_repository(files):
    conf = files[f"{LAYER}/recipes-ota/rauc/files/system.conf"]
    assert "bootloader=custom" in conf and "readonly=true" in conf
    assert f"[artifacts.{rollout.REPO_NAME}]\npath={rollout.REPO_PATH}\ntype=trees" in conf
    assert "bundle-formats=-plain" in conf


def test_the_gate_request_carries_the_prompt_as_json(catalog):
    spec = dict(ROLLOUT, image={"features": ["ssh", "model-rollout"],
                                "gate": {"prompt": "Say 'ok'; then (stop) & 50%", "max_tokens": 4}})
    out = render(parse_spec(spec, catalog), catalog)
    request = json.loads(out[f"{LAYER}/recipes-ota/edgegenai-model-rollout/files/model-gate.json"])
    assert request["messages"][0]["content"] == "Say 'ok'; then (stop) & 50%" and request["max_tokens"] == 4
    assert "(stop)" not in out[SCRIPT]


@pytest.mark.parametrize("gate,field", [({"max_tokens": 0}, "image.gate.max_tokens"),
                                        ({"time_budget": 99999}, "image.gate.time_budget"),
                                        ({"min_tokens_per_second": -1}, "image.gate.min_tokens_per_second"),
                                        ({"prompt": "a\nb"}, "image.gate.prompt"),
                                        ({"prompt": 'say "x"'}, "image.gate.prompt")])
def test_gate_values_out_of_rule_are_refused_naming_the_field(catalog, gate, field):
    with pytest.raises(SpecError) as err:
        parse_spec(dict(ROLLOUT, image={"features": ["ssh", "model-rollout"], "gate": gate}), catalog)
    assert any(p.startswith(field) for p in err.value.problems), err.value.problems


def test_the_bundle_recipe_signs_with_named_keys_or_stops(files):
    bundle = next(t for p, t in files.items() if "/edgegenai-model-bundle-" in p)
    assert 'RAUC_BUNDLE_SLOTS = "models/llama-cpp"' in bundle
    assert "bbfatal \"No signing key:" in bundle
    conf = files[f"{LAYER}/recipes-ota/rauc/rauc-conf.bbappend"]
    assert "bbfatal \"No RAUC keyring:" in conf
    # Keys are made in the build, never shipped: nothing private in the layer.
    assert not [p for p, t in files.items() if "PRIVATE KEY" in t or p.endswith(".key.pem")]
    dev = yaml.safe_load(files["kas/opt/rauc-dev-keys.yml"])
    assert dev["local_conf_header"] == {"edgegenai-rauc-dev-keys": 'EDGEGENAI_RAUC_DEV_KEYS = "1"\n'}


FAKE_KAS = f"""#!{sys.executable}
import json, os, sys
from pathlib import Path
Path(os.environ["FAKE_KAS_RECORD"]).write_text(json.dumps(sys.argv[1:]))
deploy = Path(os.environ["KAS_BUILD_DIR"]) / "tmp/deploy/images/qemux86-64"
deploy.mkdir(parents=True, exist_ok=True)
name = "edgegenai-model-bundle-smollm2-360m-instruct-q4-k-m-qemux86-64"
(deploy / (name + "-20261205.raucb")).write_bytes(b"x" * 4096)
if not (deploy / (name + ".raucb")).is_symlink():
    (deploy / (name + ".raucb")).symlink_to(name + "-20261205.raucb")
"""


def _repo_with_fake_kas(tmp_path, monkeypatch, spec):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "spec.yaml").write_text(yaml.safe_dump(spec))
    monkeypatch.chdir(repo)
    main(["generate", "spec.yaml"])
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "kas").write_text(FAKE_KAS)
    (bindir / "kas").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_KAS_RECORD", str(tmp_path / "record.json"))
    monkeypatch.setenv("KAS_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    return repo


def test_bundle_builds_the_bundle_recipes_and_lists_the_bundles(tmp_path, monkeypatch, capsys):
    _repo_with_fake_kas(tmp_path, monkeypatch, ROLLOUT)
    main(["bundle", "qemux86-64", "--opt", "rauc-dev-keys", "--spec", "spec.yaml", "--min-free-gb", "0"])
    argv = json.loads((tmp_path / "record.json").read_text())
    assert argv == ["build", "kas/qemux86-64.yml:kas/opt/rauc-dev-keys.yml",
                    "--target", "edgegenai-model-bundle-smollm2-360m-instruct-q4-k-m"]
    out = capsys.readouterr().out
    assert "bundle      4.0 KiB  edgegenai-model-bundle-smollm2-360m-instruct-q4-k-m-qemux86-64.raucb" in out


def test_bundle_without_the_feature_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    _repo_with_fake_kas(tmp_path, monkeypatch, {"boards": ["qemux86-64"]})
    with pytest.raises(SystemExit) as exit_:
        main(["bundle", "qemux86-64", "--min-free-gb", "0"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "add 'ota' or 'model-rollout' to image.features" in err[0]
    assert not (tmp_path / "record.json").exists()


# -- the script on this host ---------------------------------------------------

STUBS = {
    # rauc info prints what RAUC 1.15's `--output-format=shell` prints for the bundle named
    # in $STUB_BUNDLE_KIND; install extracts $STUB_TREE as the artifact.
    "rauc": """#!/bin/sh
case "$1" in
  info)
    case "$STUB_BUNDLE_KIND" in
      system) printf "RAUC_IMAGE_CLASS_1='rootfs'\\nRAUC_IMAGE_ARTIFACT_1=''\\n" ;;
      *) printf "RAUC_IMAGE_CLASS_1='models'\\nRAUC_IMAGE_ARTIFACT_1='llama-cpp'\\n" ;;
    esac ;;
  install)
    echo "install $2" >> "$STUB_LOG"
    rm -rf "$REPO/llama-cpp"; mkdir -p "$REPO/llama-cpp"; cp "$STUB_TREE"/* "$REPO/llama-cpp/" ;;
esac
""",
    "systemctl": """#!/bin/sh
echo "systemctl $*" >> "$STUB_LOG"
case "$1" in show) echo 0 ;; esac
""",
    "curl": "#!/bin/sh\nexit 7\n",
    "logger": "#!/bin/sh\n",
    "flock": "#!/bin/sh\n",
}


def _script_env(tmp_path, files, env_text, kind="model"):
    root = tmp_path / "device"
    repo, state = root / "models", root / "rollout"
    script = files[SCRIPT].replace(rollout.REPO_PATH, str(repo)).replace(rollout.STATE_DIR, str(state))
    script = script.replace("@SYSCONFDIR@", str(root / "etc")).replace("@BINDIR@", str(root / "bin"))
    (root / "etc" / "default").mkdir(parents=True)
    (root / "etc" / "default" / "llama-server").write_text("LLAMA_ARG_HOST='127.0.0.1'\nLLAMA_ARG_PORT='8080'\n")
    bindir = tmp_path / "stubs"
    bindir.mkdir()
    for name, text in {**STUBS, "edgegenai-model-rollout": script}.items():
        (bindir / name).write_text(text)
        (bindir / name).chmod(0o755)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "server.env").write_text(env_text)
    (tree / "m.gguf").write_bytes(b"GGUF")
    bundle = tmp_path / "b.raucb"
    bundle.write_bytes(b"bundle")
    repo.mkdir(parents=True)
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}", STUB_LOG=str(tmp_path / "log"),
               STUB_TREE=str(tree), STUB_BUNDLE_KIND=kind, REPO=str(repo))
    run = subprocess.run(["sh", str(bindir / "edgegenai-model-rollout"), "install", str(bundle)],
                         env=env, capture_output=True, text=True)
    status = json.loads((state / "status.json").read_text())
    log = (tmp_path / "log").read_text() if (tmp_path / "log").exists() else ""
    return run, status, log, state


def test_a_bundle_with_a_system_image_is_refused_before_install(tmp_path, files):
    run, status, log, _ = _script_env(tmp_path, files, "", kind="system")
    assert run.returncode == 1
    assert status["state"] == "refused" and "not a model bundle" in status["reason"]
    assert "install" not in log  # nothing was installed, the server untouched


def test_settings_that_move_the_server_are_rolled_back(tmp_path, files):
    env = "LLAMA_ARG_MODEL='/data/edgegenai/models/llama-cpp/m.gguf'\nLLAMA_ARG_HOST='0.0.0.0'\n"
    run, status, log, state = _script_env(tmp_path, files, env)
    assert run.returncode == 1
    assert status["state"] == "rolled-back"
    assert status["reason"] == "server.env sets what a model bundle may not: LLAMA_ARG_HOST"
    # Nothing committed: back to the image's own model (no link), and the server restarted on it.
    assert not (state / "active.env").exists() and not (state / "committed.raucb").exists()
    assert "systemctl restart llama-server.service" in log

"""`edgegenai build` without a real build: a fake `kas` on PATH records how it
is called, and prints BitBake output composed from knotty's own messages."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from edgegenai.builder import host, invocation
from edgegenai.builder.progress import BuildState
from edgegenai.cli import main
from edgegenai.errors import UserError

DATA = Path(__file__).resolve().parent / "test_build"
ROOT = Path(__file__).resolve().parent.parent

FAKE_KAS = f"""#!{sys.executable}
# Fake kas: records its arguments and the environment it got, prints
# recorded BitBake output, leaves image files where BitBake would.
import json, os, sys
from pathlib import Path
keys = [k for k in os.environ if k.startswith(("DL_DIR", "SSTATE", "BB_HASHSERVE"))]
Path(os.environ["FAKE_KAS_RECORD"]).write_text(json.dumps(
    {{"argv": sys.argv[1:], "cwd": os.getcwd(), "env": {{k: os.environ[k] for k in keys}}}}))
for name in os.environ["FAKE_KAS_OUTPUT"].split(":"):
    sys.stdout.write(Path(name).read_text())
deploy = Path(os.environ["KAS_BUILD_DIR"]) / "tmp/deploy/images/qemuarm64"
deploy.mkdir(parents=True, exist_ok=True)
for name, size in (("edgegenai-image-qemuarm64.rootfs-20260101.ext4", 3 * 1024 * 1024),
                   ("edgegenai-image-qemuarm64.rootfs-20260101.spdx.json", 2048),
                   ("Image-6.18-qemuarm64.bin", 1024 * 1024)):
    (deploy / name).write_bytes(b"x" * size)
for link, target in (("edgegenai-image-qemuarm64.rootfs.ext4", "edgegenai-image-qemuarm64.rootfs-20260101.ext4"),
                     ("edgegenai-image-qemuarm64.rootfs.spdx.json", "edgegenai-image-qemuarm64.rootfs-20260101.spdx.json"),
                     ("Image", "Image-6.18-qemuarm64.bin")):
    if not (deploy / link).is_symlink():
        (deploy / link).symlink_to(target)
sys.exit(int(os.environ.get("FAKE_KAS_EXIT", "0")))
"""


@pytest.fixture()
def fake_kas(tmp_path, monkeypatch):
    """A repository with kas/ and a fake kas first on PATH; returns the record file."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "kas", repo / "kas")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("kas", "kas-container", "docker"):
        script = bindir / name
        script.write_text(FAKE_KAS)
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    record = tmp_path / "record.json"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_KAS_RECORD", str(record))
    monkeypatch.setenv("FAKE_KAS_OUTPUT", f"{DATA / 'bitbake-output.txt'}:"
                                          f"{DATA / 'bitbake-output-end-ok.txt'}")
    monkeypatch.setenv("KAS_BUILD_DIR", str(tmp_path / "build"))
    for key in invocation.SHARED:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.chdir(repo)
    return record


def test_build_runs_kas_with_fragments_and_shared_state(fake_kas, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DL_DIR", str(tmp_path / "downloads"))
    monkeypatch.setenv("SSTATE_DIR", str(tmp_path / "from-env"))
    main(["build", "qemuarm64", "--release", "scarthgap", "--opt", "debug",
          "--sstate-dir", str(tmp_path / "sstate"), "--hashserve", "hashserv.example:8686",
          "--min-free-gb", "0"])  # returns: success
    called = json.loads(fake_kas.read_text())
    assert called["argv"] == ["build", "kas/qemuarm64.yml:kas/opt/scarthgap.yml:kas/opt/debug.yml"]
    assert called["cwd"] == str(tmp_path / "repo")
    assert called["env"] == {
        "DL_DIR": str(tmp_path / "downloads"),
        "SSTATE_DIR": str(tmp_path / "sstate"),  # the flag wins over the environment
        "BB_HASHSERVE": "auto",
        "BB_HASHSERVE_UPSTREAM": "hashserv.example:8686",
    }
    out = capsys.readouterr().out
    log = tmp_path / "build" / "edgegenai-build.log"
    assert "Attempted 4567 tasks of which 4000 didn't need to be rerun and all succeeded." in out
    assert "sstate: Wanted 120 Local 80 Mirrors 20 Missed 20 Current 0" in out
    assert "image       3.0 MiB  edgegenai-image-qemuarm64.rootfs.ext4" in out
    assert "sbom        2.0 KiB  edgegenai-image-qemuarm64.rootfs.spdx.json" in out
    assert "kernel      1.0 MiB  Image" in out
    assert f"full log: {log}" in out
    assert "NOTE: Running task 4002 of 4567" in log.read_text()  # the whole output is kept


def test_build_in_a_container_may_run_as_root(fake_kas, monkeypatch, capsys):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    main(["build", "qemuarm64", "--container", "--min-free-gb", "0"])
    assert json.loads(fake_kas.read_text())["argv"] == ["build", "kas/qemuarm64.yml"]
    assert "edgegenai: kas-container build kas/qemuarm64.yml" in capsys.readouterr().out


def test_failed_build_says_where_the_log_is(fake_kas, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("FAKE_KAS_OUTPUT", f"{DATA / 'bitbake-output.txt'}:"
                                          f"{DATA / 'bitbake-output-end-fail.txt'}")
    monkeypatch.setenv("FAKE_KAS_EXIT", "1")
    with pytest.raises(SystemExit) as exit_:
        main(["build", "qemuarm64", "--min-free-gb", "0"])
    assert exit_.value.code == 1
    captured = capsys.readouterr()
    assert "failed: llama-cpp-0.0.8770-r0:do_compile" in captured.out
    assert f"build failed (exit 1); full log: {tmp_path / 'build' / 'edgegenai-build.log'}" \
        in captured.err


def test_unknown_names_are_all_reported(fake_kas, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["build", "qemuarm64", "--release", "kirkstone", "--opt", "debug,fast,scarthgap"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("edgegenai: error: unknown release 'kirkstone'; known: ")
    assert err[1:] == ["edgegenai: error: unknown option 'fast'; known: cve, debug",
                       "edgegenai: error: --opt scarthgap: releases go in --release"]
    assert not fake_kas.exists()  # kas never ran


@pytest.mark.parametrize("kwargs, which, expected", [
    (dict(container=False, euid=1000), {"kas"}, []),
    (dict(container=False, euid=0), set(),
     ["kas not found (pip install kas)",
      "running as root (BitBake refuses root: use a normal user, or --container)"]),
    (dict(container=True, euid=0), {"kas-container", "podman"}, []),
    (dict(container=True, euid=1000), {"kas"},
     ["kas-container not found (pip install kas)", "neither docker nor podman found"]),
])
def test_host_checks(tmp_path, kwargs, which, expected):
    found = host.problems(tmp_path, min_free_gb=0, which=lambda t: t if t in which else None,
                          **kwargs)
    assert found == expected


def test_host_check_disk_space_in_one_line(tmp_path):
    with pytest.raises(UserError) as err:
        host.check(tmp_path / "not" / "yet", container=False, euid=0, min_free_gb=10 ** 9,
                   which=lambda t: None)
    (line,) = err.value.problems
    assert line.startswith("host not ready for a build: kas not found (pip install kas); "
                           "running as root")
    assert f"GB free under {tmp_path} (a build needs ~{10 ** 9} GB)" in line


def test_progress_from_recorded_output():
    state = BuildState()
    for line in (DATA / "bitbake-output.txt").read_text().splitlines(keepends=True):
        state.feed(line)
    assert state.recipes_parsed == 955
    assert state.setscene == (100, 100)
    assert state.task == (4002, 4567)
    assert state.done == 2
    assert state.current() == ["llama-cpp-0.0.8770-r0:do_compile"]
    assert state.warnings == 1 and state.errors == 0
    assert state.phase == "tasks"
    assert "tasks 4002/4567" in state.headline() and "setscene 100/100" in state.headline()
    for line in (DATA / "bitbake-output-end-fail.txt").read_text().splitlines():
        state.feed(line)
    assert state.failed == ["llama-cpp-0.0.8770-r0:do_compile"]
    assert state.running == {}
    assert state.errors == 2 and state.phase == "done"
    assert state.summary.endswith("and 1 failed.")


def test_a_board_with_restricted_terms_needs_them_accepted(tmp_path):
    from edgegenai import licences, writer
    from edgegenai.catalog import load_catalog
    from edgegenai.render import render
    from edgegenai.spec import load_spec

    repo = tmp_path / "repo"
    spec = load_spec(ROOT / "examples" / "jetson-orin.yaml")
    writer.write(render(spec), repo)
    catalog = load_catalog()
    needed = tuple(t.flag for t in licences.for_board(spec, catalog, "jetson-orin-nano-devkit"))
    assert needed == ("nvidia-jetson",)
    with pytest.raises(UserError) as err:
        invocation.plan(catalog, "jetson-orin-nano-devkit", repo, environ={}, licence_flags=needed)
    assert str(err.value) == ("jetson-orin-nano-devkit needs the terms of licence flag nvidia-jetson "
                              "accepted: read kas/opt/nvidia-jetson.yml, then add --opt nvidia-jetson")
    inv = invocation.plan(catalog, "jetson-orin-nano-devkit", repo, opts=("nvidia-jetson",), environ={},
                          licence_flags=needed)
    assert inv.config == "kas/jetson-orin-nano-devkit.yml:kas/opt/nvidia-jetson.yml"


def test_the_build_command_asks_for_hailo_s_firmware_terms(tmp_path, monkeypatch, capsys):
    from edgegenai import writer
    from edgegenai.render import render
    from edgegenai.spec import load_spec

    spec_file = ROOT / "examples" / "raspberrypi5-hailo.yaml"
    writer.write(render(load_spec(spec_file)), tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["build", "raspberrypi5", "--repo", str(tmp_path), "--spec", str(spec_file)])
    assert exit_.value.code == 2
    assert ("raspberrypi5 needs the terms of licence flag hailo-firmware accepted: read "
            "kas/opt/hailo-firmware.yml, then add --opt hailo-firmware") in capsys.readouterr().err


def test_the_bsp_s_flashing_package_is_listed_as_what_to_flash(tmp_path):
    from edgegenai.builder import artefacts
    from edgegenai.catalog import load_catalog

    board = load_catalog().boards["jetson-orin-nano-devkit"]
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    for name in ("edgegenai-image-jetson-orin-nano-devkit.rootfs.tegraflash-tar.zst",
                 "edgegenai-image-jetson-orin-nano-devkit.rootfs.ext4"):
        (deploy / name).write_bytes(b"x")
    kinds = {a.path.name: a.kind for a in artefacts.collect(deploy, board, "edgegenai-image")}
    assert kinds == {"edgegenai-image-jetson-orin-nano-devkit.rootfs.ext4": "image",
                     "edgegenai-image-jetson-orin-nano-devkit.rootfs.tegraflash-tar.zst": "flash"}

"""Boot tests on the systemd stand-in: the layer's unit running Debian's real llama-server.

Where test_boot.py proves the harness on a busybox image with scripted
answers, these boot Debian (suite sid) with systemd as PID 1, the unit,
defaults file and health script as the generator renders them and the
service recipe installs them, and Debian's build of llama.cpp's
`llama-server` serving a tiny random-weight GGUF model (tests/standin/).
`edgegenai test` runs against it unchanged.  What this proves: the
rendered unit's sandbox lets the real server load a model, answer /health
and generate tokens under systemd, at an exposure score of 2.0 or better,
with the filters really applied to the process; and the harness reports a
broken unit, a wrong model and a crashing server with their causes.  What
it does not: that the Yocto image builds, or that the layer's own llama.cpp
build (another version, other options) behaves the same.

Each test boots QEMU under TCG (about a minute each).  The Debian root
filesystem is made once with mmdebstrap and cached (EDGEGENAI_STANDIN_CACHE,
default ~/.cache/edgegenai/standin); the tests skip, saying why, when a tool
is missing, unless EDGEGENAI_REQUIRE_BOOT=1 (CI), where that is a failure.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from edgegenai.boot import Expectations, find_image
from edgegenai.boot.report import FAIL, PASS, SKIP
from edgegenai.cli import main
from edgegenai.spec import load_spec

from conftest import skip_unless_ready

BOARDS = ("qemux86-64", "qemuarm64")
# The failure cases boot one board only: what they prove does not depend on it.
FAILURE_BOARD = "qemux86-64"
BOOT_TIMEOUT = 300


@pytest.fixture(scope="session")
def systemd_standin(tmp_path_factory):
    """Build (once per board and variant) the systemd stand-in deploy directory."""
    from standin import systemd
    from standin.debian import DEBIAN_ARCH

    built = {}

    def make(board, variant="good"):
        problems = []
        if shutil.which(board.qemu.system) is None:
            problems.append(f"{board.qemu.system} not installed")
        problems += systemd.missing_tools(DEBIAN_ARCH[board.arch])
        try:
            import gguf  # noqa: F401
        except ImportError:
            problems.append("the gguf package is not installed (pip install '.[test]')")
        skip_unless_ready(problems, "systemd stand-in needs")
        key = (board.name, variant)
        if key not in built:
            out = tmp_path_factory.mktemp(f"systemd-{board.name}-{variant}")
            built[key] = systemd.build(board, out, variant)
        return built[key]

    return make


def _boot(board, deploy, tmp_path):
    from edgegenai import boot
    from edgegenai.catalog import load_catalog

    spec = load_spec(None)
    image = find_image(board, deploy, spec.image.name)
    assert image.disk is not None and image.initramfs is not None
    report = boot.run(board, image, Expectations.from_spec(spec, load_catalog()), tmp_path / "logs",
                      boot_timeout=BOOT_TIMEOUT)
    return report, {r.id: r for r in report.results}


def _problems(report):
    """What did not pass, with why: the message of a failing assertion."""
    return [(r.id, r.status, r.detail) for r in report.results if r.status != PASS]


@pytest.mark.boot
@pytest.mark.parametrize("name", BOARDS)
def test_real_server_passes(tmp_path, catalog, systemd_standin, name, capsys):
    """`edgegenai test` as a user runs it, against systemd and the real llama-server."""
    board = catalog.boards[name]
    deploy = systemd_standin(board)
    junit = tmp_path / "boot.xml"
    main(["test", name, "--image", str(deploy), "--junit", str(junit),
          "--log-dir", str(tmp_path / "logs"), "--boot-timeout", str(BOOT_TIMEOUT)])
    out = capsys.readouterr().out
    lines = {line.split()[1]: line for line in out.splitlines()
             if line.split()[:1] in (["PASS"], ["FAIL"], ["SKIP"])}
    # Only the API-key check is skipped: the default spec keeps the API on loopback without one.
    assert re.search(rf"^{name}: passed: \d+ passed, 0 failed, 1 skipped", out, re.M), out
    assert lines["api-key"].startswith("SKIP")
    assert f"root shell on {board.qemu.console}" in lines["shell"]
    # Tokens from the model, not the busybox stand-in's canned answer.
    assert re.search(r"PASS  chat-completion .* 8 tokens: ", lines["chat-completion"])
    assert "stand-in" not in lines["chat-completion"]
    score = float(re.search(r"exposure ([0-9.]+)", lines["security"]).group(1))
    assert lines["security"].startswith("PASS") and score <= 2.0
    assert re.search(r"PASS  sandbox .* \d+ seccomp filters, no new privileges, no capabilities",
                     lines["sandbox"])
    assert re.search(r"PASS  service-memory .* RSS \d+\.\d MiB", lines["service-memory"])
    assert "no restarts (Restart=on-failure" in lines["service-restarts"]
    assert re.search(r"PASS  metrics .*llamacpp:tokens_predicted_total", lines["metrics"]), lines["metrics"]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.attrib["failures"] == "0"


@pytest.mark.boot
def test_unit_that_breaks_the_server_fails_with_the_journal(tmp_path, catalog, systemd_standin):
    """A drop-in with a memory limit below what the server needs: the journal says so."""
    board = catalog.boards[FAILURE_BOARD]
    report, results = _boot(board, systemd_standin(board, "bad-unit"), tmp_path)
    assert not report.ok
    assert results["shell"].status == PASS, _problems(report)
    active = results["service-active"]
    assert active.status == FAIL
    # Still restarting when the wait ends: caught starting, being stopped, or given up on.
    assert re.match(r"llama-server is (activating|deactivating|failed); journal: ", active.detail), active.detail
    assert "The kernel OOM killer killed some processes in this unit." in active.detail
    assert "Failed with result 'oom-kill'." in active.detail
    assert results["health"].status == SKIP and results["health"].detail == "needs service-active"
    assert results["model-checksum"].status == PASS
    restarts = results["service-restarts"]
    assert restarts.status == FAIL and "(Restart=on-failure, RestartSec=5s)" in restarts.detail


@pytest.mark.boot
def test_model_that_does_not_match_its_manifest_fails(tmp_path, catalog, systemd_standin):
    board = catalog.boards[FAILURE_BOARD]
    report, results = _boot(board, systemd_standin(board, "bad-model"), tmp_path)
    failed = [r.id for r in report.results if r.status == FAIL]
    assert failed == ["model-checksum"], _problems(report)
    assert "manifest says" in results["model-checksum"].detail
    # The server loads the altered file all the same: only the checksum tells.
    assert results["chat-completion"].status == PASS


@pytest.mark.boot
def test_server_that_dies_after_start_shows_the_restart(tmp_path, catalog, systemd_standin):
    """Killed with SIGSEGV once it was up: systemd restarts it, the result says how often and why."""
    board = catalog.boards[FAILURE_BOARD]
    report, results = _boot(board, systemd_standin(board, "crash"), tmp_path)
    assert not report.ok
    assert results["shell"].status == PASS, _problems(report)
    restarts = results["service-restarts"]
    assert restarts.status == FAIL
    assert restarts.detail.startswith(
        "llama-server restarted 1 time(s) (Restart=on-failure, RestartSec=5s); journal: ")
    assert "status=11/SEGV" in restarts.detail
    # Back after the restart: the service answers again.
    assert results["service-active"].status == PASS
    assert results["chat-completion"].status == PASS


LAN_SPEC = """\
boards: [qemux86-64]
engines:
  llama-cpp:
    server:
      host: 0.0.0.0
      auth: api-key
      allow: [10.0.2.0/24]
"""


@pytest.mark.boot
def test_lan_mode_needs_the_key_the_device_made(tmp_path, catalog, systemd_standin):
    """A LAN host with `auth: api-key`: no key in the image, one made on first boot, 401 without it."""
    from standin import systemd
    from edgegenai import boot
    from edgegenai.spec import parse_spec
    import yaml

    board = catalog.boards[FAILURE_BOARD]
    systemd_standin(board)  # the tools are there (or the test skips, saying why)
    spec = parse_spec(yaml.safe_load(LAN_SPEC), catalog)
    deploy = systemd.build(board, tmp_path / "deploy", "good", spec=spec)
    image = find_image(board, deploy, spec.image.name)
    exp = Expectations.from_spec(spec, catalog)
    assert exp.key_file == "/var/lib/edgegenai/llama-server.key"
    listing = subprocess.run(["debugfs", "-R", "ls -l /var/lib", str(image.disk)],
                             capture_output=True, text=True, check=True).stdout
    assert "edgegenai" not in listing  # no key, not even its directory, before the first boot
    report = boot.run(board, image, exp, tmp_path / "logs", boot_timeout=BOOT_TIMEOUT)
    results = {r.id: r for r in report.results}
    assert report.ok, _problems(report)
    assert results["api-key"].status == PASS
    assert "no key and a wrong key: 401" in results["api-key"].detail
    # With the key the API answers: the completion and the metrics went through it.
    assert results["chat-completion"].status == PASS and results["metrics"].status == PASS

"""The boot-test harness: its parts without QEMU, then real boots of the stand-in.

Boot tests (marker `boot`) build the stand-in image of each QEMU board
(tests/standin/) and boot it under QEMU TCG.  They skip, saying why, when
QEMU or apt is missing, unless EDGEGENAI_REQUIRE_BOOT=1 (CI), where a
missing tool is a failure.  The failure cases prove the harness fails as it
should: a kernel panic, a service that never comes up, a wrong checksum.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from edgegenai.boot import Expectations, environment, find_image
from edgegenai.boot.checks import CHECKS, CheckFailed, CheckSkipped, chat_completion, kernel_log, \
    metrics, model_checksum, sandbox, security, service_active, service_memory, service_restarts, \
    system_running
from edgegenai.boot.report import FAIL, PASS, SKIP, Report, Result
from edgegenai.cli import main
from edgegenai.errors import UserError
from edgegenai.spec import load_spec

from conftest import skip_unless_ready

QEMU_BOARDS = ("qemux86-64", "qemuarm64")


# -- without QEMU ------------------------------------------------------------

def _deploy(tmp_path, board, files):
    d = tmp_path / "deploy"
    d.mkdir(exist_ok=True)
    for name in files:
        (d / name.format(m=board.machine, k=board.qemu.kernel_image)).write_bytes(b"x")
    return d


@pytest.mark.parametrize("name", QEMU_BOARDS)
def test_find_image_prefers_the_catalog_rootfs(tmp_path, catalog, name):
    board = catalog.boards[name]
    d = _deploy(tmp_path, board, ["{k}", "edgegenai-image-{m}.rootfs.ext4",
                                  "edgegenai-image-{m}.rootfs.cpio.gz"])
    image = find_image(board, d, "edgegenai-image")
    assert image.kernel.name == board.qemu.kernel_image
    assert image.disk.name == f"edgegenai-image-{board.machine}.rootfs.ext4"
    assert image.initramfs is None


def test_find_image_takes_an_initramfs(tmp_path, catalog):
    board = catalog.boards["qemuarm64"]
    d = _deploy(tmp_path, board, ["{k}", "edgegenai-image-{m}.rootfs.cpio.gz"])
    assert find_image(board, d, "edgegenai-image").initramfs.name.endswith(".cpio.gz")


def test_find_image_takes_an_initramfs_image_beside_the_disk(tmp_path, catalog):
    """A distribution kernel with module-only disk drivers boots the disk through an initramfs."""
    board = catalog.boards["qemux86-64"]
    d = _deploy(tmp_path, board, ["{k}", "edgegenai-image-{m}.rootfs.ext4",
                                  "edgegenai-image-initramfs-{m}.rootfs.cpio.gz"])
    image = find_image(board, d, "edgegenai-image")
    assert image.disk.name == "edgegenai-image-qemux86-64.rootfs.ext4"
    assert image.initramfs.name == "edgegenai-image-initramfs-qemux86-64.rootfs.cpio.gz"
    if shutil.which(board.qemu.system):
        extra = environment.config(board, image, boot_timeout=42, accel="tcg")[
            "targets"]["main"]["drivers"]["QEMUDriver"]["extra_args"]
        assert f"-drive file={image.disk},if=virtio" in extra and f"-initrd {image.initramfs}" in extra


@pytest.mark.parametrize("console", [
    b"root@qemuarm64:~# ",
    b"\x1b[?2004hroot@qemuarm64:~# ",
    # systemd >= 258's profile.d/80-systemd-osc-context.sh around the prompt
    b"\x1b]3008;end=0a14;exit=success\x1b\\\x1b]3008;start=9e23;type=shell;user=root;"
    b"cwd=/root\x1b\\\x1b[?2004hroot@qemuarm64:~# ",
])
def test_prompt_tolerates_terminal_sequences(console):
    import re

    assert re.search(rb"MARKER\s+" + environment.PROMPT.encode(), b"MARKER\r\n" + console)


def test_find_image_names_everything_missing(tmp_path, catalog):
    board = catalog.boards["qemuarm64"]
    d = _deploy(tmp_path, board, [])
    with pytest.raises(UserError) as err:
        find_image(board, d, "edgegenai-image")
    assert err.value.problems == [
        f"{d}: no kernel Image",
        f"{d}: no root filesystem edgegenai-image-qemuarm64.rootfs.ext4 or "
        "edgegenai-image-qemuarm64.ext4 (nor a .cpio.gz initramfs)",
    ]


@pytest.mark.parametrize("name", QEMU_BOARDS)
def test_environment_comes_from_the_catalog(tmp_path, catalog, name, monkeypatch):
    board = catalog.boards[name]
    if shutil.which(board.qemu.system) is None:
        monkeypatch.setattr(environment, "qemu_binary", lambda b: f"/usr/bin/{b.qemu.system}")
    d = _deploy(tmp_path, board, ["{k}", "edgegenai-image-{m}.rootfs.ext4"])
    image = find_image(board, d, "edgegenai-image")
    cfg = environment.config(board, image, boot_timeout=42, accel="tcg")
    qemu = cfg["targets"]["main"]["drivers"]["QEMUDriver"]
    assert (qemu["machine"], qemu["cpu"], qemu["boot_args"]) == (
        board.qemu.machine, board.qemu.cpu, board.qemu.boot_args)
    assert qemu["memory"] == f"{board.memory_mb}M"
    accel = qemu["extra_args"].split("-accel ", 1)[1].split()[0]
    assert accel == (f"tcg,{board.qemu.tcg}" if board.qemu.tcg else "tcg")
    assert f"-drive file={image.disk},if=virtio,format=raw,snapshot=on" in qemu["extra_args"]
    assert cfg["images"]["kernel"] == str(image.kernel)
    assert cfg["tools"]["qemu"].endswith(board.qemu.system)
    assert cfg["targets"]["main"]["drivers"]["ImageBootStrategy"] == {"boot_timeout": 42}


def test_kvm_needs_virtualisation_flags_on_x86(tmp_path, catalog, monkeypatch):
    board = catalog.boards["qemux86-64"]
    monkeypatch.setattr(environment.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(environment.os, "open", lambda *a: 99)
    monkeypatch.setattr(environment.os, "close", lambda fd: None)
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: fpu sse2 avx\n")
    assert not environment.kvm_usable(board, cpuinfo)
    cpuinfo.write_text("flags\t\t: fpu vmx sse2\n")
    assert environment.kvm_usable(board, cpuinfo)
    monkeypatch.setattr(environment.platform, "machine", lambda: "aarch64")
    assert not environment.kvm_usable(board, cpuinfo)  # another architecture: TCG


def _runner(answers):
    """A guest shell that answers each command with a recorded (output, exit code)."""
    def run(command, timeout):
        for prefix, answer in answers.items():
            if command.startswith(prefix):
                return answer
        raise AssertionError(f"unexpected command {command}")
    return run


EXP = Expectations(model_name="m", model_file="m.gguf")
MANIFEST = json.dumps({"name": "m", "file": "m.gguf", "path": "/usr/share/edgegenai/models/m/m.gguf",
                       "sha256": "a" * 64, "size": 5}, indent=2).splitlines()


@pytest.mark.parametrize("answers, verdict", [
    ({"systemctl is-system-running": (["running"], 0)}, "running"),
    ({"systemctl is-system-running": (["degraded"], 1),
      "systemctl list-units --failed": (["x.service loaded failed failed X"], 0)},
     "system is degraded; failed: x.service"),
])
def test_system_running(answers, verdict):
    if verdict == "running":
        assert system_running(_runner(answers), EXP) == verdict
    else:
        with pytest.raises(CheckFailed, match=verdict):
            system_running(_runner(answers), EXP)


@pytest.mark.parametrize("output, code, error", [
    (['{"choices":[{"message":{"content":"Hi"}}],"usage":{"completion_tokens":2}}'], 0, None),
    (["[ 12.3] some kernel line", '{"choices":[{"message":{"content":"Hi"}}],'
      '"usage":{"completion_tokens":2}}'], 0, None),
    (['{"choices":[{"message":{"content":""}}],"usage":{"completion_tokens":0}}'], 0, "empty"),
    (["curl: (22) The requested URL returned error: 503"], 22, "curl exited 22"),
    (["<html>"], 0, "not a chat completion"),
])
def test_chat_completion(output, code, error):
    run = _runner({"curl -sS --fail": (output, code)})
    if error is None:
        assert chat_completion(run, EXP) == "2 tokens: 'Hi'"
    else:
        with pytest.raises(CheckFailed, match=error):
            chat_completion(run, EXP)


@pytest.mark.parametrize("sha_line, size, error", [
    ("a" * 64 + "  /usr/share/edgegenai/models/m/m.gguf", "5", None),
    ("b" * 64 + "  /usr/share/edgegenai/models/m/m.gguf", "5", "sha256 b+, manifest says a+"),
    ("a" * 64 + "  /usr/share/edgegenai/models/m/m.gguf", "6", "6 bytes, manifest says 5"),
])
def test_model_checksum(sha_line, size, error):
    run = _runner({"cat /usr/share/edgegenai/models/m/manifest.json": (MANIFEST, 0),
                   "sha256sum": ([sha_line, size], 0)})
    if error is None:
        assert model_checksum(run, EXP).startswith("sha256 aaaaaaaaaaaaaaaa")
    else:
        with pytest.raises(CheckFailed, match=error):
            model_checksum(run, EXP)


def test_service_active_says_why_from_the_journal():
    run = _runner({"for i in": (["activating"], 0),
                   "journalctl -u llama-server.service": (
                       ["Starting llama-server.service...", "srv load_model: loading model",
                        "llama-server.service: Main process exited, code=exited, status=1/FAILURE",
                        "llama-server.service: Failed with result 'exit-code'."], 0)})
    with pytest.raises(CheckFailed) as err:
        service_active(run, EXP)
    assert str(err.value) == (
        "llama-server is activating; journal: llama-server.service: Main process exited, "
        "code=exited, status=1/FAILURE | llama-server.service: Failed with result 'exit-code'.")


@pytest.mark.parametrize("states, seen", [
    (["deactivating", "activating", "activating", "active"], "active"),  # a restart after a crash
    (["reloading", "active"], "active"),
    (["activating", "failed"], "failed"),
    (["inactive", "active"], "inactive"),
])
def test_service_active_waits_out_a_restart(tmp_path, states, seen):
    """The wait loop, run by a real shell against a systemctl that walks through `states`."""
    if shutil.which("sh") is None:
        pytest.skip("no sh")
    (tmp_path / "states").write_text("\n".join(states) + "\n")
    (tmp_path / "systemctl").write_text(
        '#!/bin/sh\nhead -n1 "$STATES"; sed -i 1d "$STATES"; [ -s "$STATES" ] || echo "' + states[-1]
        + '" > "$STATES"\n')
    (tmp_path / "sleep").write_text("#!/bin/sh\n")
    for tool in ("systemctl", "sleep"):
        (tmp_path / tool).chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "STATES": str(tmp_path / "states")}

    def run(command, timeout):
        if command.startswith("journalctl"):
            return ["llama-server.service: Failed with result 'exit-code'."], 0
        out = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env, timeout=timeout)
        return out.stdout.splitlines(), out.returncode

    if seen == "active":
        assert service_active(run, EXP) == "llama-server active"
    else:
        with pytest.raises(CheckFailed, match=f"^llama-server is {seen}; journal: "):
            service_active(run, EXP)


def test_chat_completion_sends_the_api_key():
    seen = []

    def run(command, timeout):
        seen.append(command)
        return ['{"choices":[{"message":{"content":"Hi"}}],"usage":{"completion_tokens":2}}'], 0

    keyed = Expectations(model_name="m", model_file="m.gguf", key_file="/var/lib/edgegenai/k.key")
    chat_completion(run, keyed)
    assert '-H "Authorization: Bearer $(cat /var/lib/edgegenai/k.key)"' in seen[0]
    chat_completion(run, EXP)
    assert "Authorization" not in seen[1]


def test_expectations_know_the_key_file(default_raw):
    from edgegenai.catalog import load_catalog
    from edgegenai.spec import Spec

    assert Expectations.from_spec(Spec.model_validate(default_raw), load_catalog()).key_file is None
    default_raw["engines"]["llama-cpp"]["server"]["auth"] = "api-key"
    keyed = Expectations.from_spec(Spec.model_validate(default_raw), load_catalog())
    assert keyed.key_file and keyed.key_file.startswith("/")


METRICS_OFF = {"curl -sS --max-time 30 -o /tmp/edgegenai-metrics": (["501"], 0)}
CHAT = {"curl -sS --fail": (['{"choices":[{"message":{"content":"Hi"}}],'
                             '"usage":{"completion_tokens":8}}'], 0)}


def test_metrics_skip_without_the_endpoint():
    with pytest.raises(CheckSkipped, match="no metrics endpoint"):
        metrics(_runner(METRICS_OFF), EXP)


def test_metrics_counter_must_move():
    values = iter(["llamacpp:tokens_predicted_total 16", "llamacpp:tokens_predicted_total 24"])
    answers = {"curl -sS --max-time 30 -o": (["200"], 0), **CHAT}

    def run(command, timeout):
        if command.startswith("grep -E '^llamacpp:tokens_predicted_total '"):
            return [next(values)], 0
        return _runner(answers)(command, timeout)

    assert metrics(run, EXP) == "llamacpp:tokens_predicted_total 16 -> 24"
    values = iter(["llamacpp:tokens_predicted_total 16"] * 2)
    with pytest.raises(CheckFailed, match="did not move"):
        metrics(run, EXP)


ANALYZE = "SYSTEMD_URLIFY=0 systemd-analyze security"


@pytest.mark.parametrize("lines, verdict", [
    (["✗ PrivateNetwork=   Service has access to the host's network   0.5",
      "→ Overall exposure level for llama-server.service: 0.9 SAFE 😀"], "exposure 0.9 SAFE"),
    (["✗ PrivateNetwork=   Service has access to the host's network   0.5",
      "✗ User=/DynamicUser=   Service runs as root user   0.4",
      "→ Overall exposure level for llama-server.service: 9.6 UNSAFE 😨"],
     "exposure 9.6 UNSAFE, above 2.0; weighing most: PrivateNetwork= 0.5, User=/DynamicUser= 0.4"),
    ([], "printed no score"),
])
def test_security_score(lines, verdict):
    run = _runner({"command -v systemd-analyze": (["/usr/bin/systemd-analyze"], 0),
                   ANALYZE: (lines, 0)})
    if verdict.startswith("exposure 0.9"):
        assert security(run, EXP).startswith(verdict)
    else:
        with pytest.raises(CheckFailed, match=verdict.replace("(", r"\(").replace(")", r"\)")):
            security(run, EXP)


def test_security_skips_without_systemd_analyze():
    with pytest.raises(CheckSkipped, match="systemd-analyze not on the image"):
        security(_runner({"command -v systemd-analyze": ([], 1)}), EXP)


def test_service_memory_reports_rss_and_cgroup():
    run = _runner({"systemctl show": (["MainPID=262", "MemoryCurrent=39426048",
                                       "MemoryPeak=[not set]"], 0),
                   "grep -E '^(VmRSS|VmHWM):' /proc/262/status": (
                       ["VmHWM:\t   43929 kB", "VmRSS:\t   43929 kB"], 0)})
    assert service_memory(run, EXP) == "pid 262: RSS 42.9 MiB, peak RSS 42.9 MiB, cgroup 37.6 MiB"


def test_service_restarts_shows_the_policy_and_the_journal():
    run = _runner({"systemctl show": (["NRestarts=1", "Restart=on-failure", "RestartUSec=5s"], 0),
                   "journalctl -u": (["llama-server.service: Main process exited, code=killed, "
                                      "status=11/SEGV"], 0)})
    with pytest.raises(CheckFailed) as err:
        service_restarts(run, EXP)
    assert str(err.value) == ("llama-server restarted 1 time(s) (Restart=on-failure, "
                              "RestartSec=5s); journal: llama-server.service: Main process "
                              "exited, code=killed, status=11/SEGV")


def _sandbox_runner(seccomp, journal=()):
    return _runner({"systemctl show": (["MainPID=7", "NoNewPrivileges=yes", "CapabilityBoundingSet=",
                                        "IPAddressDeny=0.0.0.0/0 ::/0",
                                        "SystemCallFilter=read write", "MemoryDenyWriteExecute=yes"],
                                       0),
                    "grep -E '^(NoNewPrivs": (["NoNewPrivs:\t1", f"Seccomp:\t{seccomp}",
                                              "Seccomp_filters:\t31", "CapBnd:\t0000000000000000"],
                                             0),
                    "journalctl -b": (list(journal), 0)})


def test_sandbox_in_force():
    assert sandbox(_sandbox_runner(2), EXP) == (
        "31 seccomp filters, no new privileges, no capabilities, IPAddressDeny= set, no systemd warning")


def test_sandbox_without_libseccomp_fails():
    why = ("/usr/lib/systemd/system/x.service:5: System call bpf cannot be resolved as libseccomp "
           "is not available, ignoring: Operation not supported")
    with pytest.raises(CheckFailed) as err:
        sandbox(_sandbox_runner(0, [why]), EXP)
    assert "no seccomp filter on pid 7 (Seccomp: 0) although the unit sets SystemCallFilter" in str(
        err.value)
    assert "libseccomp is not available" in str(err.value)


def test_kernel_log_finds_an_oops():
    run = _runner({"journalctl -k": (["ok", "Unable to handle kernel NULL pointer dereference",
                                      "Call trace:"], 0)})
    with pytest.raises(CheckFailed, match="2 line.* first: Unable to handle kernel NULL"):
        kernel_log(run, EXP)


def test_junit_report(tmp_path):
    report = Report("qemuarm64", [Result("shell", "t", PASS, 1.5, "ok"),
                                  Result("health", "t", FAIL, 0.2, "no answer"),
                                  Result("chat-completion", "t", SKIP, 0.0, "needs health")],
                    console_log=tmp_path / "c.log")
    root = ET.fromstring(report.junit().split("?>", 1)[1])
    suite = root.find("testsuite")
    assert suite.attrib["tests"] == "3" and suite.attrib["failures"] == "1"
    assert suite.attrib["skipped"] == "1"
    assert [c.attrib["name"] for c in suite.iter("testcase")] == ["shell", "health", "chat-completion"]
    assert suite.find("testcase[@name='health']/failure").attrib["message"] == "no answer"
    assert not report.ok
    assert report.summary() == "qemuarm64: FAILED: 1 passed, 1 failed, 1 skipped in 1.7 s"


def test_cli_refuses_a_board_without_qemu(capsys, catalog):
    real = [b.name for b in catalog.boards.values() if b.qemu is None]
    with pytest.raises(SystemExit) as exit_:
        main(["test", real[0] if real else "no-such-board"])
    assert exit_.value.code == 2
    assert "boot tests run on: qemuarm64, qemux86-64" in capsys.readouterr().err


# -- real boots of the stand-in ------------------------------------------------

@pytest.fixture(scope="session")
def standin(tmp_path_factory):
    """Build (once per board and variant) the stand-in deploy directory."""
    from standin import build as standin_build, debian

    built = {}

    def make(board, variant="good"):
        problems = []
        if shutil.which(board.qemu.system) is None:
            problems.append(f"{board.qemu.system} not installed")
        problems += [f"{t} not installed" for t in debian.missing_tools()]
        skip_unless_ready(problems, "stand-in boot needs QEMU and apt")
        key = (board.name, variant)
        if key not in built:
            out = tmp_path_factory.mktemp(f"standin-{board.name}-{variant}")
            built[key] = standin_build.build(board, out, variant)
        return built[key]

    return make


def _boot(board, deploy, tmp_path):
    from edgegenai import boot
    from edgegenai.catalog import load_catalog

    spec = load_spec(None)
    image = find_image(board, deploy, spec.image.name)
    return boot.run(board, image, Expectations.from_spec(spec, load_catalog()), tmp_path / "logs",
                    boot_timeout=120)


def _verdicts(report):
    return {r.id: r.status for r in report.results}


@pytest.mark.boot
@pytest.mark.parametrize("name", QEMU_BOARDS)
def test_standin_boots_and_passes(tmp_path, catalog, standin, name, capsys):
    """The whole command, as CI would run it on a real image."""
    board = catalog.boards[name]
    deploy = standin(board)
    junit = tmp_path / "boot.xml"
    main(["test", name, "--image", str(deploy), "--junit", str(junit),
          "--log-dir", str(tmp_path / "logs"), "--boot-timeout", "120"])  # returns: success
    out = capsys.readouterr().out
    # No systemd-analyze and no metrics endpoint in the busybox stand-in, and no API key on
    # loopback: skipped, not failed.
    assert f"{name}: passed: 11 passed, 0 failed, 3 skipped" in out
    assert "SKIP  security" in out and "systemd-analyze not on the image" in out
    assert "PASS  shell" in out and f"root shell on {board.qemu.console}" in out
    assert "tokens: 'Hello from the stand-in.'" in out
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.attrib["tests"] == "14" and suite.attrib["failures"] == "0"
    assert not (tmp_path / "logs").exists()  # nothing kept when everything passed


@pytest.mark.boot
def test_kernel_panic_fails_at_once(tmp_path, catalog, standin, capsys):
    board = catalog.boards["qemuarm64"]
    deploy = standin(board, "panic")
    with pytest.raises(SystemExit) as exit_:
        main(["test", board.name, "--image", str(deploy), "--log-dir", str(tmp_path / "logs"),
              "--boot-timeout", "120"])
    out = capsys.readouterr().out
    assert exit_.value.code == 1
    assert "FAIL  shell" in out
    assert "Kernel panic - not syncing: Attempted to kill init!" in out
    log = tmp_path / "logs" / "qemuarm64-console.log"
    assert f"console log: {log}" in out
    assert "Kernel panic - not syncing" in log.read_text(errors="replace")
    shell = next(line for line in out.splitlines() if line.startswith("FAIL  shell"))
    assert float(shell.split()[2]) < 60  # failed on the panic, not on the boot timeout


@pytest.mark.boot
def test_service_that_never_comes_up_fails(tmp_path, catalog, standin):
    board = catalog.boards["qemuarm64"]
    report = _boot(board, standin(board, "service-down"), tmp_path)
    assert _verdicts(report) == {
        "shell": PASS, "system-running": FAIL, "service-active": FAIL, "health": SKIP,
        "chat-completion": SKIP, "api-key": SKIP, "metrics": SKIP, "service-memory": SKIP,
        "service-restarts": PASS, "security": SKIP, "sandbox": SKIP, "model-checksum": PASS,
        "kernel-log": PASS, "failed-units": FAIL}
    details = {r.id: r.detail for r in report.results}
    assert details["system-running"] == "system is degraded; failed: llama-server.service"
    assert details["service-active"] == ("llama-server is failed; journal: "
                                         "llama-server: error: failed to bind")
    assert details["health"] == "needs service-active"


@pytest.mark.boot
def test_wrong_model_checksum_fails(tmp_path, catalog, standin):
    board = catalog.boards["qemuarm64"]
    report = _boot(board, standin(board, "bad-checksum"), tmp_path)
    failed = [r for r in report.results if r.status == FAIL]
    assert [r.id for r in failed] == ["model-checksum"]
    assert "manifest says 9165d8b6" in failed[0].detail
    assert not report.ok


def test_checks_have_unique_ids():
    ids = [c.id for c in CHECKS]
    assert len(ids) == len(set(ids)) and "shell" not in ids

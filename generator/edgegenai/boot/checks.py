"""What a booted edgegenai image must show, checked through its console.

Each check runs commands the image itself has (systemctl, journalctl,
curl, sha256sum, llama-server-health) in the root shell and turns their
output into a verdict with a one-line reason.  The API is called from
inside the guest with curl rather than through a forwarded port: the
service listens on loopback only, and the test should see the device as it
ships, not open its API to the network to be tested.

The same checks ship in the layer as oeqa runtime cases, so
`bitbake <image> -c testimage` asks the same questions.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from .. import engines
from ..catalog import Catalog
from ..engines import MODEL_DIR
from ..spec import Spec

# Kernel log lines that mean the kernel hit a bug, even if the boot went on.
KERNEL_TROUBLE = re.compile(
    r"Oops|BUG:|Kernel panic|general protection fault|Unable to handle kernel|"
    r"WARNING: CPU: \d+ PID|Call [Tt]race:")


@dataclass(frozen=True)
class Expectations:
    """What the image promises: its service, where its API and model are."""

    model_name: str
    model_file: str
    service: str = "llama-server"
    host: str = "127.0.0.1"
    port: int = 8080
    model_dir: str = MODEL_DIR
    max_tokens: int = 8
    # With `auth: api-key`: the file on the device holding the key clients must send.
    key_file: Optional[str] = None

    @classmethod
    def from_spec(cls, spec: Spec, catalog: Catalog, engine: str = "llama-cpp") -> "Expectations":
        model = spec.served_model(engine, catalog)
        server = spec.engines[engine].server
        # A server on every address still answers on loopback.
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "localhost": "127.0.0.1"}.get(server.host,
                                                                                   server.host)
        entry = catalog.engines[engine]
        key_file = engines.key_file(entry) if server.auth == "api-key" else None
        return cls(model_name=model.name, model_file=model.filename, service=entry.service.name,
                   host=host, port=server.port, key_file=key_file)

    @property
    def auth_header(self) -> str:
        """curl's option sending the device's API key, read on the device; empty without one."""
        if not self.key_file:
            return ""
        return f' -H "Authorization: Bearer $(cat {shlex.quote(self.key_file)})"'

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class CheckFailed(Exception):
    """A check's verdict is "fail"; the message is the reason, in one line."""


class CheckSkipped(Exception):
    """The check cannot be made on this image (a tool or endpoint it does not ship); says why."""


# A shell runner: command, timeout -> (output lines, exit code).
Run = Callable[[str, float], Tuple[list, int]]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    function: Callable[[Run, Expectations], str]
    needs: Tuple[str, ...] = ()


def system_running(run: Run, exp: Expectations) -> str:
    out, _ = run("systemctl is-system-running --wait", 900)
    state = " ".join(out).strip() or "no answer"
    if state != "running":
        failed, _ = run("systemctl list-units --failed --no-legend --plain", 30)
        units = ", ".join(line.split()[0] for line in failed if line.strip())
        raise CheckFailed(f"system is {state}" + (f"; failed: {units}" if units else ""))
    return "running"


# Journal lines of a unit that say why it stopped: systemd's own verdicts and
# the program's errors.
WHY = re.compile(r"error|fail|killed|exited|denied|not permitted|oom|status=|restart|"
                 r"segfault|core dump|cannot|unable|abort", re.I)
# How long a service still "activating" after boot (a restart under way) is waited for.
ACTIVATING_WAIT = 30


def journal_why(run: Run, unit: str, lines: int = 6) -> str:
    """The last journal lines of `unit` in this boot that say why it is not running, joined."""
    out, _ = run(f"journalctl -u {shlex.quote(unit)} -b --no-pager -o cat -n 200", 60)
    text = [line.strip() for line in out if line.strip()]
    why = [line for line in text if WHY.search(line)] or text
    return " | ".join(line[:200] for line in why[-lines:]) or "no journal lines"


def unit_properties(run: Run, unit: str, *names: str) -> dict:
    args = " ".join(f"-p {n}" for n in names)
    out, code = run(f"systemctl show {args} {shlex.quote(unit)}", 30)
    if code != 0:
        raise CheckFailed(f"systemctl show {unit} exited {code}: {' '.join(out).strip()[:200]}")
    return dict(line.strip().split("=", 1) for line in out if "=" in line)


def service_active(run: Run, exp: Expectations) -> str:
    # After boot, "activating" or "deactivating" is a restart under way (a
    # crash, then RestartSec, then the start again): give it time to come back.
    unit = shlex.quote(exp.service)
    out, _ = run(f"for i in $(seq {ACTIVATING_WAIT}); do s=$(systemctl is-active {unit}); "
                 f'case "$s" in activating|deactivating|reloading) sleep 1 ;; *) break ;; esac; '
                 f'done; echo "$s"',
                 ACTIVATING_WAIT + 60)
    state = (out[-1].strip() if out else "") or "no answer"
    if state != "active":
        raise CheckFailed(f"{exp.service} is {state}; journal: "
                          f"{journal_why(run, exp.service + '.service')}")
    return f"{exp.service} active"


def health(run: Run, exp: Expectations) -> str:
    out, code = run("llama-server-health --wait 30", 60)
    if code != 0:
        raise CheckFailed(" ".join(out).strip() or f"llama-server-health exited {code}")
    return f"{exp.url}/health answers"


def _complete(run: Run, exp: Expectations) -> Tuple[list, int]:
    request = json.dumps({"messages": [{"role": "user", "content": "Say hello."}],
                          "max_tokens": exp.max_tokens}, separators=(",", ":"))
    return run(f"curl -sS --fail --max-time 600 -H 'Content-Type: application/json'{exp.auth_header} "
               f"-d {shlex.quote(request)} {exp.url}/v1/chat/completions", 660)


def chat_completion(run: Run, exp: Expectations) -> str:
    out, code = _complete(run, exp)
    text = "\n".join(out)
    if code != 0:
        raise CheckFailed(f"curl exited {code}: {text.strip()[:200]}")
    try:
        start = text.index("{")
        answer, _ = json.JSONDecoder().raw_decode(text[start:])
        content = answer["choices"][0]["message"]["content"]
        tokens = int(answer.get("usage", {}).get("completion_tokens", 0))
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise CheckFailed(f"not a chat completion: {text.strip()[:200]}") from exc
    if not content or tokens <= 0:
        raise CheckFailed(f"empty completion ({tokens} tokens)")
    return f"{tokens} tokens: {content.strip()[:60]!r}"


def api_key(run: Run, exp: Expectations) -> str:
    """With `auth: api-key`: the device made its key, root alone reads it, the API needs it."""
    if not exp.key_file:
        raise CheckSkipped("the API listens on loopback without a key")
    key = shlex.quote(exp.key_file)
    out, code = run(f"stat -c '%a %U' {key} && grep -c -E '^[0-9a-f]{{64}}$' {key}", 30)
    if code != 0 or len(out) < 2 or out[0].strip() != "600 root" or out[1].strip() != "1":
        raise CheckFailed(f"{exp.key_file}: not a root-only file holding one key: "
                          f"{' '.join(out).strip()[:120]}")
    codes = []
    for header in ("", " -H 'Authorization: Bearer not-the-key'"):
        out, _ = run(f"curl -sS -o /dev/null -w '%{{http_code}}' --max-time 30{header} "
                     f"-H 'Content-Type: application/json' -d '{{}}' {exp.url}/v1/chat/completions", 60)
        codes.append((out[-1].strip() if out else "")[-3:])
    if codes != ["401", "401"]:
        raise CheckFailed(f"a request without the key got HTTP {codes[0]}, with a wrong key {codes[1]}; "
                          "expected 401")
    return f"key made on the device ({exp.key_file}, 0600 root); no key and a wrong key: 401"


METRIC = "llamacpp:tokens_predicted_total"
METRICS_FILE = "/tmp/edgegenai-metrics"


def _metric(run: Run, exp: Expectations) -> Optional[float]:
    """The counter's value, or None when the server has no metrics endpoint (HTTP 404/501)."""
    out, code = run(f"curl -sS --max-time 30 -o {METRICS_FILE} -w '%{{http_code}}'"
                    f"{exp.auth_header} {exp.url}/metrics", 60)
    status = out[-1].strip()[-3:] if out else ""
    if code != 0 or not status.isdigit():
        raise CheckFailed(f"curl {exp.url}/metrics exited {code}: {' '.join(out).strip()[:200]}")
    if status in ("404", "501"):
        return None
    if status != "200":
        raise CheckFailed(f"{exp.url}/metrics answered HTTP {status}")
    out, _ = run(f"grep -E '^{METRIC} ' {METRICS_FILE}", 30)
    try:
        return float(out[0].split()[1])
    except (IndexError, ValueError) as exc:
        raise CheckFailed(f"{exp.url}/metrics has no {METRIC}") from exc


def metrics(run: Run, exp: Expectations) -> str:
    before = _metric(run, exp)
    if before is None:
        raise CheckSkipped(f"no metrics endpoint ({exp.url}/metrics: not enabled; "
                           "the unit runs llama-server without --metrics)")
    out, code = _complete(run, exp)
    if code != 0:
        raise CheckFailed(f"completion for the metrics check failed: curl exited {code}")
    after = _metric(run, exp)
    if after is None or after <= before:
        raise CheckFailed(f"{METRIC} did not move over a completion: {before:g} -> {after}")
    return f"{METRIC} {before:g} -> {after:g}"


EXPOSURE_LIMIT = 2.0
EXPOSURE = re.compile(r"Overall exposure level for \S+: ([0-9.]+) (\S+)")


def security(run: Run, exp: Expectations) -> str:
    out, code = run("command -v systemd-analyze", 30)
    if code != 0:
        raise CheckSkipped("systemd-analyze not on the image")
    unit = shlex.quote(exp.service + ".service")
    # No hyperlinks (OSC 8) around the directive names; only the verdict and what is unset.
    out, code = run(f"SYSTEMD_URLIFY=0 systemd-analyze security --no-pager {unit} 2>&1 "
                    "| grep -E 'Overall exposure|✗|rror'", 120)
    match = next((m for m in map(EXPOSURE.search, out) if m), None)
    if match is None:
        raise CheckFailed("systemd-analyze security printed no score: "
                          + (" ".join(out).strip()[-200:] or "no output (is libseccomp on the image?)"))
    score, label = float(match.group(1)), match.group(2)
    if score > EXPOSURE_LIMIT:
        unset = sorted((line.split() for line in out if line.lstrip().startswith("✗")),
                       key=lambda words: -float(words[-1]) if _number(words[-1]) else 0)
        worst = [f"{words[1]} {words[-1]}" for words in unset[:5]]
        raise CheckFailed(f"exposure {score:.1f} {label}, above {EXPOSURE_LIMIT:.1f}; weighing most: "
                          + ", ".join(worst))
    return f"exposure {score:.1f} {label} (limit {EXPOSURE_LIMIT:.1f})"


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# What the live process must show when its unit asks for it, and what else
# systemd says in the journal when it could not do what the unit asks.
SECCOMP_DIRECTIVES = ("SystemCallFilter", "RestrictAddressFamilies", "MemoryDenyWriteExecute",
                      "SystemCallArchitectures", "RestrictNamespaces", "LockPersonality",
                      "RestrictRealtime", "RestrictSUIDSGID")
NOT_IN_FORCE = re.compile(r"libseccomp is not available|does not support BPF/cgroup firewalling|"
                          r"cgroup BPF features disabled|BPF LSM.*not supported|"
                          r"Proceeding WITHOUT", re.I)


def sandbox(run: Run, exp: Expectations) -> str:
    names = ("MainPID", "NoNewPrivileges", "CapabilityBoundingSet", "IPAddressDeny",
             *SECCOMP_DIRECTIVES)
    props = unit_properties(run, exp.service, *names)
    pid = props.get("MainPID", "0")
    if not pid.isdigit() or pid == "0":
        raise CheckFailed(f"{exp.service} has no main process")
    out, code = run(f"grep -E '^(NoNewPrivs|Seccomp|Seccomp_filters|CapBnd|CapEff):' "
                    f"/proc/{pid}/status", 30)
    status = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out if ":" in line)}
    if code != 0 or "NoNewPrivs" not in status:
        raise CheckFailed(f"cannot read /proc/{pid}/status")
    problems, shown = [], []
    wants_seccomp = [n for n in SECCOMP_DIRECTIVES
                     if props.get(n, "") not in ("", "no", "[not set]")]
    if wants_seccomp:
        if status.get("Seccomp") != "2":
            problems.append(f"no seccomp filter on pid {pid} (Seccomp: {status.get('Seccomp')}) "
                            f"although the unit sets {', '.join(wants_seccomp[:3])}")
        else:
            shown.append(f"{status.get('Seccomp_filters', '?')} seccomp filters")
    if props.get("NoNewPrivileges") == "yes":
        if status.get("NoNewPrivs") != "1":
            problems.append("NoNewPrivileges=yes but the process may gain privileges")
        else:
            shown.append("no new privileges")
    if props.get("CapabilityBoundingSet", "x") == "":
        if int(status.get("CapBnd", "1") or "1", 16) != 0:
            problems.append(f"CapabilityBoundingSet= empty but CapBnd {status.get('CapBnd')}")
        else:
            shown.append("no capabilities")
    journal, _ = run("journalctl -b --no-pager -o cat | grep -iE "
                     + shlex.quote(NOT_IN_FORCE.pattern) + " | head -n 5", 60)
    said = [line.strip() for line in journal if NOT_IN_FORCE.search(line)]
    if said:
        problems.append("systemd: " + " | ".join(line[:160] for line in said))
    elif props.get("IPAddressDeny"):
        shown.append("IPAddressDeny= set, no systemd warning")
    if problems:
        raise CheckFailed("sandbox not in force: " + "; ".join(problems))
    return ", ".join(shown) or "the unit asks for no sandbox"


def _mib(value: str) -> Optional[float]:
    return int(value) / 2**20 if value.isdigit() else None


def service_memory(run: Run, exp: Expectations) -> str:
    props = unit_properties(run, exp.service, "MainPID", "MemoryCurrent", "MemoryPeak")
    pid = props.get("MainPID", "0")
    if not pid.isdigit() or pid == "0":
        raise CheckFailed(f"{exp.service} has no main process")
    out, code = run(f"grep -E '^(VmRSS|VmHWM):' /proc/{pid}/status", 30)
    fields = dict(line.split(":", 1) for line in out if ":" in line)
    rss = fields.get("VmRSS", "").split()
    if code != 0 or not rss or not rss[0].isdigit():
        raise CheckFailed(f"cannot read /proc/{pid}/status")
    parts = [f"RSS {int(rss[0]) / 1024:.1f} MiB"]
    hwm = fields.get("VmHWM", "").split()
    if hwm and hwm[0].isdigit():
        parts.append(f"peak RSS {int(hwm[0]) / 1024:.1f} MiB")
    for name, label in (("MemoryCurrent", "cgroup"), ("MemoryPeak", "cgroup peak")):
        mib = _mib(props.get(name, ""))
        if mib is not None:
            parts.append(f"{label} {mib:.1f} MiB")
    return f"pid {pid}: " + ", ".join(parts)


def service_restarts(run: Run, exp: Expectations) -> str:
    props = unit_properties(run, exp.service, "NRestarts", "Restart", "RestartUSec")
    restarts = props.get("NRestarts", "")
    policy = f"Restart={props.get('Restart', '?')}, RestartSec={props.get('RestartUSec', '?')}"
    if not restarts.isdigit():
        raise CheckFailed(f"systemctl show has no NRestarts for {exp.service}")
    if int(restarts):
        raise CheckFailed(f"{exp.service} restarted {restarts} time(s) ({policy}); journal: "
                          f"{journal_why(run, exp.service + '.service')}")
    return f"no restarts ({policy})"


def model_checksum(run: Run, exp: Expectations) -> str:
    manifest_path = f"{exp.model_dir}/{exp.model_name}/manifest.json"
    out, code = run(f"cat {shlex.quote(manifest_path)}", 30)
    if code != 0:
        raise CheckFailed(f"no manifest {manifest_path}")
    try:
        manifest = json.loads("\n".join(out))
        path, want, size = manifest["path"], manifest["sha256"], int(manifest["size"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckFailed(f"{manifest_path}: not a model manifest") from exc
    if manifest.get("name") != exp.model_name:
        raise CheckFailed(f"{manifest_path} names {manifest.get('name')!r}, not {exp.model_name}")
    out, code = run(f"sha256sum {shlex.quote(path)} && stat -c %s {shlex.quote(path)}", 900)
    if code != 0 or len(out) < 2:
        raise CheckFailed(f"cannot read {path}: {' '.join(out).strip()[:200]}")
    got, got_size = out[0].split()[0], int(out[1].strip())
    if got != want:
        raise CheckFailed(f"{path}: sha256 {got}, manifest says {want}")
    if got_size != size:
        raise CheckFailed(f"{path}: {got_size} bytes, manifest says {size}")
    return f"sha256 {got[:16]}… matches ({size} bytes)"


def kernel_log(run: Run, exp: Expectations) -> str:
    out, code = run("journalctl -k -b --no-pager -o cat", 120)
    if code != 0:
        raise CheckFailed(f"journalctl exited {code}")
    trouble = [line.strip() for line in out if KERNEL_TROUBLE.search(line)]
    if trouble:
        raise CheckFailed(f"{len(trouble)} line(s) of kernel trouble, first: {trouble[0][:160]}")
    return f"{len(out)} lines, no oops"


def failed_units(run: Run, exp: Expectations) -> str:
    out, _ = run("systemctl list-units --failed --no-legend --plain", 30)
    units = [line.split()[0] for line in out if line.strip()]
    if units:
        raise CheckFailed(f"failed: {', '.join(units)}")
    return "none failed"


SHELL = "shell"
CHECKS: Tuple[Check, ...] = (
    Check("system-running", "systemd reports the system running", system_running),
    Check("service-active", "the inference service is active", service_active),
    Check("health", "its health endpoint answers", health, needs=("service-active",)),
    Check("chat-completion", "a chat completion returns tokens", chat_completion,
          needs=("service-active",)),
    Check("api-key", "the API refuses a request without the device's key", api_key,
          needs=("service-active",)),
    Check("metrics", "its token counter moves over a completion", metrics,
          needs=("service-active",)),
    Check("service-memory", "the service's memory use after load", service_memory,
          needs=("service-active",)),
    Check("service-restarts", "the service has not restarted", service_restarts),
    Check("security", "the live unit's exposure score is 2.0 or better", security),
    Check("sandbox", "the unit's sandbox is in force on the live process", sandbox,
          needs=("service-active",)),
    Check("model-checksum", "the model file matches its manifest", model_checksum),
    Check("kernel-log", "no kernel oops in the journal", kernel_log),
    Check("failed-units", "no failed units", failed_units),
)


def find(check_id: str) -> Optional[Check]:
    return next((c for c in CHECKS if c.id == check_id), None)

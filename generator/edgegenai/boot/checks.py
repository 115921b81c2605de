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

from ..catalog import Catalog
from ..spec import Spec

# Where the model class installs models (MODEL_DIR in edgegenai_model.bbclass).
MODEL_DIR = "/usr/share/edgegenai/models"
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

    @classmethod
    def from_spec(cls, spec: Spec, catalog: Catalog, engine: str = "llama-cpp") -> "Expectations":
        model = spec.served_model(engine, catalog)
        server = spec.engines[engine].server
        # A server on every address still answers on loopback.
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "localhost": "127.0.0.1"}.get(server.host,
                                                                                   server.host)
        return cls(model_name=model.name, model_file=model.filename, host=host, port=server.port)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class CheckFailed(Exception):
    """A check's verdict is "fail"; the message is the reason, in one line."""


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


def service_active(run: Run, exp: Expectations) -> str:
    out, _ = run(f"systemctl is-active {shlex.quote(exp.service)}", 60)
    state = " ".join(out).strip() or "no answer"
    if state != "active":
        raise CheckFailed(f"{exp.service} is {state}")
    return f"{exp.service} active"


def health(run: Run, exp: Expectations) -> str:
    out, code = run("llama-server-health --wait 30", 60)
    if code != 0:
        raise CheckFailed(" ".join(out).strip() or f"llama-server-health exited {code}")
    return f"{exp.url}/health answers"


def chat_completion(run: Run, exp: Expectations) -> str:
    request = json.dumps({"messages": [{"role": "user", "content": "Say hello."}],
                          "max_tokens": exp.max_tokens}, separators=(",", ":"))
    out, code = run(f"curl -sS --fail --max-time 600 -H 'Content-Type: application/json' "
                    f"-d {shlex.quote(request)} {exp.url}/v1/chat/completions", 660)
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
    Check("model-checksum", "the model file matches its manifest", model_checksum),
    Check("kernel-log", "no kernel oops in the journal", kernel_log),
    Check("failed-units", "no failed units", failed_units),
)


def find(check_id: str) -> Optional[Check]:
    return next((c for c in CHECKS if c.id == check_id), None)

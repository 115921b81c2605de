"""The inference service on the systemd stand-in: boot, readiness, first token, tokens/s, memory.

    python3 benchmarks/service_bench.py [--board qemux86-64] [--rounds 1] [--tokens 32]

Boots the systemd stand-in (tests/standin/systemd.py: Debian, systemd as
PID 1, the layer's unit running Debian's llama-server with the tiny test
model) through the harness's own labgrid environment, and measures inside
the guest:

- boot: when multi-user.target was reached (its activation time, since the
  kernel started), systemd's own "Startup finished" (`systemd-analyze
  time`, up to the default target), and the host's wall time from
  power-on to a root shell;
- ready: when llama-server.service became active, i.e. /health answered
  (the unit's ExecStartPost waits for it), as time since its process
  started and since the kernel started;
- a fixed short completion, streamed: time to the first token and tokens/s
  of the rest, timestamped in the guest as each SSE chunk arrives (bash's
  $EPOCHREALTIME: no process per token), with the server's own timings
  beside them;
- the service's memory: VmRSS after load and after the completion, and
  the cgroup's peak.

Under TCG (no KVM here) every figure is relative: compare architectures,
units or versions measured on the same host, not with hardware.  The tiny
model makes the token figures measure the server's per-token overhead more
than arithmetic.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from labgrid import Environment  # noqa: E402

from edgegenai.boot import environment, find_image  # noqa: E402
from edgegenai.catalog import load_catalog  # noqa: E402
from edgegenai.spec import load_spec  # noqa: E402
from standin import systemd as standin_systemd  # noqa: E402

URL = "http://127.0.0.1:8080"
STREAM = r'''
start=$EPOCHREALTIME
curl -sN -H 'Content-Type: application/json' -d "$REQUEST" %(url)s/v1/chat/completions |
while IFS= read -r line; do
    case "$line" in
        *'"content":"'*) echo "token $EPOCHREALTIME" ;;
        *'"timings"'*) echo "timings ${line#data: }" ;;
    esac
done
echo "start $start"
'''


def _seconds(text: str) -> float:
    """systemd's time spans (1min 2.345s, 850ms, 12.3s) in seconds."""
    total = 0.0
    for value, unit in re.findall(r"([0-9.]+)(min|ms|us|s)\b", text):
        total += float(value) * {"min": 60, "s": 1, "ms": 1e-3, "us": 1e-6}[unit]
    return total


def measure(board, deploy: Path, tokens: int) -> dict:
    spec = load_spec(None)
    image = find_image(board, deploy, spec.image.name)
    with tempfile.TemporaryDirectory() as tmp:
        env_file = environment.write(Path(tmp) / "env.yaml", board, image, boot_timeout=600)
        env = Environment(str(env_file))
        target = env.get_target(environment.TARGET)
        strategy = target.get_driver("ImageBootStrategy")
        started = time.monotonic()
        try:
            strategy.transition("shell")
            shell_s = time.monotonic() - started
            shell = target.get_driver("ShellDriver")

            def run(command: str, timeout: float = 600) -> list:
                out, _, code = shell.run(command, timeout=timeout, decodeerrors="replace")
                if code != 0:
                    raise RuntimeError(f"{command!r} exited {code}: {out}")
                return out

            run("systemctl is-system-running --wait || true", 900)
            analyze = " ".join(run("systemd-analyze time"))
            # "Startup finished in 2.1s (kernel) + 20.2s (userspace) = 22.3s" or just "in 28.6s"
            finished = re.search(r"Startup finished in (?:.*?= )?(\S+)", analyze)
            multi_us = int(dict(line.split("=", 1) for line in run(
                "systemctl show -p ActiveEnterTimestampMonotonic multi-user.target")
                if "=" in line)["ActiveEnterTimestampMonotonic"])
            props = dict(line.split("=", 1) for line in run(
                "systemctl show -p ExecMainStartTimestampMonotonic -p ActiveEnterTimestampMonotonic "
                "-p MainPID llama-server") if "=" in line)
            pid = props["MainPID"]
            exec_us = int(props["ExecMainStartTimestampMonotonic"])
            active_us = int(props["ActiveEnterTimestampMonotonic"])

            def rss() -> float:
                line = run(f"grep VmRSS /proc/{pid}/status")[0]
                return int(line.split()[1]) / 1024

            rss_loaded = rss()
            request = json.dumps({"messages": [{"role": "user", "content": "Say hello."}],
                                  "max_tokens": tokens, "stream": True, "temperature": 0,
                                  "seed": 1}, separators=(",", ":"))
            out = run(f"REQUEST='{request}' bash -c {_quote(STREAM % {'url': URL})}", 900)
            stamps = [float(line.split()[1]) for line in out if line.startswith("token ")]
            start = float(next(line.split()[1] for line in out if line.startswith("start ")))
            timings = next((json.loads(line.split(" ", 1)[1]).get("timings", {})
                            for line in out if line.startswith("timings ")), {})
            peak = dict(line.split("=", 1) for line in run(
                "systemctl show -p MemoryPeak -p MemoryCurrent llama-server") if "=" in line)
            return {
                "board": board.name,
                "shell_s": shell_s,
                "startup": analyze.split("Startup finished in ", 1)[-1].strip(),
                "startup_s": _seconds(finished.group(1)) if finished else float("nan"),
                "multi_user_s": multi_us / 1e6,
                "ready_after_exec_s": (active_us - exec_us) / 1e6,
                "ready_since_kernel_s": active_us / 1e6,
                "tokens": len(stamps),
                "ttft_s": stamps[0] - start if stamps else float("nan"),
                "tokens_per_s": ((len(stamps) - 1) / (stamps[-1] - stamps[0])
                                 if len(stamps) > 1 and stamps[-1] > stamps[0] else float("nan")),
                "server_prompt_ms": timings.get("prompt_ms", float("nan")),
                "server_tokens_per_s": timings.get("predicted_per_second", float("nan")),
                "rss_loaded_mib": rss_loaded,
                "rss_after_mib": rss(),
                "cgroup_peak_mib": (int(peak["MemoryPeak"]) / 2**20
                                    if peak.get("MemoryPeak", "").isdigit() else float("nan")),
            }
        finally:
            strategy.transition("off")
            target.cleanup()


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


ROWS = [
    ("power-on to root shell (host wall)", "shell_s", "{:.1f} s"),
    ("systemd: startup finished (default target)", "startup_s", "{:.1f} s"),
    ("multi-user.target reached, since kernel start", "multi_user_s", "{:.1f} s"),
    ("/health answers, after exec", "ready_after_exec_s", "{:.2f} s"),
    ("/health answers, since kernel start", "ready_since_kernel_s", "{:.1f} s"),
    ("streamed tokens", "tokens", "{:.0f}"),
    ("time to first token", "ttft_s", "{:.3f} s"),
    ("tokens/s after the first (guest clock)", "tokens_per_s", "{:.1f}"),
    ("server: prompt ms", "server_prompt_ms", "{:.1f}"),
    ("server: tokens/s", "server_tokens_per_s", "{:.1f}"),
    ("RSS after load", "rss_loaded_mib", "{:.1f} MiB"),
    ("RSS after the completion", "rss_after_mib", "{:.1f} MiB"),
    ("cgroup memory peak", "cgroup_peak_mib", "{:.1f} MiB"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", action="append", choices=("qemux86-64", "qemuarm64"),
                        help="board to measure (repeatable) [default: both]")
    parser.add_argument("--rounds", type=int, default=1, help="boots per board; medians printed")
    parser.add_argument("--tokens", type=int, default=32, help="max_tokens of the completion")
    args = parser.parse_args(argv)
    catalog = load_catalog()
    boards = [catalog.boards[name] for name in (args.board or ["qemux86-64", "qemuarm64"])]
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for board in boards:
            built = time.monotonic()
            deploy = standin_systemd.build(board, Path(tmp) / board.name)
            print(f"{board.name}: stand-in ready in {time.monotonic() - built:.1f} s", flush=True)
            for _ in range(args.rounds):
                results.setdefault(board.name, []).append(measure(board, deploy, args.tokens))
    names = list(results)
    print(f"\n{'(TCG, medians of ' + str(args.rounds) + ')':<42}" + "".join(f"{n:>16}" for n in names))
    for label, key, fmt in ROWS:
        cells = [fmt.format(statistics.median(r[key] for r in results[n])) for n in names]
        print(f"{label:<42}" + "".join(f"{c:>16}" for c in cells))
    for name in names:
        print(f"{name}: systemd-analyze: Startup finished in {results[name][0]['startup']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

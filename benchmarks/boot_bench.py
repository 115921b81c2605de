"""Time to a root shell: the boot-test harness against raw QEMU on the stand-in image.

    python3 benchmarks/boot_bench.py [--board qemuarm64] [--rounds 3]

Both sides boot the same stand-in (tests/standin/) with the same QEMU
command line, the one the harness writes into its labgrid environment.
"Raw" starts QEMU with the console on stdio and reads it until the root
prompt, logging in by hand; "harness" is labgrid's QEMUDriver + ShellDriver
under the harness's strategy.  Rounds alternate so that load on the host
hits both alike; the medians and their difference are printed.  Goal:
under 1 s of overhead.
"""

from __future__ import annotations

import argparse
import os
import re
import select
import shlex
import statistics
import subprocess
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
from standin import build as standin_build  # noqa: E402


def raw_time_to_shell(cfg: dict) -> float:
    """QEMU alone: console on stdio, read until the login prompt, log in, read until the prompt."""
    qemu = cfg["targets"]["main"]["drivers"]["QEMUDriver"]
    shell = cfg["targets"]["main"]["drivers"]["ShellDriver"]
    cmd = [cfg["tools"]["qemu"], "-kernel", cfg["images"]["kernel"],
           *shlex.split(qemu["extra_args"]), "-machine", qemu["machine"], "-cpu", qemu["cpu"],
           "-m", qemu["memory"], "-nographic", "-nic", qemu["nic"], "-append", qemu["boot_args"]]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    buf, logged_in = b"", False
    login, prompt = re.compile(shell["login_prompt"].encode()), re.compile(shell["prompt"].encode())
    try:
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], 120)
            if not ready:
                raise TimeoutError("no shell within 120 s")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError("QEMU exited")
            buf += chunk
            if not logged_in and login.search(buf):
                proc.stdin.write(b"root\n")
                proc.stdin.flush()
                logged_in, buf = True, b""
            elif logged_in and prompt.search(buf):
                return time.monotonic() - started
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()


def harness_time_to_shell(env_file: Path) -> float:
    env = Environment(str(env_file))
    target = env.get_target(environment.TARGET)
    strategy = target.get_driver("ImageBootStrategy")
    started = time.monotonic()
    try:
        strategy.transition("shell")
        target.get_driver("ShellDriver").run("true")
        return time.monotonic() - started
    finally:
        strategy.transition("off")
        target.cleanup()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="qemuarm64")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    board = load_catalog().boards[args.board]
    spec = load_spec(None)
    with tempfile.TemporaryDirectory() as tmp:
        deploy = standin_build.build(board, Path(tmp) / "deploy")
        image = find_image(board, deploy, spec.image.name)
        env_file = environment.write(Path(tmp) / "env.yaml", board, image, boot_timeout=120)
        cfg = environment.config(board, image, boot_timeout=120)
        raw, harness = [], []
        for i in range(args.rounds):
            raw.append(raw_time_to_shell(cfg))
            harness.append(harness_time_to_shell(env_file))
            print(f"round {i + 1}: raw {raw[-1]:.2f} s, harness {harness[-1]:.2f} s", flush=True)
    r, h = statistics.median(raw), statistics.median(harness)
    print(f"{board.name} stand-in, time to a root shell (median of {args.rounds}): "
          f"raw QEMU {r:.2f} s, harness {h:.2f} s, overhead {h - r:+.2f} s "
          f"({'within' if h - r < 1.0 else 'over'} the 1 s goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

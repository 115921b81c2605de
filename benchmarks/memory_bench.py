"""The service's real memory against the limits the generator renders for it.

    sudo python3 benchmarks/memory_bench.py [--contexts 4096,8192] [--tokens 256]

Makes a model of the default model's shape (its catalog `shape`: layers,
KV heads, head size, vocabulary, feed-forward width) with random weights
using PyPI's `gguf`, quantises it to Q4_K_M with Debian's own
`llama-quantize`, and serves it with Debian's `llama-server` from the
systemd stand-in's cached root filesystem (tests/standin/systemd.py; run
in a private mount namespace, so the cache is never written).  For each
context size it prints the server's resident memory after the model is
loaded and after a long completion, the generator's estimate
(`memory.py`) and the `MemoryHigh=`/`MemoryMax=` the unit would get, and
the headroom left under `MemoryHigh`.  Random weights change no sizes:
memory depends on the shape, the quantisation and the context.

Needs root (chroot, unshare) and the x86-64 stand-in base (made on first
use).  Runs on the host CPU, not under QEMU.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from edgegenai import memory  # noqa: E402
from edgegenai.spec import load_spec  # noqa: E402
from standin import systemd as standin_systemd, tinymodel  # noqa: E402

PORT = 18391
MOUNT = "/mnt"


def in_base(rootfs: Path, models: Path, command: str) -> subprocess.Popen:
    """Run `command` in the stand-in base, `models` bound at /mnt, nothing written to the base."""
    script = f"mount --bind {models} {rootfs}{MOUNT} && exec chroot {rootfs} sh -c '{command}'"
    return subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def server_pid() -> int:
    out = subprocess.run(["pgrep", "-n", "-x", "llama-server"], capture_output=True, text=True).stdout
    return int(out.split()[0])


def measure(rootfs: Path, models: Path, gguf_name: str, context: int, tokens: int) -> tuple:
    env = (f"LLAMA_ARG_MODEL={MOUNT}/{gguf_name} LLAMA_ARG_HOST=127.0.0.1 LLAMA_ARG_PORT={PORT} "
           f"LLAMA_ARG_CTX_SIZE={context} LLAMA_ARG_N_PARALLEL=1")
    proc = in_base(rootfs, models, f"env {env} /usr/bin/llama-server")
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        pid = server_pid()
        loaded = rss_kib(pid)
        body = json.dumps({"messages": [{"role": "user", "content": "Tell a long story."}],
                           "max_tokens": tokens, "ignore_eos": True}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{PORT}/v1/chat/completions", body,
                                     {"Content-Type": "application/json"})
        done = json.load(urllib.request.urlopen(req, timeout=600))["usage"]["completion_tokens"]
        after = rss_kib(pid)
    finally:
        subprocess.run(["pkill", "-x", "llama-server"], check=False)
        proc.wait(timeout=60)
    return loaded, after, done


def tools_version(versions: str) -> str:
    return next((line.strip() for line in versions.splitlines() if line.startswith("llama.cpp-tools")),
                "llama.cpp-tools")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", default="4096,8192")
    parser.add_argument("--tokens", type=int, default=256)
    args = parser.parse_args()
    spec = load_spec(None)
    from edgegenai.catalog import load_catalog
    model = spec.served_model("llama-cpp", load_catalog())
    base = standin_systemd.base("amd64")
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp)
        tinymodel.write_shaped(models / "f16.gguf", model.shape)
        quant = in_base(base.rootfs, models, f"llama-quantize {MOUNT}/f16.gguf {MOUNT}/q.gguf Q4_K_M 2")
        quant.communicate()
        size = (models / "q.gguf").stat().st_size
        print(f"model: {model.name}'s shape, random weights, Q4_K_M: {size} bytes "
              f"(the catalog's file: {model.size}); server: Debian's {tools_version(base.versions)}")
        print(f"{'context':>8} {'RSS load':>9} {'RSS after':>9} {'estimate':>9} {'MemoryHigh':>10} "
              f"{'MemoryMax':>9} {'headroom':>8}  (MiB)")
        for context in (int(c) for c in args.contexts.split(",")):
            loaded, after, done = measure(base.rootfs, models, "q.gguf", context, args.tokens)
            est = memory.estimate(model.model_copy(update={"size": size}), context)
            headroom = est.high_mib - after / 1024
            print(f"{context:>8} {loaded / 1024:>9.1f} {after / 1024:>9.1f} {est.total / memory.MIB:>9.1f} "
                  f"{est.high_mib:>10} {est.max_mib:>9} {headroom:>8.1f}  ({done} tokens)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

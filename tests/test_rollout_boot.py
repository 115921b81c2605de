"""The model-rollout cycle on the systemd stand-in, with Debian's real RAUC and llama-server.

The stand-in's `rollout` variant is the default spec with the
model-rollout feature: the rollout script, its drop-in and RAUC's
system.conf as the layer renders them, a keyring, and signed model bundles
made with `rauc bundle` (tests/standin/bundles.py).  One boot walks the
cycle a fleet sees: a broken model before anything was committed (back to
the image's own model), a good one (committed, served), a broken one
after it (back to the committed one, model and settings together), and a
bundle signed by a CA the device does not trust (refused, nothing
changes).  What it does not show: a Yocto build of the same, or A/B
system slots.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from edgegenai.boot import find_image
from edgegenai.boot.harness import session
from edgegenai.spec import load_spec

from conftest import skip_unless_ready

BOARD = "qemux86-64"
BOOT_TIMEOUT = 300
SCRIPT = "edgegenai-model-rollout"
FACTORY = "smollm2-360m-instruct-q4-k-m"


def _install(run, bundle: str):
    """Install a bundle on the device: (exit code, status.json as data)."""
    _, code = run(f"{SCRIPT} install /root/bundles/{bundle} >/tmp/rollout.out 2>&1", 600)
    lines, _ = run(f"{SCRIPT} status", 30)
    return code, json.loads("".join(lines))


def _served(run) -> str:
    lines, code = run("curl -s --max-time 30 http://127.0.0.1:8080/v1/models", 60)
    assert code == 0, lines
    return json.loads("".join(lines))["data"][0]["id"]


@pytest.mark.boot
def test_model_bundles_are_gated_rolled_back_and_refused(tmp_path, catalog):
    from standin import systemd
    from standin.debian import DEBIAN_ARCH

    board = catalog.boards[BOARD]
    problems = ([f"{board.qemu.system} not installed"] if shutil.which(board.qemu.system) is None else [])
    problems += systemd.missing_tools(DEBIAN_ARCH[board.arch])
    problems += [f"{t} not installed" for t in ("openssl", "unshare") if shutil.which(t) is None]
    skip_unless_ready(problems, "the rollout stand-in needs")
    deploy = systemd.build(board, tmp_path / "deploy", "rollout")
    image = find_image(board, deploy, load_spec(None).image.name)

    with session(board, image, tmp_path / "logs", boot_timeout=BOOT_TIMEOUT) as run:
        _, code = run("systemctl is-active --wait llama-server.service || "
                      "timeout 300 sh -c 'until llama-server-health; do sleep 2; done'", 330)
        assert _served(run) == FACTORY

        # 1. Broken model, nothing committed yet: the image's own model again.
        code, status = _install(run, "broken.raucb")
        assert code == 1
        assert status["state"] == "rolled-back", status
        assert status["model"] == "tiny-broken"
        assert status["reason"].startswith("llama-server.service did not start healthy"), status
        assert _served(run) == FACTORY

        # 2. A good model: it passes the gate, is committed and served.
        code, status = _install(run, "good.raucb")
        assert code == 0, status
        assert status["state"] == "committed" and status["model"] == "tiny-next", status
        measured = status["measured"]
        assert measured["tokens"] >= 1 and measured["tokens_per_second"] > 0.5, measured
        assert 0 < measured["rss_mib"] < 708, measured  # the service's MemoryHigh
        assert re.fullmatch(r"[0-9a-f]{64}", status["bundle_sha256"])
        assert _served(run) == "tiny-next"
        lines, _ = run("readlink /data/edgegenai/rollout/active.env; ls -1 /data/edgegenai/rollout", 30)
        assert lines[0] == "/data/edgegenai/models/llama-cpp/server.env"
        assert "committed.raucb" in lines[1:]

        # 3. Broken again: the committed bundle comes back, model and settings together.
        code, status = _install(run, "broken.raucb")
        assert code == 1 and status["state"] == "rolled-back", status
        assert _served(run) == "tiny-next"
        lines, _ = run("cat /data/edgegenai/models/llama-cpp/server.env", 30)
        assert "LLAMA_ARG_ALIAS='tiny-next'" in lines

        # 4. Signed by a CA the keyring does not hold: refused, nothing changes.
        code, status = _install(run, "foreign.raucb")
        assert code == 1 and status["state"] == "refused", status
        assert "signature" in status["reason"].lower() or "verif" in status["reason"].lower(), status
        assert _served(run) == "tiny-next"

        # Every outcome reached the journal.
        lines, _ = run(f"journalctl -t {SCRIPT} -o cat --no-pager", 60)
        outcomes = [line.split(":")[0] for line in lines if line.split(":")[0] in
                    ("committed", "rolled-back", "refused")]
        assert outcomes == ["rolled-back", "committed", "rolled-back", "refused"], lines

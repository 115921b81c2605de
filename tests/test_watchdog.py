"""The servers' watchdog: a timer that restarts a server that stops answering, run for real."""

from __future__ import annotations

import os
import subprocess

import pytest

from edgegenai.render import render
from edgegenai.spec import load_spec

from conftest import ROOT

FILES = "meta-edgegenai/recipes-ai/edgegenai-llama-cpp-server/files"


@pytest.fixture(scope="module")
def files(catalog):
    return render(load_spec(None, catalog), catalog)


def _run(files, tmp_path, active: str, healthy: list):
    """The watchdog script with stand-ins for systemctl, sleep and the health check."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "log"
    answers = tmp_path / "answers"
    answers.write_text("".join(f"{int(h)}\n" for h in healthy))
    (bindir / "systemctl").write_text(f'#!/bin/sh\necho "systemctl $*" >> {log}\n'
                                      f'[ "$1" = is-active ] && echo {active} && [ {active} = active ]\nexit 0\n')
    (bindir / "sleep").write_text(f'#!/bin/sh\necho "sleep $*" >> {log}\n')
    (bindir / "llama-server-health").write_text(
        f'#!/bin/sh\nanswer=$(head -n1 {answers}); sed -i 1d {answers}\necho health >> {log}\n'
        f'[ "$answer" = 1 ]\n')
    for tool in bindir.iterdir():
        tool.chmod(0o755)
    script = tmp_path / "watchdog"
    script.write_text(files[f"{FILES}/llama-server-watchdog"].replace("@BINDIR@", str(bindir)))
    script.chmod(0o755)
    run = subprocess.run(["sh", str(script)], env={"PATH": f"{bindir}:{os.environ['PATH']}"},
                         capture_output=True, text=True)
    return run, (log.read_text().splitlines() if log.exists() else [])


def test_a_healthy_server_is_left_alone(files, tmp_path):
    run, log = _run(files, tmp_path, "active", [True])
    assert run.returncode == 0 and log == ["systemctl is-active llama-server.service", "health"]


def test_one_missed_answer_is_not_a_hang(files, tmp_path):
    run, log = _run(files, tmp_path, "active", [False, True])
    assert run.returncode == 0 and "systemctl restart llama-server.service" not in log


def test_three_missed_answers_restart_it(files, tmp_path):
    run, log = _run(files, tmp_path, "active", [False, False, False])
    assert run.returncode == 0
    assert log == ["systemctl is-active llama-server.service", "health", "sleep 10", "health", "sleep 10",
                   "health", "systemctl restart llama-server.service"]
    assert "restarting it" in run.stderr


@pytest.mark.parametrize("state", ["activating", "inactive", "failed"])
def test_a_server_that_is_not_running_is_left_to_systemd(files, tmp_path, state):
    run, log = _run(files, tmp_path, state, [False])
    assert run.returncode == 0 and log == ["systemctl is-active llama-server.service"]


def test_the_timer_is_enabled_and_the_recipe_installs_it(files):
    recipe = files["meta-edgegenai/recipes-ai/edgegenai-llama-cpp-server/edgegenai-llama-cpp-server_1.0.bb"]
    assert 'SYSTEMD_SERVICE:${PN} = "llama-server.service llama-server-watchdog.timer"' in recipe
    timer = files[f"{FILES}/llama-server-watchdog.timer"]
    assert "OnUnitActiveSec=1min" in timer and "WantedBy=timers.target" in timer

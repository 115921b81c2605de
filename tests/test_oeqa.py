"""The generated oeqa cases, run against a scripted target: they pass and fail as they should.

The module is the rendered `lib/oeqa/runtime/cases/edgegenai.py`, imported
with stand-ins for OE's `oeqa` decorators and base class (they only
register and order cases); `self.target.run` answers from a table of the
commands a device would answer, as `testimage` would over ssh.
"""

from __future__ import annotations

import sys
import types
import unittest

import pytest

from edgegenai.render import render
from edgegenai.spec import load_spec

CASES = "meta-edgegenai/lib/oeqa/runtime/cases/edgegenai.py"
STATUS_OK = "Name:\tllama-server\nNoNewPrivs:\t1\nSeccomp:\t2\nCapBnd:\t0000000000000000\n"


def _load(text: str):
    stubs = {
        "oeqa": types.ModuleType("oeqa"), "oeqa.core": types.ModuleType("oeqa.core"),
        "oeqa.core.decorator": types.ModuleType("oeqa.core.decorator"),
        "oeqa.core.decorator.depends": types.ModuleType("oeqa.core.decorator.depends"),
        "oeqa.runtime": types.ModuleType("oeqa.runtime"),
        "oeqa.runtime.case": types.ModuleType("oeqa.runtime.case"),
        "oeqa.runtime.decorator": types.ModuleType("oeqa.runtime.decorator"),
        "oeqa.runtime.decorator.package": types.ModuleType("oeqa.runtime.decorator.package"),
    }
    stubs["oeqa.core.decorator.depends"].OETestDepends = lambda deps: (lambda f: f)
    stubs["oeqa.runtime.decorator.package"].OEHasPackage = lambda pkgs: (lambda f: f)
    stubs["oeqa.runtime.case"].OERuntimeTestCase = unittest.TestCase
    saved = {k: sys.modules.get(k) for k in stubs}
    sys.modules.update(stubs)
    try:
        module = types.ModuleType("edgegenai_oeqa")
        exec(compile(text, CASES, "exec"), module.__dict__)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return module


class Target:
    def __init__(self, answers):
        self.answers, self.commands = answers, []

    def run(self, cmd, timeout=None):
        self.commands.append(cmd)
        for prefix, answer in self.answers.items():
            if cmd.startswith(prefix):
                return answer
        return 127, f"{cmd.split()[0]}: not found"


LAN = {"boards": ["qemux86-64"], "engines": {"llama-cpp": {"server": {
    "host": "0.0.0.0", "auth": "api-key", "allow": ["192.168.7.0/24"]}}}}


def _run(case_name, answers, raw=None):
    """Run one generated case (of the default spec, or of `raw`) against a scripted target."""
    from edgegenai.catalog import load_catalog
    from edgegenai.spec import parse_spec

    spec = load_spec(None) if raw is None else parse_spec(raw, load_catalog())
    module = _load(render(spec)[CASES])
    case = module.EdgegenaiTest(case_name)
    case.target = Target(answers)
    result = unittest.TestResult()
    case.run(result)
    return result, case.target


ANSWERS = {
    "systemctl show -p MainPID --value llama-server": (0, "412\n"),
    "cat /proc/412/status": (0, STATUS_OK),
    "command -v systemd-analyze": (0, "/usr/bin/systemd-analyze\n"),
    "SYSTEMD_URLIFY=0 systemd-analyze security": (0, "→ Overall exposure level for llama-server.service: 0.9 SAFE 😀\n"),
}


def test_sandbox_and_exposure_pass_on_a_sandboxed_service():
    for name in ("test_sandbox_in_force", "test_exposure"):
        result, _ = _run(name, ANSWERS)
        assert result.wasSuccessful(), result.failures + result.errors


@pytest.mark.parametrize("field,value", [("Seccomp:\t2", "Seccomp:\t0"), ("NoNewPrivs:\t1", "NoNewPrivs:\t0"),
                                         ("CapBnd:\t0000000000000000", "CapBnd:\t000001ffffffffff")])
def test_sandbox_fails_when_the_process_is_not_confined(field, value):
    answers = dict(ANSWERS, **{"cat /proc/412/status": (0, STATUS_OK.replace(field, value))})
    result, _ = _run("test_sandbox_in_force", answers)
    assert len(result.failures) == 1


def test_exposure_fails_above_the_limit_and_skips_without_the_tool():
    answers = dict(ANSWERS, **{"SYSTEMD_URLIFY=0 systemd-analyze security":
                               (0, "→ Overall exposure level for llama-server.service: 6.1 MEDIUM 😐\n")})
    result, _ = _run("test_exposure", answers)
    assert len(result.failures) == 1
    result, _ = _run("test_exposure", dict(ANSWERS, **{"command -v systemd-analyze": (1, "")}))
    assert result.wasSuccessful() and len(result.skipped) == 1


def test_api_key_case_skips_on_loopback():
    result, target = _run("test_api_key_is_required", ANSWERS)
    assert len(result.skipped) == 1 and target.commands == []


@pytest.mark.parametrize("code,ok", [("401", True), ("200", False)])
def test_api_key_case_in_lan_mode(code, ok):
    answers = {"test -s /var/lib/edgegenai/llama-server.key": (0, ""), "curl -sS -o /dev/null": (0, code)}
    result, target = _run("test_api_key_is_required", answers, LAN)
    assert result.wasSuccessful() is ok, result.failures
    assert any("Authorization" not in c and "/v1/chat/completions" in c for c in target.commands)


def test_chat_case_sends_the_key_in_lan_mode():
    reply = '{"choices":[{"message":{"content":"hi"}}],"usage":{"completion_tokens":2}}'
    result, target = _run("test_chat_completion", {"curl -sS --fail": (0, reply)}, LAN)
    assert result.wasSuccessful(), result.failures + result.errors
    assert 'Authorization: Bearer $(cat /var/lib/edgegenai/llama-server.key)' in target.commands[0]

"""image.ota.hawkbit: the hawkBit client on the device, with nothing secret in the image.

What is rendered (the client's settings, our sandboxed unit, meta-rauc's
unit left off), what the spec refuses, and the composer run for real: it
joins the image's settings and the device's name and token, and refuses a
name or token that would add a setting.  The settings are read back with
a key file parser (configparser, whose syntax for these lines is GLib's).
"""

from __future__ import annotations

import configparser
import os
import subprocess
from pathlib import Path

import pytest

from edgegenai import hawkbit
from edgegenai.errors import SpecError
from edgegenai.render import render
from edgegenai.spec import parse_spec

LAYER = "meta-edgegenai"
BASE = f"{LAYER}/recipes-ota/{hawkbit.RECIPE}"
SPEC = {"boards": ["qemux86-64", "qemuarm64"],
        "image": {"features": ["ssh", "ota"],
                  "ota": {"hawkbit": {"server": "hawkbit.example.com:8443", "tenant": "fleet_1"}}}}


@pytest.fixture(scope="module")
def files(catalog):
    return render(parse_spec(SPEC, catalog), catalog)


def _settings(files) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(files[f"{BASE}/files/{hawkbit.SETTINGS}"])
    return parser


def test_settings_name_the_server_with_tls_verified_and_no_secret(files):
    client = _settings(files)["client"]
    assert client["hawkbit_server"] == "hawkbit.example.com:8443"
    assert client["tenant_id"] == "fleet_1"
    assert client["ssl"] == client["ssl_verify"] == "true"
    assert client["bundle_download_location"].startswith(hawkbit.DOWNLOAD_DIR + "/")
    assert not {"auth_token", "gateway_token", "target_name"} & set(client)


def test_the_client_is_in_the_image_and_meta_raucs_example_is_not(files):
    group = files[f"{LAYER}/recipes-core/packagegroups/packagegroup-edgegenai.bb"]
    assert hawkbit.RECIPE in group
    recipe = files[f"{BASE}/{hawkbit.RECIPE}_1.0.bb"]
    assert f'SYSTEMD_SERVICE:${{PN}} = "{hawkbit.UNIT}"' in recipe and hawkbit.UPSTREAM in recipe
    append = files[f"{LAYER}/recipes-ota/{hawkbit.UPSTREAM}/{hawkbit.UPSTREAM}_%.bbappend"]
    assert 'SYSTEMD_AUTO_ENABLE:${PN}:edgegenai = "disable"' in append
    assert "rm -f ${D}${sysconfdir}/${BPN}/config.conf" in append


def test_the_unit_waits_for_provisioning_and_reads_the_composed_config(files):
    unit = files[f"{BASE}/files/{hawkbit.UNIT}"]
    for name in ("target-name", "auth-token"):
        assert f"ConditionPathExists={hawkbit.PROVISION_DIR}/{name}" in unit
    assert f"ExecStartPre=+@LIBEXECDIR@/{hawkbit.COMPOSER}" in unit
    assert f"-c /run/{hawkbit.RUNTIME_DIR}/config.conf" in unit
    assert f"User={hawkbit.USER}" in unit and "ProtectSystem=strict" in unit
    assert f"ReadWritePaths={hawkbit.DOWNLOAD_DIR}" in unit


def test_without_a_server_nothing_of_the_client_is_rendered(catalog):
    raw = {**SPEC, "image": {"features": ["ssh", "ota"]}}
    assert not [p for p in render(parse_spec(raw, catalog), catalog) if "hawkbit" in p]


@pytest.mark.parametrize("raw,says", [
    ({"image": {"features": ["ssh"], "ota": {"hawkbit": {"server": "h.example.com"}}}},
     "image.ota.hawkbit: an update server installs system bundles"),
    ({"image": {"features": ["ssh", "ota"], "ota": {"hawkbit": {"server": "https://h.example.com"}}}},
     "image.ota.hawkbit.server"),
    ({"image": {"features": ["ssh", "ota"], "ota": {"hawkbit": {}}}}, "image.ota.hawkbit.server"),
    ({"image": {"features": ["ssh", "ota"], "ota": {"hawkbit": {"server": "h.example.com",
                                                                 "tenant": "a\nauth_token = x"}}}},
     "image.ota.hawkbit.tenant"),
])
def test_spec_refuses_naming_the_field(catalog, raw, says):
    with pytest.raises(SpecError) as err:
        parse_spec({"boards": ["qemux86-64"], **raw}, catalog)
    assert any(p.startswith(says) for p in err.value.problems), err.value.problems


# -- the composer, run ----------------------------------------------------------

def _composer(files, tmp_path: Path) -> Path:
    """The script as installed, its fixed paths moved under tmp_path, chown stubbed."""
    text = files[f"{BASE}/files/{hawkbit.COMPOSER}"]
    text = text.replace("@SYSCONFDIR@", str(tmp_path / "etc"))
    text = text.replace(hawkbit.PROVISION_DIR, str(tmp_path / "data"))
    text = text.replace(f"/run/{hawkbit.RUNTIME_DIR}", str(tmp_path / "run"))
    for d in ("etc/edgegenai", "data", "run", "bin"):
        (tmp_path / d).mkdir(parents=True, exist_ok=True)
    (tmp_path / "etc/edgegenai" / hawkbit.SETTINGS).write_text(files[f"{BASE}/files/{hawkbit.SETTINGS}"])
    chown = tmp_path / "bin/chown"
    chown.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "chown.log"}\n')
    chown.chmod(0o755)
    script = tmp_path / "compose"
    script.write_text(text)
    return script


def _run(script: Path, tmp_path: Path, name: str, token: str) -> subprocess.CompletedProcess:
    (tmp_path / "data/target-name").write_text(name)
    (tmp_path / "data/auth-token").write_text(token)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    return subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True)


def test_composer_joins_settings_name_and_token_for_the_client_alone(files, tmp_path):
    script = _composer(files, tmp_path)
    run = _run(script, tmp_path, "edge-0042\n", "0123456789abcdefABCDEF\n")
    assert run.returncode == 0, run.stderr
    out = tmp_path / "run/config.conf"
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "chown.log").read_text() == f"{hawkbit.USER}: {out}.new\n"
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(out.read_text())
    assert parser["client"]["target_name"] == "edge-0042"
    assert parser["client"]["auth_token"] == "0123456789abcdefABCDEF"
    assert parser["client"]["hawkbit_server"] == "hawkbit.example.com:8443"


@pytest.mark.parametrize("name,token", [
    ("edge\nauth_token = stolen", "abc"),
    ("edge", "abc\n[client]\nhawkbit_server = evil.example.com"),
    ("edge", "abc def"),
    ("edge = x", "abc"),
    ("", "abc"),
    ("edge", ""),
    ("e" * 257, "abc"),
    ("$(id)", "abc"),
])
def test_composer_refuses_what_would_add_a_setting(files, tmp_path, name, token):
    script = _composer(files, tmp_path)
    run = _run(script, tmp_path, name, token)
    assert run.returncode == 1 and run.stderr.count("\n") == 1, run.stderr
    assert not list((tmp_path / "run").iterdir())

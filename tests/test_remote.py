"""Remote access: keys-only ssh for an administrator in production images, checked by real sshd."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import types
from pathlib import Path

import pytest

from edgegenai.errors import SpecError
from edgegenai.render import render
from edgegenai.spec import load_spec, parse_spec

from conftest import ROOT

RECIPE_DIR = "meta-edgegenai/recipes-core/edgegenai-remote-access"
IMAGE = "meta-edgegenai/recipes-core/images/edgegenai-image.bb"


@pytest.fixture(scope="module")
def files(catalog):
    return render(load_spec(None, catalog), catalog)


class SkipRecipe(Exception):
    pass


def _bb():
    """Just enough of BitBake's `bb` for the layer's parse-time checks."""
    def filter_(var, words, d):
        have = (d.getVar(var) or "").split()
        return " ".join(w for w in words.split() if w in have)
    return types.SimpleNamespace(parse=types.SimpleNamespace(SkipRecipe=SkipRecipe),
                                 utils=types.SimpleNamespace(filter=filter_))


class _D:
    def __init__(self, **values):
        self.values, self.flags = values, []

    def getVar(self, name):
        return self.values.get(name)

    def appendVarFlag(self, var, flag, value):
        self.flags.append((var, flag, value))


def _anonymous(recipe: str):
    """The recipe's `python () {...}` as a function of d."""
    body = re.search(r"^python \(\) \{\n((?:    .*\n|\n)+?)\}", recipe, re.M).group(1)
    scope = {"bb": _bb(), "os": os}
    exec("def anonymous(d):\n" + body, scope)
    return scope["anonymous"]


def test_sshd_takes_keys_from_admin_alone_checked_by_sshd_itself(files, tmp_path):
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.path.exists(sshd):
        pytest.skip("no sshd here (Debian: openssh-server)")
    if not os.path.isdir("/run/sshd"):
        if os.geteuid() != 0:
            pytest.skip("sshd -T needs /run/sshd")
        os.makedirs("/run/sshd", exist_ok=True)
    drop = tmp_path / "sshd_config.d"
    drop.mkdir()
    (drop / "50-edgegenai.conf").write_text(files[f"{RECIPE_DIR}/files/50-edgegenai.conf"])
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "hostkey")], check=True)
    # As OE-core's sshd_config: the drop-ins first, then its own (here permissive) settings.
    (tmp_path / "sshd_config").write_text(f"Include {drop}/*.conf\nHostKey {tmp_path}/hostkey\n"
                                          "PermitRootLogin yes\nPasswordAuthentication yes\n"
                                          "KbdInteractiveAuthentication yes\n")
    out = subprocess.run([sshd, "-T", "-f", str(tmp_path / "sshd_config")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    effective = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
    assert effective["permitrootlogin"] == "no"
    assert effective["passwordauthentication"] == "no"
    assert effective["kbdinteractiveauthentication"] == "no"
    assert effective["permitemptypasswords"] == "no"
    assert effective["authenticationmethods"] == "publickey"
    assert effective["allowusers"] == "admin"


def test_admin_has_keys_sudo_and_no_password(files):
    recipe = files[f"{RECIPE_DIR}/edgegenai-remote-access_1.0.bb"]
    assert "--password '*' admin\"" in recipe
    assert "install -m 0600 ${EDGEGENAI_AUTHORIZED_KEYS} ${D}/home/admin/.ssh/authorized_keys" in recipe
    assert files[f"{RECIPE_DIR}/files/50-edgegenai-admin"].endswith("admin ALL=(ALL:ALL) NOPASSWD: ALL\n")
    assert "    openssh-sshd \\\n    sudo \\\n" in recipe


def test_without_keys_the_production_image_has_no_way_in_and_is_refused(files, tmp_path):
    check = _anonymous(files[f"{RECIPE_DIR}/edgegenai-remote-access_1.0.bb"])
    for keys in (None, str(tmp_path / "missing")):
        with pytest.raises(SkipRecipe, match="set EDGEGENAI_AUTHORIZED_KEYS"):
            check(_D(EDGEGENAI_AUTHORIZED_KEYS=keys))
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(SkipRecipe):
        check(_D(EDGEGENAI_AUTHORIZED_KEYS=str(empty)))
    keys = tmp_path / "authorized_keys"
    keys.write_text("ssh-ed25519 AAAA admin@example\n")
    d = _D(EDGEGENAI_AUTHORIZED_KEYS=str(keys))
    check(d)
    # A new key rebuilds the package.
    assert d.flags == [("do_install", "file-checksums", f" {keys}:True")]


def test_root_without_a_password_is_refused_outside_debug_builds(files):
    image = files[IMAGE]
    policy = _anonymous(image)
    opened = re.search(r'^EDGEGENAI_ROOT_WITHOUT_PASSWORD = "([^"]*)"', image, re.M).group(1)
    production = dict(OVERRIDES="linux:x86-64:edgegenai", EDGEGENAI_ROOT_WITHOUT_PASSWORD=opened)
    policy(_D(IMAGE_FEATURES="ssh-server-openssh", **production))
    with pytest.raises(SkipRecipe, match="empty-root-password"):
        policy(_D(IMAGE_FEATURES="ssh-server-openssh empty-root-password", **production))
    debug = dict(production, OVERRIDES="linux:x86-64:edgegenai:edgegenai-debug")
    policy(_D(IMAGE_FEATURES="allow-root-login empty-root-password", **debug))
    assert 'IMAGE_INSTALL:append = " edgegenai-remote-access"' in image
    assert 'IMAGE_INSTALL:remove:edgegenai-debug = "edgegenai-remote-access"' in image


def test_a_spec_without_ssh_is_refused(catalog):
    with pytest.raises(SpecError) as err:
        parse_spec({"boards": ["qemuarm64"], "image": {"features": []}}, catalog)
    assert err.value.problems == ["image.features: add 'ssh': a production device is reached by keys-only ssh "
                                  "(EDGEGENAI_AUTHORIZED_KEYS at build time); without it a device has no way in"]

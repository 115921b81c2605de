"""The CI pipeline of a spec: what each job does, before any CI's words for it.

`edgegenai ci --github` and `--gitlab` say the same pipeline in two
dialects, so what it does is decided here, once:

- **check**: the committed layer is what the spec renders (`generate
  --check`), the field's tools pass (`edgegenai check`), and real BitBake
  parses and resolves every board x release offline (`check --bitbake`,
  on the upstream layers `kas checkout` brings at the pinned commits);
- **build**: one job per board x release, with kas in its container;
  downloads and shared state kept in the CI's cache, and, when given, an
  sstate mirror and a hash-equivalence server, the BitBake way
  (SSTATE_MIRRORS, BB_HASHSERVE_UPSTREAM);
- **boot test** (QEMU boards): `edgegenai test` boots the image it just
  built and asks the service for a completion.  A test image needs root
  on the console, so QEMU boards build the debug variant; other boards
  build the production image;
- **artefacts**: the image files under their stable names, the SBOM (SPDX
  3.0 on wrynose, SPDX 2.2 on scarthgap) and the CVE report
  (`kas/opt/cve.yml`: OE-core's sbom-cve-check on wrynose, cve-check on
  scarthgap), per board and release; with `ota` or `model-rollout`, the
  RAUC bundles too, signed with the development keys (`rauc-dev-keys`):
  a pull request never sees a release key;
- **release** (a tag `v*`): the same matrix as production images, built
  without the CI cache (a cache an earlier run filled never goes into a
  release), the bundles signed with the release's keys from the CI's
  secrets (`kas/opt/rauc-keys.yml` names them to BitBake), in a protected
  `release` environment;
- **publish**: every release build's files, unique names and SHA256SUMS,
  as a release of the tag (`edgegenai publish`): GitHub's releases or
  GitLab's package registry, and, when a hawkBit server is given, its
  system bundles as distribution sets for rauc-hawkbit-updater.

Restricted licence terms are never accepted by the pipeline on its own: a
board whose build needs a licence flag is refused until the flag is named
with `--accept`, which adds the flag's kas fragment to that board's builds.

Every value the user gives (runner labels, mirror, hash server, spec path,
what to install) has a rule, checked here; values then pass through the
YAML and shell filters of the templates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

from . import __version__, licences, ota, rauc, rollout, vulnerabilities
from .catalog import Catalog
from .errors import UserError
from .builder.invocation import kas_config
from .fields import url_problem
from .spec import Spec

# kas as the tests run it; kas-container runs the image of the same version.
KAS_VERSION = "5.5"
KAS_IMAGE = f"ghcr.io/siemens/kas/kas:{KAS_VERSION}"
# GitHub actions, pinned to the commit of their release tag.
ACTIONS = {
    "checkout": ("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "cache": ("actions/cache", "27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5"),
    "upload-artifact": ("actions/upload-artifact", "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f",
                        "v7.0.0"),
    "download-artifact": ("actions/download-artifact", "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c",
                          "v8.0.1"),
}
# Tags whose pipeline builds and publishes a release.
RELEASE_TAGS = "v*"
RELEASE_TAGS_REGEX = "/^v/"
# The CI secrets (GitHub) or file variables (GitLab) of a release's keys, named
# as BitBake's variables are; and those of a hawkBit account.
KEY_SECRETS = rauc.KEY_VARIABLES
# Where a GitHub release job writes each secret, as a file BitBake reads.
KEY_FILES = tuple(zip(KEY_SECRETS, ("signing.key.pem", "signing.cert.pem", "keyring.pem")))
HAWKBIT_SECRETS = ("HAWKBIT_USER", "HAWKBIT_PASSWORD")
# Where a runner's Yocto builds need disk and time that hosted runners lack.
DEFAULT_RUNNER = ("self-hosted", "linux", "x64")
DEBUG_OPTION = "debug"
# Packages the check job adds to the kas image: shellcheck and
# systemd-analyze for `edgegenai check`, a kernel tree for its Kconfig check.
CHECK_PACKAGES = ("shellcheck", "systemd", "linux-source", "xz-utils")
# What a QEMU boot test adds, per QEMU system binary.
QEMU_PACKAGES = {"qemu-system-x86_64": "qemu-system-x86", "qemu-system-aarch64": "qemu-system-arm"}

RUNNER_SAYS = "a runner label: letters, digits and '.', '_', '-', starting with a letter or digit"
_RUNNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
HASHSERVE_SAYS = ("a hash-equivalence server as BitBake takes it: host:port, or a ws:// or wss:// "
                  "URL, with no white space, quotes, ';', '$', '{', '}', '\\' or '`'")
_HOST_PORT = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?:[0-9]{1,5}")
_WS_URL = re.compile(r"wss?://[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?"
                     r"(/[A-Za-z0-9._~/-]*)?")
SPEC_PATH_SAYS = ("a relative path inside the repository: letters, digits and '.', '_', '-', '/', "
                  "no '..' and no empty part")
_SPEC_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*")
INSTALL_SAYS = ("what pip installs edgegenai from: a version ('0.1.0'), or an https URL of a "
                "wheel or source archive")
_VERSION = re.compile(r"[0-9][A-Za-z0-9.+!-]{0,63}")


@dataclass(frozen=True)
class Build:
    """One matrix entry: a board on a release."""

    board: str
    release: str
    machine: str
    # The kas config chain, as `kas build` takes it: for CI, and for a release.
    config: str
    release_config: str
    boot_test: bool
    # Debian package of the QEMU system emulator a boot test needs.
    qemu_package: str
    # The QEMU kernel's stable name, kept with the image files.
    kernel: str
    flags: Tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.board}-{self.release}"


@dataclass(frozen=True)
class Pipeline:
    spec_path: Optional[str]
    image: str
    builds: Tuple[Build, ...]
    releases: Tuple[str, ...]
    # kas files to check out per release for the BitBake check: every board's.
    checkouts: Tuple[Tuple[str, Tuple[str, ...]], ...]
    build_runner: Tuple[str, ...]
    sstate_mirror: str
    hashserve: str
    install: str
    # The signed bundles each build makes beside the image (ota, model-rollout).
    bundles: Tuple[str, ...] = ()
    hawkbit: str = ""
    release_tags: str = RELEASE_TAGS
    release_tags_regex: str = RELEASE_TAGS_REGEX
    key_secrets: Tuple[str, ...] = KEY_SECRETS
    key_files: Tuple[Tuple[str, str], ...] = KEY_FILES
    hawkbit_secrets: Tuple[str, ...] = HAWKBIT_SECRETS
    kas_version: str = KAS_VERSION
    kas_image: str = KAS_IMAGE

    @property
    def sstate_mirrors(self) -> str:
        """SSTATE_MIRRORS for a mirror base URL, as OE documents it."""
        if not self.sstate_mirror:
            return ""
        return f"file://.* {self.sstate_mirror.rstrip('/')}/PATH;downloadfilename=PATH"

    @property
    def targets(self) -> Tuple[str, ...]:
        """kas's targets: the image and the bundles; none (the kas file's own) without bundles."""
        return (self.image,) + self.bundles if self.bundles else ()

    @property
    def check_packages(self) -> Tuple[str, ...]:
        return CHECK_PACKAGES

    def requirement(self, extra: str = "") -> str:
        """What pip installs: edgegenai (with `extra`), at a version or from a URL."""
        name = f"edgegenai[{extra}]" if extra else "edgegenai"
        if _VERSION.fullmatch(self.install):
            return f"{name}=={self.install}"
        return f"{name} @ {self.install}"


def _problems_of(option: str, values: Iterable[str], check: Callable[[str], str]) -> List[str]:
    """One line per value that breaks its rule; `check` says how ("must be ..."), or "" when kept."""
    problems = []
    for value in values:
        problem = check(value)
        if problem:
            problems.append(f"{option} {value[:60]!r}: {problem}")
    return problems


def _runner(v: str) -> str:
    return "" if _RUNNER.fullmatch(v) else f"must be {RUNNER_SAYS}"


def _hashserve(v: str) -> str:
    if len(v) <= 256 and (_HOST_PORT.fullmatch(v) or _WS_URL.fullmatch(v)):
        return ""
    return f"must be {HASHSERVE_SAYS}"


def _spec_path(v: str) -> str:
    parts = v.split("/")
    if len(v) <= 255 and _SPEC_PATH.fullmatch(v) and not any(p in (".", "..") for p in parts):
        return ""
    return f"must be {SPEC_PATH_SAYS}"


def _install(v: str) -> str:
    if _VERSION.fullmatch(v) or not url_problem(v):
        return ""
    return f"must be {INSTALL_SAYS}"


def bundles(spec: Spec, catalog: Catalog) -> Tuple[str, ...]:
    """The bundle recipes the spec's layer has: the system's (ota), the model's (model-rollout)."""
    found = [ota.BUNDLE_RECIPE] if ota.wanted(spec) else []
    model = rollout.bundle_recipe(spec, catalog)
    return tuple(found + ([model] if model else []))


def plan(spec: Spec, catalog: Catalog, *, spec_path: Optional[str] = None,
         runner: Sequence[str] = (), sstate_mirror: str = "", hashserve: str = "",
         accept: Sequence[str] = (), install: str = __version__, hawkbit: str = "") -> Pipeline:
    """The pipeline of `spec`; a UserError lists every bad option at once."""
    problems = []
    problems += _problems_of("--runner", runner, _runner)
    problems += _problems_of("--sstate-mirror", [sstate_mirror] if sstate_mirror else [], url_problem)
    bad_hawkbit = _problems_of("--hawkbit", [hawkbit] if hawkbit else [], url_problem)
    problems += bad_hawkbit
    signed = bundles(spec, catalog)
    if hawkbit and not bad_hawkbit and not ota.wanted(spec):
        problems.append(f"--hawkbit: hawkBit serves system bundles, and the spec has none: add "
                        f"{ota.FEATURE!r} to image.features")
    problems += _problems_of("--hashserve", [hashserve] if hashserve else [], _hashserve)
    problems += _problems_of("--install", [install], _install)
    if spec_path is not None:
        problems += _problems_of("spec path", [spec_path], _spec_path)
    terms = licences.terms(spec, catalog)
    known = {t.flag for t in terms}
    problems += [f"--accept {f[:60]!r}: the spec needs no such licence flag; it needs "
                 f"{', '.join(sorted(known)) or 'none'}" for f in accept if f not in known]
    for t in terms:
        if t.flag not in accept:
            problems.append(f"{', '.join(t.boards)} need(s) the terms of licence flag {t.flag} "
                            f"accepted: read kas/opt/{t.flag}.yml, then add --accept {t.flag}")
    if problems:
        raise UserError(problems)

    builds = []
    for ref in spec.boards:
        board = catalog.boards[ref.name]
        flags = tuple(t.flag for t in terms if board.name in t.boards)
        qemu = board.qemu
        for i, release in enumerate(spec.releases):
            common = ([release] if i else []) + [vulnerabilities.OPTION] + list(flags)
            config = kas_config(board.name, common + ([rauc.DEV_KEYS_OPTION] if signed else [])
                                + ([DEBUG_OPTION] if qemu else []))
            release_config = kas_config(board.name, common + ([rauc.KEYS_OPTION] if signed else []))
            builds.append(Build(
                board=board.name, release=release, machine=board.machine, config=config,
                release_config=release_config,
                boot_test=qemu is not None,
                qemu_package=QEMU_PACKAGES.get(qemu.system, "") if qemu else "",
                kernel=qemu.kernel_image if qemu else "", flags=flags))
    checkouts = tuple((release, tuple(kas_config(ref.name, [release] if i else []) for ref in spec.boards))
                      for i, release in enumerate(spec.releases))
    return Pipeline(spec_path=spec_path, image=spec.image.name, builds=tuple(builds),
                    releases=tuple(spec.releases), checkouts=checkouts,
                    build_runner=tuple(runner) or DEFAULT_RUNNER, sstate_mirror=sstate_mirror,
                    hashserve=hashserve, install=install,
                    bundles=signed,
                    hawkbit=hawkbit.rstrip("/"))


# GitHub's release is a workflow of its own: one that publishes never shares
# a cache with one that builds pull requests.  GitLab keeps protected refs'
# caches apart, and its release jobs use none: one configuration.
PROVIDERS = {"github": "ci/github.yml.j2", "github-release": "ci/github-release.yml.j2",
             "gitlab": "ci/gitlab.yml.j2"}
# Where each CI reads its configuration, relative to the repository's root.
CONFIG_PATHS = {"github": ".github/workflows/edgegenai.yml",
                "github-release": ".github/workflows/edgegenai-release.yml", "gitlab": ".gitlab-ci.yml"}


def render_ci(pipeline: Pipeline, provider: str) -> str:
    """The pipeline in `provider`'s words (a key of PROVIDERS)."""
    from .render import GENERATED, make_environment

    template = make_environment().get_template(PROVIDERS[provider])
    return template.render(p=pipeline, actions=ACTIONS, generated=GENERATED)

"""Publishing a release: what a tag's builds made, where a fleet can get it.

A tag's release builds leave one directory per board x release
(`<board>-<release>/`: the image files, the SBOM, the CVE report, the
signed bundles).  `stage` gives every file a name unique across the
release (`<board>-<release>-<file>`: the same image file name comes from
both releases) beside a SHA256SUMS, and each destination takes that:

- **github**: a release of the tag, by `gh release create` with the job's
  token;
- **gitlab**: each file in the project's generic package registry, then a
  release of the tag linking them (the job token may do both);
- **hawkbit**: each *system* bundle as a software module of type `os` with
  its one artifact (hawkBit checks the sha256 as it takes the upload), in a
  distribution set of the same name at the tag's version: what
  rauc-hawkbit-updater on a device installs once an operator assigns or
  rolls it out.  Model bundles are not sent there: the updater installs
  through RAUC's D-Bus API, which would skip the model gate; a model bundle
  is installed with `edgegenai-model-rollout install`, from the release.

Credentials come from the environment only, never from arguments, which
land in logs and process lists.  Names come from the files the build made,
and a file whose name is not plain is refused rather than escaped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence

from .errors import UserError
from .fields import url_problem
from .ota import BUNDLE_RECIPE

SYSTEM_BUNDLE = f"{BUNDLE_RECIPE}-"  # ota's bundle recipe, deployed as <recipe>-<MACHINE>.raucb
BUNDLE_SUFFIX = ".raucb"
CHECKSUMS = "SHA256SUMS"
GENERIC_PACKAGE = "edgegenai"
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")
TAG_SAYS = "a tag name: letters, digits and '.', '_', '+', '-', starting with a letter or digit"
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
LOOPBACK = ("localhost", "127.0.0.1")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Asset:
    """One published file: its unique name, where it is, and which build made it."""

    name: str
    path: Path
    build: str  # <board>-<release>
    file: str  # its name as the build made it
    sha256: str

    @property
    def system_bundle(self) -> bool:
        return self.file.startswith(SYSTEM_BUNDLE) and self.file.endswith(BUNDLE_SUFFIX)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    for block in _file_body(path):
        digest.update(block)
    return digest.hexdigest()


def stage(builds: Path, out: Path) -> List[Asset]:
    """Every file of every build directory, linked into `out` under its release-wide name."""
    if not builds.is_dir():
        raise UserError(f"{builds}: no such directory (the release builds' artefacts)")
    problems, found = [], []
    for build in sorted(p for p in builds.iterdir() if p.is_dir()):
        if not _PLAIN.fullmatch(build.name):
            problems.append(f"{build.name[:60]!r}: a build directory's name must be plain "
                            "(letters, digits, '.', '_', '+', '-')")
            continue
        # Files only: logs and other trees stay in the CI's own artefacts.
        for f in sorted(p for p in build.iterdir() if p.is_file()):
            if not _PLAIN.fullmatch(f.name):
                problems.append(f"{build.name}/{f.name[:60]!r}: a published file's name must be "
                                "plain (letters, digits, '.', '_', '+', '-')")
                continue
            found.append((f"{build.name}-{f.name}", f, build.name))
    if problems:
        raise UserError(problems)
    if not found:
        raise UserError(f"{builds}: no files to publish")
    out.mkdir(parents=True, exist_ok=True)
    assets = []
    for name, path, build in found:
        target = out / name
        if target.exists():
            target.unlink()
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)
        assets.append(Asset(name, target, build, path.name, sha256(target)))
    (out / CHECKSUMS).write_text("".join(f"{a.sha256}  {a.name}\n" for a in assets), encoding="utf-8")
    return assets


def check_tag(tag: Optional[str]) -> str:
    if not tag:
        raise UserError("--tag: no tag given, and neither GITHUB_REF_NAME nor CI_COMMIT_TAG is set")
    if not _TAG.fullmatch(tag):
        raise UserError(f"--tag {tag[:60]!r}: must be {TAG_SAYS}")
    return tag


def check_server(url: str, option: str) -> str:
    """https, or http on the loopback only: credentials never cross a network in clear."""
    try:
        host = urllib.parse.urlsplit(url).hostname
    except ValueError:
        host = None
    schemes = ("https", "http") if host in LOOPBACK else ("https",)
    problem = url_problem(url, schemes)
    if problem:
        raise UserError(f"{option} {url[:60]!r}: {problem} (http only on the loopback)")
    return url.rstrip("/")


def _notes(tag: str, assets: Sequence[Asset]) -> str:
    lines = [f"edgegenai release {tag}: per board and release, the image files, the SBOM, the CVE "
             "report and the signed RAUC bundles. Check downloads against SHA256SUMS.", ""]
    lines += [f"- `{a.name}`" for a in assets]
    return "\n".join(lines) + "\n"


# -- GitHub --------------------------------------------------------------------

def to_github(out: Path, assets: Sequence[Asset], tag: str,
              run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> None:
    """A release of the tag with every asset and SHA256SUMS (gh reads GH_TOKEN itself)."""
    gh = shutil.which("gh")
    if not gh:
        raise UserError("gh (GitHub's command line) is not installed on this runner")
    notes = out / "RELEASE-NOTES.md"
    notes.write_text(_notes(tag, assets), encoding="utf-8")
    files = [str(a.path) for a in assets] + [str(out / CHECKSUMS)]
    result = run([gh, "release", "create", tag, "--verify-tag", "--title", tag,
                  "--notes-file", str(notes), "--", *files], check=False)
    if result.returncode != 0:
        raise UserError(f"gh release create {tag} failed (exit {result.returncode})")


# -- HTTP ----------------------------------------------------------------------

class _Http:
    """urllib with the credentials of one destination; a failed request is one line."""

    def __init__(self, headers: Dict[str, str], opener: Optional[Callable] = None):
        self.headers = headers
        self.open = opener or urllib.request.urlopen

    def __call__(self, method: str, url: str, body=None, headers: Optional[Dict[str, str]] = None):
        req = urllib.request.Request(url, data=body, method=method, headers={**self.headers, **(headers or {})})
        try:
            with self.open(req, timeout=600) as resp:
                data = resp.read()
        except urllib.error.HTTPError as err:
            detail = err.read(300).decode("utf-8", "replace").replace("\n", " ")
            raise UserError(f"{method} {_safe(url)}: HTTP {err.code} {detail}".rstrip()) from None
        except (urllib.error.URLError, OSError) as err:
            raise UserError(f"{method} {_safe(url)}: {getattr(err, 'reason', err)}") from None
        return json.loads(data) if data.strip() else None

    def json(self, method: str, url: str, payload) -> object:
        return self(method, url, json.dumps(payload).encode(), {"Content-Type": "application/json"})


def _safe(url: str) -> str:
    """A URL for an error line: without any query."""
    return url.split("?", 1)[0]


def _file_body(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        yield from iter(lambda: f.read(_CHUNK), b"")


def _multipart(path: Path, name: str) -> tuple:
    """A multipart/form-data body with the one part `file`, streamed: bundles are large."""
    boundary = "edgegenai-" + hashlib.sha256(name.encode()).hexdigest()[:32]
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + path.stat().st_size + len(tail)

    def body() -> Iterator[bytes]:
        yield head
        yield from _file_body(path)
        yield tail
    return body(), {"Content-Type": f"multipart/form-data; boundary={boundary}",
                    "Content-Length": str(length)}


# -- GitLab --------------------------------------------------------------------

def to_gitlab(assets: Sequence[Asset], out: Path, tag: str, api: str, project: str, token: str,
              opener: Optional[Callable] = None) -> List[str]:
    """Each file to the generic package registry, then the tag's release linking them; the URLs."""
    if not re.fullmatch(r"[0-9]{1,20}", project or ""):
        raise UserError("CI_PROJECT_ID: must be the project's number (GitLab sets it in a job)")
    if not token:
        raise UserError("CI_JOB_TOKEN is not set: publish from a GitLab job")
    http = _Http({"JOB-TOKEN": token}, opener)
    base = f"{api}/projects/{project}/packages/generic/{GENERIC_PACKAGE}/{tag}"
    links = []
    files = [(a.name, a.path) for a in assets] + [(CHECKSUMS, out / CHECKSUMS)]
    for name, path in files:
        http("PUT", f"{base}/{name}", _file_body(path),
             {"Content-Type": "application/octet-stream", "Content-Length": str(path.stat().st_size)})
        links.append({"name": name, "url": f"{base}/{name}", "link_type": "package"})
    http.json("POST", f"{api}/projects/{project}/releases",
              {"tag_name": tag, "name": tag, "description": _notes(tag, assets),
               "assets": {"links": links}})
    return [link["url"] for link in links]


# -- hawkBit -------------------------------------------------------------------

def to_hawkbit(assets: Sequence[Asset], tag: str, server: str, user: str, password: str,
               opener: Optional[Callable] = None) -> List[str]:
    """Each system bundle as an `os` module and a distribution set at version `tag`; their names."""
    if not user or not password:
        raise UserError("HAWKBIT_USER and HAWKBIT_PASSWORD must be set (the Management API's account)")
    bundles = [a for a in assets if a.system_bundle]
    if not bundles:
        raise UserError("no system bundle to publish to hawkBit (edgegenai-bundle-*.raucb: the "
                        "ota feature's); model bundles are installed through their gate, not hawkBit")
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    http = _Http({"Authorization": f"Basic {auth}", "Accept": "application/json"}, opener)
    api = f"{server}/rest/v1"
    names = []
    for b in bundles:
        name = b.name[:-len(BUNDLE_SUFFIX)]
        description = f"edgegenai system bundle for {b.build}, from tag {tag}"
        module = http.json("POST", f"{api}/softwaremodules",
                           [{"name": name, "version": tag, "type": "os", "description": description}])
        module_id = _created_id(module, "software module")
        body, headers = _multipart(b.path, b.name)
        http("POST", f"{api}/softwaremodules/{module_id}/artifacts?"
             + urllib.parse.urlencode({"filename": b.name, "sha256sum": b.sha256}), body, headers)
        dist = http.json("POST", f"{api}/distributionsets",
                         [{"name": name, "version": tag, "type": "os", "description": description,
                           "modules": [{"id": module_id}]}])
        _created_id(dist, "distribution set")
        names.append(f"{name}:{tag}")
    return names


def _created_id(reply, what: str) -> int:
    """The id of the one entity a hawkBit create call returns (a list of one)."""
    if isinstance(reply, list) and reply and isinstance(reply[0], dict) and isinstance(reply[0].get("id"), int):
        return reply[0]["id"]
    raise UserError(f"hawkBit did not return the created {what}'s id")

"""`edgegenai publish`: a release's files reach GitHub, GitLab and hawkBit as their APIs take them.

GitLab and hawkBit are played by a local HTTP server that answers the calls
the way their documented APIs do (hawkBit's Management API refuses an
artifact whose sha256sum does not match, as the real one does); GitHub by a
`gh` on PATH that records its arguments.  What is asserted is what arrives:
names, bytes, checksums, credentials.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from edgegenai import publish
from edgegenai.errors import UserError

from hostile import HOSTILE

TAG = "v1.2.0"


def _builds(root: Path) -> Path:
    """Two builds' artefacts as the release jobs leave them."""
    out = root / "release"
    for build, machine in (("qemux86-64-wrynose", "qemux86-64"), ("qemuarm64-scarthgap", "qemuarm64")):
        d = out / build
        (d / "boot-log").mkdir(parents=True)
        (d / "boot-log" / "console.log").write_text("not published\n")
        (d / f"edgegenai-image-{machine}.rootfs.wic").write_bytes(os.urandom(3000) + build.encode())
        (d / f"edgegenai-image-{machine}.rootfs.spdx.json").write_text('{"spdxVersion": "SPDX-2.2"}')
        (d / f"edgegenai-bundle-{machine}.raucb").write_bytes(os.urandom(5000) + build.encode())
        (d / f"edgegenai-model-bundle-smollm2-{machine}.raucb").write_bytes(os.urandom(700))
    return out


class _Fake(BaseHTTPRequestHandler):
    """GitLab's generic packages and releases, hawkBit's software modules and distribution sets."""

    calls: list = []
    fail_upload = False

    def log_message(self, *args):
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding") == "chunked":
            raise AssertionError("streamed without Content-Length")
        return self.rfile.read(int(self.headers["Content-Length"]))

    def _reply(self, code: int, payload=None):
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        body = self._body()
        self.calls.append(("PUT", self.path, self.headers, body))
        self._reply(201, {"message": "201 Created"})

    def do_POST(self):
        body = self._body()
        url = urlsplit(self.path)
        self.calls.append(("POST", self.path, self.headers, body))
        if url.path.endswith("/releases"):
            return self._reply(201, {"tag_name": json.loads(body)["tag_name"]})
        if url.path == "/rest/v1/softwaremodules":
            return self._reply(201, [{"id": 40 + len(self.calls), **json.loads(body)[0]}])
        if url.path.startswith("/rest/v1/softwaremodules/") and url.path.endswith("/artifacts"):
            content = _multipart_file(self.headers["Content-Type"], body)
            wanted = parse_qs(url.query)["sha256sum"][0]
            if self.fail_upload or hashlib.sha256(content).hexdigest() != wanted:
                return self._reply(400, {"errorCode": "hawkbit.server.error.artifact.uploadFailed.checksum.sha256.match"})
            return self._reply(201, {"id": 7, "hashes": {"sha256": wanted}, "size": len(content)})
        if url.path == "/rest/v1/distributionsets":
            return self._reply(201, [{"id": 90, **json.loads(body)[0]}])
        self._reply(404, {"message": "no such endpoint"})


def _multipart_file(content_type: str, body: bytes) -> bytes:
    boundary = content_type.split("boundary=", 1)[1].encode()
    parts = body.split(b"--" + boundary)
    assert parts[-1].strip() == b"--", "the body ends with the closing boundary"
    (part,) = [p for p in parts if b'name="file"' in p]
    return part.split(b"\r\n\r\n", 1)[1][:-2]


@pytest.fixture
def server():
    _Fake.calls = []
    _Fake.fail_upload = False
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Fake
    httpd.shutdown()
    httpd.server_close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_stage_names_every_file_uniquely_with_checksums_sha256sum_accepts(tmp_path):
    assets = publish.stage(_builds(tmp_path), tmp_path / "out")
    names = [a.name for a in assets]
    assert len(names) == len(set(names)) == 8
    assert "qemux86-64-wrynose-edgegenai-bundle-qemux86-64.raucb" in names
    assert not any("console.log" in n for n in names)  # logs stay in the CI's artefacts
    run = subprocess.run(["sha256sum", "--check", "--strict", publish.CHECKSUMS], cwd=tmp_path / "out",
                         capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.count(": OK") == 8, run.stdout + run.stderr
    assert [a.name for a in assets if a.system_bundle] == [
        "qemuarm64-scarthgap-edgegenai-bundle-qemuarm64.raucb",
        "qemux86-64-wrynose-edgegenai-bundle-qemux86-64.raucb"]


def test_gitlab_gets_every_file_then_a_release_linking_them(tmp_path, server):
    url, fake = server
    assets = publish.stage(_builds(tmp_path), tmp_path / "out")
    urls = publish.to_gitlab(assets, tmp_path / "out", TAG, f"{url}/api/v4", "1234", "job-secret")
    puts = [c for c in fake.calls if c[0] == "PUT"]
    assert len(puts) == 9  # 8 files and SHA256SUMS
    for a in assets:
        (call,) = [c for c in puts if c[1] == f"/api/v4/projects/1234/packages/generic/edgegenai/{TAG}/{a.name}"]
        assert call[3] == a.path.read_bytes() and call[2]["JOB-TOKEN"] == "job-secret"
    (release,) = [c for c in fake.calls if c[1] == "/api/v4/projects/1234/releases"]
    body = json.loads(release[3])
    assert body["tag_name"] == TAG
    assert [link["url"] for link in body["assets"]["links"]] == urls
    assert {link["name"] for link in body["assets"]["links"]} == {a.name for a in assets} | {"SHA256SUMS"}


def test_hawkbit_gets_each_system_bundle_as_module_artifact_and_distribution_set(tmp_path, server):
    url, fake = server
    assets = publish.stage(_builds(tmp_path), tmp_path / "out")
    sets = publish.to_hawkbit(assets, TAG, url, "ci", "s3cret")
    assert sets == [f"qemuarm64-scarthgap-edgegenai-bundle-qemuarm64:{TAG}",
                    f"qemux86-64-wrynose-edgegenai-bundle-qemux86-64:{TAG}"]
    auth = "Basic " + base64.b64encode(b"ci:s3cret").decode()
    assert all(c[2]["Authorization"] == auth for c in fake.calls)
    uploads = [c for c in fake.calls if c[1].startswith("/rest/v1/softwaremodules/")]
    assert len(uploads) == 2
    for bundle in (a for a in assets if a.system_bundle):
        (up,) = [c for c in uploads if f"filename={bundle.name}" in c[1]]
        assert _multipart_file(up[2]["Content-Type"], up[3]) == bundle.path.read_bytes()
        assert int(up[2]["Content-Length"]) == len(up[3])
    modules = [json.loads(c[3])[0] for c in fake.calls if c[1] == "/rest/v1/softwaremodules"]
    assert {(m["type"], m["version"]) for m in modules} == {("os", TAG)}
    dists = [json.loads(c[3])[0] for c in fake.calls if c[1] == "/rest/v1/distributionsets"]
    assert [d["modules"] for d in dists] == [[{"id": 41}], [{"id": 44}]]
    # Model bundles go through their gate, never to hawkBit.
    assert not any(b"model-bundle" in c[1].encode() for c in fake.calls)


def test_hawkbit_refusing_an_upload_is_one_line(tmp_path, server):
    url, fake = server
    fake.fail_upload = True
    assets = publish.stage(_builds(tmp_path), tmp_path / "out")
    with pytest.raises(UserError) as err:
        publish.to_hawkbit(assets, TAG, url, "ci", "s3cret")
    (line,) = err.value.problems
    assert "HTTP 400" in line and "checksum" in line and "s3cret" not in line


def test_github_release_is_made_by_gh_with_every_file(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(f"#!{sys.executable}\nimport json, sys\n"
                  f"open({str(tmp_path / 'gh.json')!r}, 'w').write(json.dumps(sys.argv[1:]))\n")
    gh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assets = publish.stage(_builds(tmp_path), tmp_path / "out")
    publish.to_github(tmp_path / "out", assets, TAG)
    args = json.loads((tmp_path / "gh.json").read_text())
    assert args[:5] == ["release", "create", TAG, "--verify-tag", "--title"]
    files = args[args.index("--") + 1:]
    assert sorted(Path(f).name for f in files) == sorted([a.name for a in assets] + ["SHA256SUMS"])


def _cli(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "edgegenai", "publish", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, cwd=cwd)


def test_cli_publishes_to_gitlab_and_hawkbit_from_the_ci_environment(tmp_path, server):
    url, fake = server
    _builds(tmp_path)
    run = _cli("release", "--gitlab", "--hawkbit", url, cwd=tmp_path,
               env={"CI_COMMIT_TAG": TAG, "CI_API_V4_URL": f"{url}/api/v4", "CI_PROJECT_ID": "7",
                    "CI_JOB_TOKEN": "t", "HAWKBIT_USER": "u", "HAWKBIT_PASSWORD": "p"})
    assert run.returncode == 0, run.stderr
    assert "hawkBit distribution set qemux86-64-wrynose-edgegenai-bundle-qemux86-64:v1.2.0" in run.stderr
    assert len([c for c in fake.calls if c[0] == "PUT"]) == 9


@pytest.mark.parametrize("args,env,says", [
    (["--gitlab"], {"CI_COMMIT_TAG": "v1;rm"}, "--tag"),
    (["--github", "--tag", "$(id)"], {}, "--tag"),
    (["--hawkbit", "http://hawkbit.example.com"], {"CI_COMMIT_TAG": TAG}, "http only on the loopback"),
    (["--hawkbit", "https://h.example.com/${@os.system('id')}"], {"CI_COMMIT_TAG": TAG}, "--hawkbit"),
    (["--github"], {"GITHUB_REF_NAME": "", "CI_COMMIT_TAG": ""}, "no tag given"),
    ([], {"CI_COMMIT_TAG": TAG}, "say where"),
])
def test_bad_input_is_one_line_exit_2_nothing_published(tmp_path, args, env, says):
    _builds(tmp_path)
    run = _cli("release", *args, env={"GITHUB_REF_NAME": "", "CI_COMMIT_TAG": "", **env}, cwd=tmp_path)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and says in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "release-assets").exists()


# Names a file can have (no '/', no NUL, not empty, at most 255 bytes) that are not plain.
FILE_NAMES = {k: v[:250] for k, v in HOSTILE.items() if v and "/" not in v and "\x00" not in v}


@pytest.mark.parametrize("name", FILE_NAMES.values(), ids=FILE_NAMES.keys())
def test_hostile_file_names_are_refused_not_escaped(tmp_path, name):
    builds = _builds(tmp_path)
    if name in (".", ".."):
        builds = tmp_path / "other"
        (builds / "qemux86-64-wrynose").mkdir(parents=True)
        (builds / "qemux86-64-wrynose" / ".hidden").write_bytes(b"x")
    else:
        (builds / "qemux86-64-wrynose" / name).write_bytes(b"x")
    with pytest.raises(UserError) as err:
        publish.stage(builds, tmp_path / "out")
    assert all("must be plain" in line for line in err.value.problems)
    assert not (tmp_path / "out").exists()

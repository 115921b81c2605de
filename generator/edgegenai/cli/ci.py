"""`edgegenai ci [SPEC] --github|--gitlab [-o FILE]`: the CI pipeline for the spec.

Prints (or writes to FILE) a GitHub Actions workflow or a GitLab CI
configuration that, on every push and merge request:

\b
  check  edgegenai generate --check, edgegenai check, and real BitBake
         (-p and -g <image>) for every board x release, offline, on the
         upstream layers kas checks out at their pinned commits
  build  one job per board x release: kas in its container, downloads
         and shared state cached, QEMU boards booted and tested
         (edgegenai test); artefacts: the image files, the SBOM (SPDX 3.0
         on wrynose, 2.2 on scarthgap) and the CVE report (kas/opt/cve.yml);
         with ota or model-rollout, the bundles signed with development keys

and, on a tag v* (GitHub: the workflow --release renders, beside the other):

\b
  release production images and bundles, built without the CI cache, the
         bundles signed with the keys in the CI's secrets (kas/opt/rauc-keys.yml)
  publish a release of the tag (edgegenai publish): GitHub releases or
         GitLab's package registry, and hawkBit with --hawkbit

SPEC is the spec's path inside the repository, as the pipeline will read
it (default: the built-in spec).  Builds share work the BitBake way: give
an sstate mirror (--sstate-mirror) and a hash-equivalence server
(--hashserve) for builders that do not share a disk.  A board whose build
needs restricted licence terms (kas/opt/<flag>.yml) is refused until the
flag is accepted with --accept FLAG: the pipeline never accepts terms on
its own.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from .. import pipeline as pipeline_mod
from ..catalog import load_catalog
from ..errors import UserError
from ..spec import load_spec


@click.command("ci", help=__doc__, short_help="Render the CI pipeline (GitHub or GitLab) for the spec.")
@click.argument("spec_file", metavar="[SPEC]", required=False)
@click.option("--github", "provider", flag_value="github", help="A GitHub Actions workflow.")
@click.option("--gitlab", "provider", flag_value="gitlab", help="A GitLab CI configuration.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write it there instead of standard output (e.g. "
                   f"{pipeline_mod.CONFIG_PATHS['github']}, {pipeline_mod.CONFIG_PATHS['github-release']} or "
                   f"{pipeline_mod.CONFIG_PATHS['gitlab']}).")
@click.option("--runner", "runner", multiple=True, metavar="LABEL",
              help="Runner label of the build jobs (repeatable) "
                   f"[default: {', '.join(pipeline_mod.DEFAULT_RUNNER)}; GitHub only].")
@click.option("--sstate-mirror", default="", metavar="URL",
              help="https URL of a shared-state mirror (SSTATE_MIRRORS).")
@click.option("--hashserve", default="", metavar="HOST:PORT",
              help="Hash equivalence server (BB_HASHSERVE_UPSTREAM), host:port or ws(s):// URL.")
@click.option("--accept", multiple=True, metavar="FLAG",
              help="Accept the terms of licence flag FLAG in the builds (repeatable).")
@click.option("--install", default=pipeline_mod.__version__, show_default=True, metavar="VERSION|URL",
              help="What the pipeline installs edgegenai from: a version, or an https URL of a "
                   "wheel or source archive.")
@click.option("--release", is_flag=True,
              help="GitHub: the release workflow (tags v*) instead of the push one; GitLab has "
                   "both in its one configuration.")
@click.option("--hawkbit", default="", metavar="URL",
              help="hawkBit server (https) the publish job gives the system bundles to.")
def command(spec_file, provider, output, runner, sstate_mirror, hashserve, accept, install, release,
            hawkbit):
    if provider is None:
        raise UserError("say which CI: --github or --gitlab")
    if release and provider == "gitlab":
        raise UserError("--release: GitLab's one configuration has the release jobs already; "
                        "leave --release out")
    spec = load_spec(Path(spec_file) if spec_file else None)
    planned = pipeline_mod.plan(spec, load_catalog(), spec_path=spec_file, runner=runner,
                                sstate_mirror=sstate_mirror, hashserve=hashserve, accept=accept,
                                install=install, hawkbit=hawkbit)
    text = pipeline_mod.render_ci(planned, f"{provider}-release" if release else provider)
    if output is None:
        click.echo(text, nl=False)
        return
    _write(output, text)
    click.echo(f"edgegenai: wrote {output} ({len(planned.builds)} builds)", err=True)


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a temporary file beside it, renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise

"""`edgegenai publish DIR --github | --gitlab | --hawkbit URL`: publish a release's artefacts.

DIR holds one directory per board x release, as the pipeline's release
builds leave them (`<board>-<release>/`: image files, SBOM, CVE report,
signed bundles).  Every file is published under `<board>-<release>-<file>`
with a SHA256SUMS beside them:

\b
  --github        a GitHub release of the tag (gh, with GH_TOKEN)
  --gitlab        the project's generic package registry and a release of
                  the tag (CI_API_V4_URL, CI_PROJECT_ID, CI_JOB_TOKEN)
  --hawkbit URL   each system bundle as a distribution set at the tag's
                  version, for rauc-hawkbit-updater (HAWKBIT_USER,
                  HAWKBIT_PASSWORD: a Management API account)

The tag is --tag, else GITHUB_REF_NAME or CI_COMMIT_TAG.  Credentials are
read from the environment only.  Model bundles never go to hawkBit: its
updater would install them without the model gate.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from .. import publish
from ..errors import UserError


@click.command("publish", help=__doc__, short_help="Publish a release's images, SBOMs and bundles.")
@click.argument("builds", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("--github", "dest", flag_value="github", help="A GitHub release of the tag.")
@click.option("--gitlab", "dest", flag_value="gitlab", help="GitLab's package registry and a release.")
@click.option("--hawkbit", "hawkbit", default="", metavar="URL",
              help="hawkBit server (https) that gets the system bundles.")
@click.option("--tag", default=None, help="The release's tag [default: from the CI].")
@click.option("--staging", type=click.Path(file_okay=False, path_type=Path), default=Path("release-assets"),
              show_default=True, help="Where the files are gathered under their published names.")
def command(builds, dest, hawkbit, tag, staging):
    if not dest and not hawkbit:
        raise UserError("say where: --github, --gitlab or --hawkbit URL")
    tag = publish.check_tag(tag or os.environ.get("GITHUB_REF_NAME") or os.environ.get("CI_COMMIT_TAG"))
    server = publish.check_server(hawkbit, "--hawkbit") if hawkbit else ""
    if dest == "gitlab":
        api = publish.check_server(os.environ.get("CI_API_V4_URL", ""), "CI_API_V4_URL")
    assets = publish.stage(builds, staging)
    click.echo(f"edgegenai: {len(assets)} files staged in {staging} with {publish.CHECKSUMS}", err=True)
    if dest == "github":
        publish.to_github(staging, assets, tag)
        click.echo(f"edgegenai: published release {tag} on GitHub", err=True)
    elif dest == "gitlab":
        urls = publish.to_gitlab(assets, staging, tag, api, os.environ.get("CI_PROJECT_ID", ""),
                                 os.environ.get("CI_JOB_TOKEN", ""))
        click.echo(f"edgegenai: published release {tag} on GitLab ({len(urls)} files)", err=True)
    if server:
        sets = publish.to_hawkbit(assets, tag, server, os.environ.get("HAWKBIT_USER", ""),
                                  os.environ.get("HAWKBIT_PASSWORD", ""))
        for name in sets:
            click.echo(f"edgegenai: hawkBit distribution set {name}", err=True)

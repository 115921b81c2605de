"""`edgegenai bundle BOARD [build's options]`: build BOARD's signed RAUC bundles.

The ota feature gives the layer the system bundle (`edgegenai-bundle`: the
image's root file system for the other A/B slot), the model-rollout feature
one bundle recipe per served model (`edgegenai-model-bundle-<model>`); this
runs kas for BOARD with those recipes as targets and lists the bundles
(`*.raucb`) in the deploy directory.  Signing needs keys: `--opt rauc-dev-keys` for development, or
EDGEGENAI_RAUC_KEY, EDGEGENAI_RAUC_CERT and EDGEGENAI_RAUC_KEYRING set in
the build's configuration for a release; without either the build stops at
the first bundle, saying so.  On the device: `rauc install <system bundle>`
then a reboot, or `edgegenai-model-rollout install <model bundle>`.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import click

from .. import rauc
from ..builder import artefacts
from ..errors import UserError
from ..spec import load_spec
from .build import build_options, run_build


def collect(deploy: Path) -> List[artefacts.Artefact]:
    """The bundles under their stable names (the symlinks meta-rauc's deploy makes)."""
    if not deploy.is_dir():
        return []
    bundles = [p for p in deploy.iterdir() if p.name.endswith(".raucb")]
    chosen = [p for p in bundles if p.is_symlink()] or bundles
    return [artefacts.Artefact(p, p.stat().st_size, "bundle") for p in sorted(chosen) if p.exists()]


@click.command("bundle")
@click.argument("board")
@build_options
def command(board, release, opts, container, dl_dir, sstate_dir, sstate_mirrors, hashserve,
            repo, spec_file, min_free_gb):
    """Build BOARD's signed bundles (the ota and model-rollout features) with kas."""
    spec = load_spec(spec_file)
    targets = rauc.bundle_recipes(repo / "meta-edgegenai")
    if not targets:
        raise UserError(f"no bundle recipes in {repo / 'meta-edgegenai'}: add "
                        f"{' or '.join(repr(f) for f in rauc.FEATURES)} to image.features "
                        f"and run edgegenai generate")
    run_build(board, release, opts, container, dl_dir, sstate_dir, sstate_mirrors, hashserve,
              repo, spec, min_free_gb, targets=targets, collect=collect)

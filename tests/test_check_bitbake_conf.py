"""The build configuration `edgegenai check --bitbake` writes (no BitBake needed)."""

from __future__ import annotations

from edgegenai.checks import Workspace, bitbake


def test_licence_flags_of_the_layer_are_accepted_for_the_graph_only(tmp_path):
    """A restricted firmware recipe must not drop out of the task graph being checked."""
    recipe = tmp_path / "meta-edgegenai" / "recipes-bsp" / "fw" / "fw_1.0.bb"
    recipe.parent.mkdir(parents=True)
    recipe.write_text('LICENSE = "Proprietary"\nLICENSE_FLAGS = "vendor-firmware"\n')
    ws = Workspace(tmp_path)
    assert bitbake.licence_flags(ws) == ["vendor-firmware"]
    bitbake.write_build_dir(tmp_path / "build", [], "qemuarm64", "edgegenai", bitbake.licence_flags(ws))
    local = (tmp_path / "build" / "conf" / "local.conf").read_text()
    assert 'LICENSE_FLAGS_ACCEPTED = "vendor-firmware"\n' in local

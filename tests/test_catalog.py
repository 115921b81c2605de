"""The catalog's data files: strictly validated, pins in full."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edgegenai.catalog import Accelerator, Driver, RepoPin, Stack


def test_every_release_pins_every_repo_by_full_commit(catalog):
    for release in catalog.releases.values():
        assert {"bitbake", "openembedded-core", "meta-yocto"} <= set(release.repos)
        assert all(len(pin.commit) == 40 for pin in release.repos.values())


@pytest.mark.parametrize("commit", ["82764d8", "wrynose", "yocto-6.0.2", "A" * 40])
def test_a_commit_must_be_a_full_lowercase_sha(commit):
    with pytest.raises(ValidationError, match="must be a full commit"):
        RepoPin(url="https://example.com/x", branch="main", commit=commit)


def test_every_layer_collection_lives_in_a_pinned_repo(catalog):
    for release in catalog.releases.values():
        for layer in catalog.layers.values():
            assert layer.repo in release.repos, f"{layer.name}: no {layer.repo} pin on {release.name}"


def test_accelerators_name_known_stacks_and_capabilities(catalog):
    capabilities = {c.partition("@")[0] for b in catalog.boards.values() for c in b.capabilities}
    for acc in catalog.accelerators.values():
        assert acc.stack in catalog.stacks
        assert set(acc.needs) <= capabilities


def test_delegates_name_known_interpreters(catalog):
    with_delegate = [a for a in catalog.accelerators.values() if a.interpreter]
    assert with_delegate
    for acc in with_delegate:
        interp = catalog.interpreters[acc.interpreter]
        assert "{delegate}" in interp.probe
        for f in interp.licence_files:
            assert f.license is None or f.license in interp.license.split(" & ")
    for release in catalog.releases.values():
        assert release.python.count(".") == 1


def test_a_delegate_runtime_is_built_from_its_interpreter_s_release(catalog):
    """libedgetpu compiles TensorFlow Lite code into itself: the same LiteRT as the interpreter."""
    interp = catalog.interpreters[catalog.accelerators["coral-pcie"].interpreter]
    litert = next(b for b in catalog.stacks["gasket"].runtime.bundled if b.name == "litert")
    assert litert.tag == f"v{interp.pv}"


def test_a_delegate_comes_with_its_interpreter(catalog):
    acc = catalog.accelerators["rk3588-npu"].model_dump()
    acc["delegate"] = None
    with pytest.raises(ValidationError, match="interpreter and delegate go together"):
        Accelerator(**acc)


def test_driver_pins_are_validated_too():
    with pytest.raises(ValidationError):
        Driver(recipe="x", summary="x", homepage="x", pv="1", src_uri="git://x", srcrev="main",
               license="MIT", lic_files_chksum="", module_dir=".")


def test_runtime_licence_covers_every_bundled_project(catalog):
    """A project built into a runtime brings its licence into the recipe's LICENSE."""
    runtimes = [s.runtime for s in catalog.stacks.values() if s.runtime]
    assert runtimes
    for runtime in runtimes:
        declared = set(runtime.license.split(" & "))
        for dep in runtime.bundled:
            missing = set(dep.license.split(" & ")) - declared
            assert not missing, f"{runtime.recipe}: {dep.name} is {dep.license}, LICENSE lacks {missing}"


def test_a_stack_refuses_a_part_of_another_version(catalog):
    """Driver, firmware and runtime are pinned together: bumping one alone fails at load."""
    stack = catalog.stacks["hailort-5"].model_dump()
    stack["runtime"]["pv"] = "5.2.0"
    with pytest.raises(ValidationError, match="runtime hailort is 5.2.0, not the stack's version 5.3.0"):
        Stack(**stack)
    stack = catalog.stacks["hailort-4"].model_dump()
    stack["driver"]["pv"] = "4.22.0"
    with pytest.raises(ValidationError, match="driver hailo-pci is 4.22.0"):
        Stack(**stack)
    assert Stack(**catalog.stacks["gasket"].model_dump()).driver.pv == "1.0.18+git"
    # Coral releases its runtime apart from the driver: it is not held to the stack's version.
    assert catalog.stacks["gasket"].runtime.pv == "16.0+git"
    stack = catalog.stacks["gasket"].model_dump()
    stack["runtime"]["stack_versioned"] = True
    with pytest.raises(ValidationError, match="runtime libedgetpu is 16.0"):
        Stack(**stack)


def test_every_engine_file_has_its_template(catalog):
    """An engine is data plus templates: each file its server names must be renderable."""
    from edgegenai.render import templates_dir

    for engine in catalog.engines.values():
        base = templates_dir() / "layer" / "engines" / engine.name
        names = ["oeqa.py.j2"] + (["recipe.bb.j2"] if engine.recipe else [])
        if engine.service:
            names += ["service.bb.j2"]
            names += [f"files/{f}.j2" for f in engine.service.files + engine.service.key_files]
            assert any(f.endswith(".service") for f in engine.service.files), engine.name
        else:
            assert not engine.server, f"{engine.name}: a server needs a service"
        missing = [n for n in names if not (base / n).is_file()]
        assert not missing, f"{engine.name}: no template {missing}"

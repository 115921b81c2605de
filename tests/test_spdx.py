"""The model in the SPDX 3 SBOM: edgegenai_model_spdx.bbclass and lib/edgegenai_layer/sbom.py.

The model's facts come from a manifest.json made by running the model
class's own do_compile and do_install (a stand-in quantiser for a file
quantised in the build).  The layer's library then adds the model to a
package document that stands for the one OE-core's do_create_spdx writes:
- one built with spdx-python-model in the shape create_spdx() gives it
  (runs everywhere, CI included);
- one built by OE-core's own code (oe.sbom30, oe.spdx30_tasks) at each of
  the layer's pins, taken on as do_create_package_spdx takes it and linked
  from an image-style SBOM (oe.sbom30.create_sbom); skipped where the
  checkouts are absent (EDGEGENAI_BITBAKE_ROOT, default ~/yocto/src:
  <release>/bitbake and <release>/openembedded-core).
spdx3-validate checks the documents against SPDX 3.0.1's JSON Schema and
SHACL shapes.  It reads them, and the JSON-LD context, from spdx.org, which
neither this machine nor CI reaches, and no package registry carries them:
the tests serve copies from EDGEGENAI_SPDX_MODEL_DIR (default
~/.cache/edgegenai/spdx/3.0.1), checked against the sha256s below, and
skip, saying so, where they are absent.  The copies are the SPDX 3.0.1
specification's files (Community-Spec-1.0) as spdx.org/rdf/3.0.1/ serves
them from the `gh-pages` branch of github.com/spdx/spdx-spec (commit
954412d7328bdab4dbdc52cb201a66f0195ebbc8, files v3.0.1/rdf/spdx-model.ttl,
spdx-context.jsonld and schema.json).  Where they are absent, the
documents are still read back through spdx-python-model, SPDX's own
bindings generated from the same model, which refuse a wrong type,
enumeration value or reference.

Run as a script (`test_spdx.py oe ...`), this file is the OE-core side,
in a process of its own: OE-core's and BitBake's modules of one release
must not meet another release's.
"""

from __future__ import annotations

import datetime
import email.message
import hashlib
import importlib
import io
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
import urllib.response
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SPDX_FILES = Path(os.environ.get("EDGEGENAI_SPDX_MODEL_DIR")
                  or Path.home() / ".cache" / "edgegenai" / "spdx" / "3.0.1")
# address: (file in SPDX_FILES, media type, sha256 of the copy the tests were written against)
OFFLINE = {
    "https://spdx.org/rdf/3.0.1/spdx-context.jsonld":
        ("spdx-context.jsonld", "application/ld+json",
         "c72b0928f094c83e5c127784edb1ebca2af74a104fcacc007c332b23cbc788bd"),
    "https://spdx.org/rdf/3.0.1/spdx-model.ttl":
        ("spdx-model.ttl", "text/turtle", "1e6df676d5a4108de90362170b0933da53f929ae8147453cea0dffadb804fae5"),
    "https://spdx.org/schema/3.0.1/spdx-json-schema.json":
        ("spdx-json-schema.json", "application/json",
         "59f59713c7d73ff0d833f4f468df974a689fc9dd36dc5510f1875ff85d276c54"),
}
CHECKOUTS = Path(os.environ.get("EDGEGENAI_BITBAKE_ROOT") or Path.home() / "yocto" / "src")
RELEASES = ("wrynose", "scarthgap")
LAYER = "meta-edgegenai"
QUANTISED = {"boards": ["qemux86-64"], "models": [{"name": "smollm2-135m-instruct", "quantize": {"default": "Q4_K_M"}}]}
PUBLISHED = {"boards": ["qemux86-64"], "models": ["smollm2-360m-instruct-q4-k-m"]}
NOASSERTION_LICENSE = "https://spdx.org/rdf/3.0.1/terms/ExpandedLicensing/NoAssertionLicense"
# What the stand-in quantiser prints first, as llama-quantize does.
QUANTISER_BUILD = "4589 (1d5b0c2e)"


# -- the layer, its recipe and its installed files ----------------------------------

def _layer(raw: dict) -> dict:
    from edgegenai.render import render
    from edgegenai.spec import parse_spec
    return render(parse_spec(raw))


def _recipe(files: dict) -> dict:
    """The model recipe's variables, with the model class's defaults for those it leaves unset."""
    [(path, text)] = [(p, t) for p, t in files.items() if p.startswith(f"{LAYER}/recipes-models/")
                      and re.search(r"^inherit edgegenai_model$", t, re.M)]
    pn, pv = re.fullmatch(r"(.+)_(.+)\.bb", path.rsplit("/", 1)[1]).groups()
    values = dict(re.findall(r'^([A-Z_0-9]+(?:\[[a-z0-9]+\])?) = "(.*?)"$', text, re.M))
    # The class's plain defaults (those that expand nothing).
    defaults = {k: v for k, v in re.findall(r'^(MODEL_[A-Z0-9_]+) \?= "(.*)"$',
                                              files[f"{LAYER}/classes/edgegenai_model.bbclass"], re.M)
                if "$" not in v}
    values = {**defaults, "MODEL_LICENSE": values["LICENSE"],
              "MODEL_DOWNLOAD": f"{pn}-{pv}-{values['MODEL_FILE']}", **values}
    return {**values, "PN": pn, "PV": pv, "MODEL_SHA256": values["SRC_URI[sha256sum]"],
            "MODEL_DIR": "/usr/share/edgegenai/models"}


def _function(bbclass: str, name: str) -> str:
    return re.search(rf"^{name}\(\) \{{\n(.*?)^\}}", bbclass, re.S | re.M).group(1)


def _install(tmp: Path, files: dict, recipe: dict) -> Path:
    """PKGDEST: the package's files as the class's do_compile and do_install make them (/bin/sh -e)."""
    bbclass = files[f"{LAYER}/classes/edgegenai_model.bbclass"]
    work, pkgdest, bindir = tmp / "work", tmp / "packages-split", tmp / "bin"
    for folder in (work, pkgdest, bindir):
        folder.mkdir(parents=True)
    (work / recipe["MODEL_DOWNLOAD"]).write_bytes(b"GGUF published weights of " + recipe["PN"].encode())
    # A quantiser that prints its build first, as llama-quantize does.
    (bindir / "llama-quantize").write_text(
        f'#!/bin/sh\necho "version: {QUANTISER_BUILD}"\necho "built with cc"\n'
        'cat "$1" > "$2"\nprintf " quantised to %s" "$3" >> "$2"\n')
    (bindir / "llama-quantize").chmod(0o755)
    values = {**recipe, "MODEL_SRCDIR": str(work), "B": str(work), "D": str(pkgdest / recipe["PN"]),
              "MODEL_QUANT_THREADS": "2"}
    script = "bbfatal() { echo \"$*\" >&2; exit 1; }\n"
    for name in ("do_compile", "do_install"):
        body = re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: values[m.group(1)], _function(bbclass, name))
        assert "${" not in body
        script += f"{name}() {{\n{body}}}\n"
    proc = subprocess.run(["/bin/sh", "-e", "-c", script + "do_compile\ndo_install\n"],
                          capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stderr
    return pkgdest


def _manifest(pkgdest: Path, recipe: dict) -> dict:
    folder = pkgdest / recipe["PN"] / recipe["MODEL_DIR"].lstrip("/") / recipe["MODEL_NAME"]
    return json.loads((folder / "manifest.json").read_text())


@pytest.fixture(scope="module")
def sbom(tmp_path_factory):
    """The layer library's sbom module, as rendered (named edgegenai_layer, as addpylib imports it)."""
    root = tmp_path_factory.mktemp("layer-lib")
    for path, text in _layer(PUBLISHED).items():
        if path.startswith(f"{LAYER}/lib/edgegenai_layer/"):
            target = root / path[len(f"{LAYER}/lib/"):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("edgegenai_layer.sbom")
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == "edgegenai_layer" or n.startswith("edgegenai_layer.")]:
            del sys.modules[name]


def _model(case: str, tmp_path_factory) -> dict:
    """A model recipe, its installed files (PKGDEST) and their manifest."""
    files = _layer(QUANTISED if case == "quantised" else PUBLISHED)
    recipe = _recipe(files)
    pkgdest = _install(tmp_path_factory.mktemp(case), files, recipe)
    return {"case": case, "files": files, "recipe": recipe, "pkgdest": pkgdest,
            "manifest": _manifest(pkgdest, recipe)}


@pytest.fixture(scope="module", params=["quantised", "published"])
def model(request, tmp_path_factory):
    return _model(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def quantised(tmp_path_factory):
    """The model quantised in the build: what the OE-core runs take (the other's elements are fewer)."""
    return _model("quantised", tmp_path_factory)


def _fields(sbom, recipe: dict, manifest: dict) -> dict:
    """The fields as write_package_spdx() reads them from the recipe."""
    return sbom.describe_model(manifest, version=recipe["PV"],
                             url=recipe["MODEL_SOURCE_URL"] or sbom.find_download_url(recipe["SRC_URI"]),
                             homepage=recipe["HOMEPAGE"], summary=recipe["SUMMARY"])


# -- validation, offline -------------------------------------------------------------

class _SpdxOrgCopies(urllib.request.BaseHandler):
    """Answers the three spdx.org addresses spdx3-validate and rdflib read, from SPDX_FILES."""

    handler_order = 100  # before urllib's own http(s) handlers

    def https_open(self, req):
        if req.full_url not in OFFLINE:
            raise urllib.error.URLError(f"no network in this test: {req.full_url}")
        name, kind, _ = OFFLINE[req.full_url]
        headers = email.message.Message()
        headers["Content-Type"] = kind
        response = urllib.response.addinfourl(io.BytesIO((SPDX_FILES / name).read_bytes()), headers,
                                              req.full_url, 200)
        response.msg = "OK"
        return response

    http_open = https_open


# rdflib, under spdx3-validate, uses its own deprecated ConjunctiveGraph.
RDFLIB_WARNINGS = pytest.mark.filterwarnings("ignore::DeprecationWarning:rdflib")


@pytest.fixture(scope="module")
def validate():
    """spdx3_validate.validate(), reading SPDX 3.0.1's schema, shapes and context from the copies."""
    spdx3_validate = pytest.importorskip("spdx3_validate")
    for name, _, sha256 in OFFLINE.values():
        path = SPDX_FILES / name
        if not path.is_file():
            pytest.skip(f"spdx3-validate needs SPDX 3.0.1's {name} from spdx.org, which is not reachable: "
                        f"put a copy in {SPDX_FILES} (EDGEGENAI_SPDX_MODEL_DIR)")
        if hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
            pytest.skip(f"{path} is not the copy these tests were written against (sha256 {sha256})")
    urllib.request.install_opener(urllib.request.build_opener(_SpdxOrgCopies()))
    try:
        yield spdx3_validate.validate
    finally:
        urllib.request.install_opener(None)


# -- the package document: a stand-in shaped as OE-core's --------------------------

def _standin(spdx, recipe: dict, pkgdest: Path, supplier: bool = True):
    """The package document create_spdx() stages, built with spdx-python-model.

    As OE-core makes it: the software_Package with purpose install (the
    document's root), the recipe's Build that has it as output, its licence
    (a LicenseExpression, declared as wrynose does), and a software_File with
    its sha256 for each installed file, which the package contains.  The
    Build and the licence live in OE-core's build document; here they are in
    the same one, so that it validates alone.
    """
    pn = recipe["PN"]
    namespace = f"http://spdx.org/spdxdocs/{pn}-00000000-0000-5000-8000-000000000000"
    unihash = "ab" * 32

    def new_id(*parts):
        return "/".join([namespace, unihash] + [re.sub(r"[^a-zA-Z0-9_-]", "_", p) for p in parts])

    creation = spdx.CreationInfo(specVersion="3.0.1",
                                 created=datetime.datetime(2023, 11, 14, tzinfo=datetime.timezone.utc))
    oe = spdx.Organization(_id=new_id("agent", "OpenEmbedded"), creationInfo=creation, name="OpenEmbedded")
    tool = spdx.Tool(_id=new_id("tool", "oe-spdx-creator 1.0"), creationInfo=creation, name="oe-spdx-creator 1.0")
    creation.createdBy = [oe]
    creation.createdUsing = [tool]
    objset = spdx.SHACLObjectSet()
    doc = spdx.SpdxDocument(_id=new_id("document", "package-" + pn), creationInfo=creation, name="package-" + pn,
                            profileConformance=[spdx.ProfileIdentifierType.core, spdx.ProfileIdentifierType.software,
                                                spdx.ProfileIdentifierType.build,
                                                spdx.ProfileIdentifierType.simpleLicensing])
    package = spdx.software_Package(_id=new_id("package", pn), creationInfo=creation, name=pn,
                                    software_packageVersion=recipe["PV"],
                                    software_primaryPurpose=spdx.software_SoftwarePurpose.install,
                                    software_homePage=recipe["HOMEPAGE"], summary=recipe["SUMMARY"])
    if supplier:
        package.suppliedBy = objset.add(spdx.Organization(_id=new_id("agent", "Example Devices"),
                                                          creationInfo=creation, name="Example Devices"))
    build = spdx.build_Build(_id=new_id("build", "recipe"), creationInfo=creation,
                             build_buildType="http://openembedded.org/bitbake/do_create_spdx/recipe")
    licence = spdx.simplelicensing_LicenseExpression(
        _id=new_id("license", "3.26.0", recipe["LICENSE"]), creationInfo=creation,
        simplelicensing_licenseExpression=recipe["LICENSE"], simplelicensing_licenseListVersion="3.26.0")
    for obj in (doc, oe, tool, package, build, licence):
        objset.add(obj)
    doc.rootElement = [package]
    files = []
    for n, path in enumerate(sorted(p for p in (pkgdest / pn).rglob("*") if p.is_file()), start=1):
        files.append(objset.add(spdx.software_File(
            _id=new_id("package", pn, "file", str(n)), creationInfo=creation,
            name=str(path.relative_to(pkgdest / pn)),
            verifiedUsing=[spdx.Hash(algorithm=spdx.HashAlgorithm.sha256,
                                     hashValue=hashlib.sha256(path.read_bytes()).hexdigest())])))
    for n, (from_, typ, to, scope) in enumerate([
            (build, spdx.RelationshipType.hasOutput, [package], spdx.LifecycleScopeType.build),
            (package, spdx.RelationshipType.hasDeclaredLicense, [licence], None),
            (package, spdx.RelationshipType.contains, files, None)]):
        props = {"_id": new_id("relationship", str(n)), "creationInfo": creation, "from_": from_,
                 "relationshipType": typ, "to": to}
        objset.add(spdx.LifecycleScopedRelationship(scope=scope, **props) if scope
                   else spdx.Relationship(**props))
    return objset, doc, package, new_id


def _write(spdx, objset, path: Path) -> Path:
    with path.open("wb") as f:
        spdx.JSONLDSerializer(indent=2).write(objset, f, force_at_graph=True)
    return path


def _read(path: Path):
    from spdx_python_model import v3_0_1 as spdx
    objset = spdx.SHACLObjectSet()
    with path.open("rb") as f:
        spdx.JSONLDDeserializer().read(f, objset)
    return spdx, objset


def _standin_with_model(model: dict, sbom, tmp_path_factory) -> Path:
    """The stand-in package document with the model added, written as JSON-LD."""
    from spdx_python_model import v3_0_1 as spdx
    recipe = model["recipe"]
    objset, _doc, package, new_id = _standin(spdx, recipe, model["pkgdest"])
    sbom.add_model(spdx, objset, package, _fields(sbom, recipe, model["manifest"]), new_id=new_id,
                   build_type="http://openembedded.org/bitbake/do_compile/llama-quantize")
    return _write(spdx, objset, tmp_path_factory.mktemp("standin") / f"package-{recipe['PN']}.spdx.json")


@pytest.fixture(scope="module")
def standin(model, sbom, tmp_path_factory):
    return _standin_with_model(model, sbom, tmp_path_factory)


@pytest.fixture(scope="module")
def quantised_standin(quantised, sbom, tmp_path_factory):
    """The one the validator reads: it has every kind of element the published model's has, and more."""
    return _standin_with_model(quantised, sbom, tmp_path_factory)


# -- what the SBOM must say -----------------------------------------------------------

def _related(spdx, objset, from_, typ) -> list:
    return [t for r in objset.foreach_type(spdx.Relationship) if r.relationshipType == typ
            and (r.from_ if isinstance(r.from_, str) else r.from_._id) == from_._id for t in r.to]


def _sha256(element) -> str:
    [h] = [v.hashValue for v in element.verifiedUsing]
    return h


def _check(spdx, objset, model: dict, supplier: str | None = "Example Devices"):
    """The ai_AIPackage of the installed model, with its fields and links, as a reader finds it."""
    recipe, manifest, case = model["recipe"], model["manifest"], model["case"]
    installed_sha = hashlib.sha256((model["pkgdest"] / recipe["PN"] / manifest["path"].lstrip("/")).read_bytes()
                                   ).hexdigest()
    assert manifest["sha256"] == installed_sha
    [package] = [p for p in objset.foreach_type(spdx.software_Package)
                 if p.software_primaryPurpose == spdx.software_SoftwarePurpose.install]
    assert package.name == recipe["PN"] and type(package) is spdx.software_Package
    models = {m.name: m for m in objset.foreach_type(spdx.ai_AIPackage)}
    ai = models.pop(recipe["MODEL_NAME"])

    # The package that installs it contains it; it contains the installed file.
    assert ai in _related(spdx, objset, package, spdx.RelationshipType.contains)
    [installed] = [f for f in objset.foreach_type(spdx.software_File) if f.name == manifest["path"].lstrip("/")]
    assert _related(spdx, objset, ai, spdx.RelationshipType.contains) == [installed]
    assert _sha256(ai) == _sha256(installed) == installed_sha

    assert ai.software_packageVersion == recipe["PV"]
    assert ai.software_primaryPurpose == spdx.software_SoftwarePurpose.model
    assert ai.software_homePage == recipe["HOMEPAGE"] and ai.summary == recipe["SUMMARY"]
    assert ai.ai_typeOfModel == ["large language model"]
    assert ai.ai_domain == ["natural language processing"]
    assert "llama.cpp" in ai.ai_informationAboutApplication
    assert "OpenAI-compatible" in ai.ai_informationAboutApplication
    assert ai.ai_autonomyType == spdx.PresenceType.noAssertion
    [hyper] = ai.ai_hyperparameter
    assert (hyper.key, hyper.value) == ("quantization", manifest["quantization"]) == ("quantization", "Q4_K_M")
    assert "Q4_K_M" in ai.ai_limitation
    if supplier:
        assert ai.suppliedBy.name == supplier
    assert ai.suppliedBy == package.suppliedBy

    # Licence: the package's expression, declared; concluded NoAssertion where
    # OE-core concluded nothing (or OE-core's concluded one).
    [declared] = _related(spdx, objset, ai, spdx.RelationshipType.hasDeclaredLicense)
    assert declared.simplelicensing_licenseExpression == recipe["LICENSE"] == "Apache-2.0"
    [concluded] = _related(spdx, objset, ai, spdx.RelationshipType.hasConcludedLicense)
    package_concluded = _related(spdx, objset, package, spdx.RelationshipType.hasConcludedLicense)
    assert concluded == (package_concluded[0] if package_concluded else NOASSERTION_LICENSE)

    if case == "published":
        assert not models
        assert ai.software_downloadLocation == _download_url(recipe) and "/resolve/" in ai.software_downloadLocation
        assert "Published quantised to Q4_K_M" in ai.ai_limitation
        assert not [b for b in objset.foreach_type(spdx.build_Build) if b.build_buildType.endswith("/llama-quantize")]
        return ai

    # Quantised in the build: from the published model, by the quantiser.
    source = manifest["source"]
    assert source["url"] == recipe["MODEL_SOURCE_URL"] and source["quantization"] == "F16"
    [published] = models.values()
    assert published.name == "SmolLM2-135M-Instruct-F16.gguf"
    assert published.software_downloadLocation == source["url"] == ai.software_downloadLocation
    assert _sha256(published) == source["sha256"] == recipe["MODEL_SHA256"] != installed_sha
    assert [(h.key, h.value) for h in published.ai_hyperparameter] == [("quantization", "F16")]
    assert published.ai_limitation is None  # F16 lost nothing to quantisation
    assert _related(spdx, objset, published, spdx.RelationshipType.hasVariant) == [ai]
    assert "from F16 to Q4_K_M" in ai.ai_limitation
    assert f"llama-quantize {QUANTISER_BUILD}" in ai.software_sourceInfo and source["sha256"] in ai.software_sourceInfo
    [build] = [b for b in objset.foreach_type(spdx.build_Build) if b.build_buildType.endswith("/llama-quantize")]
    assert build.build_buildType == "http://openembedded.org/bitbake/do_compile/llama-quantize"
    assert {(p.key, p.value) for p in build.build_parameter} == {
        ("quantization", "Q4_K_M"), ("source", recipe["MODEL_DOWNLOAD"])}
    assert _related(spdx, objset, build, spdx.RelationshipType.hasInput) == [published]
    assert _related(spdx, objset, build, spdx.RelationshipType.hasOutput) == [ai]
    [tool] = _related(spdx, objset, build, spdx.RelationshipType.usesTool)
    assert isinstance(tool, spdx.Tool) and tool.name == f"llama-quantize {QUANTISER_BUILD}"
    for typ in (spdx.RelationshipType.hasDeclaredLicense, spdx.RelationshipType.hasConcludedLicense):
        assert _related(spdx, objset, published, typ) == _related(spdx, objset, ai, typ)
    # The recipe's Build (OE-core's) is its parent.
    [recipe_build] = [r.from_ for r in objset.foreach_type(spdx.Relationship)
                      if r.relationshipType == spdx.RelationshipType.hasOutput and package in r.to]
    assert _related(spdx, objset, recipe_build, spdx.RelationshipType.ancestorOf) == [build]
    return ai


def _download_url(recipe: dict) -> str:
    return recipe["MODEL_SOURCE_URL"] or recipe["SRC_URI"].split()[0].split(";")[0]


# -- the tests ------------------------------------------------------------------------

def test_the_manifest_says_what_the_sbom_needs(model):
    """The class's own manifest.json, read back: the facts write_package_spdx() takes from it."""
    m, recipe = model["manifest"], model["recipe"]
    assert m["name"] == recipe["MODEL_NAME"] and m["version"] == recipe["PV"]
    assert m["path"] == f"/usr/share/edgegenai/models/{recipe['MODEL_NAME']}/{recipe['MODEL_FILE']}"
    assert m["quantization"] == "Q4_K_M" and m["license"] == "Apache-2.0"
    if model["case"] == "quantised":
        assert m["quantized_by"] == f"llama-quantize {QUANTISER_BUILD}"
        assert m["source"]["sha256"] == recipe["MODEL_SHA256"]
    else:
        assert "source" not in m and "quantized_by" not in m


def test_a_standin_package_document_gets_the_model(model, standin):
    spdx, objset = _read(standin)
    _check(spdx, objset, model)


@RDFLIB_WARNINGS
def test_the_document_validates(quantised_standin, validate):
    result = validate([str(quantised_standin)])
    assert result.valid, str(result)


@RDFLIB_WARNINGS
def test_the_validator_refuses_a_broken_model(quantised_standin, validate, tmp_path):
    """The validator bites: an unknown autonomy value and a model without its creationInfo fail."""
    data = json.loads(quantised_standin.read_text())
    [ai] = [e for e in data["@graph"] if e["type"] == "ai_AIPackage" and e["name"] == "smollm2-135m-instruct"]
    ai["ai_autonomyType"] = "sometimes"
    del ai["creationInfo"]
    broken = tmp_path / "broken.spdx.json"
    broken.write_text(json.dumps(data))
    result = validate([str(broken)])
    assert not result.valid
    assert {e.kind for e in result.errors} == {"schema", "shacl"}, str(result)
    said = str(result)
    for path in ("AI/autonomyType", "Core/creationInfo"):
        assert f"Result path: <https://spdx.org/rdf/3.0.1/terms/{path}>" in said, said
    assert f"Focus Node: <{ai['spdxId']}>" in said


def test_fields_for_an_engine_the_layer_knows_less_of(sbom):
    """An ONNX model for TensorRT, in a layer whose spec has no TensorRT: no quantisation, no
    type unless the recipe says one, and only a generic application (the catalog's words are
    rendered for the spec's engines only)."""
    manifest = {"name": "mnist-8-onnx", "file": "mnist-8.onnx", "path": "/usr/share/edgegenai/models/m/mnist-8.onnx",
                "sha256": "0" * 64, "size": 1, "license": "MIT", "engine": "tensorrt", "version": "1.0"}
    fields = sbom.describe_model(manifest, version="1.0", url="https://example.com/mnist-8.onnx")
    assert fields["type"] == [] and fields["domain"] == [] and fields["quantization"] == ""
    assert fields["limitation"] == "" and fields["application"] == "Run on the device by tensorrt"
    fields = sbom.describe_model(manifest, version="1.0", model_type="convolutional neural network, classifier",
                               application="Classifies digits", autonomy="no")
    assert fields["type"] == ["convolutional neural network", "classifier"]
    assert (fields["application"], fields["autonomy"]) == ("Classifies digits", "no")
    with pytest.raises(ValueError, match="MODEL_SPDX_AUTONOMY"):
        sbom.describe_model(manifest, version="1.0", autonomy="maybe")


def test_no_supplier_is_made_up(model, sbom):
    """Without SPDX_PACKAGE_SUPPLIER the package has no supplier, and neither has the model."""
    from spdx_python_model import v3_0_1 as spdx
    recipe = model["recipe"]
    objset, _doc, package, new_id = _standin(spdx, recipe, model["pkgdest"], supplier=False)
    ai = sbom.add_model(spdx, objset, package, _fields(sbom, recipe, model["manifest"]), new_id=new_id,
                        build_type="http://openembedded.org/bitbake/do_compile/llama-quantize")
    assert package.suppliedBy is None and ai.suppliedBy is None


def test_an_importance_matrix_is_an_input_of_the_quantisation(quantised, sbom):
    """A manifest whose source names an importance matrix: the quantisation's Build reads it too."""
    from spdx_python_model import v3_0_1 as spdx
    recipe = quantised["recipe"]
    manifest = json.loads(json.dumps(quantised["manifest"]))
    manifest["source"]["imatrix"] = {"file": "smollm2-135m-instruct-1.0-imatrix-imatrix.gguf", "sha256": "ab" * 32}
    objset, _doc, package, new_id = _standin(spdx, recipe, quantised["pkgdest"])
    ai = sbom.add_model(spdx, objset, package, _fields(sbom, recipe, manifest), new_id=new_id,
                        build_type="http://openembedded.org/bitbake/do_compile/llama-quantize")
    [build] = [b for b in objset.foreach_type(spdx.build_Build) if b.build_buildType.endswith("/llama-quantize")]
    inputs = _related(spdx, objset, build, spdx.RelationshipType.hasInput)
    [matrix] = [i for i in inputs if isinstance(i, spdx.software_File)]
    assert matrix.name == "smollm2-135m-instruct-1.0-imatrix-imatrix.gguf" and _sha256(matrix) == "ab" * 32
    assert matrix.software_primaryPurpose == spdx.software_SoftwarePurpose.data
    assert [type(i) for i in inputs].count(spdx.ai_AIPackage) == 1
    assert ("imatrix", matrix.name) in {(p.key, p.value) for p in build.build_parameter}
    assert "importance matrix" in ai.software_sourceInfo


# -- the class: its hook ----------------------------------------------------------------

def _postfunc(bbclass: str):
    """The class's postfunc as BitBake runs a python function: its body in a def taking d, with bb."""
    body = re.search(r"^python edgegenai_model_spdx\(\) \{\n(.*?)^\}", bbclass, re.S | re.M).group(1)

    def run(d, bb):
        namespace = {"bb": bb}
        exec("def edgegenai_model_spdx(d):\n" + body, namespace)
        namespace["edgegenai_model_spdx"](d)
    return run


class _Datastore:
    def __init__(self, values):
        self.values = values

    def getVar(self, name):
        return self.values.get(name)


class _Bb:
    """bb, as far as the class's postfunc uses it: inherits_class over a set of classes."""

    def __init__(self, inherited):
        self.data = self
        self.inherited = inherited

    def inherits_class(self, name, d):
        return name in self.inherited


@pytest.mark.parametrize("inherited, runs", [({"create-spdx-3.0"}, True), ({"create-spdx-2.2"}, False),
                                             (set(), False)])
def test_the_postfunc_runs_only_under_spdx3(inherited, runs, monkeypatch):
    """scarthgap's default SPDX 2.2 also runs do_create_spdx: there the postfunc does nothing."""
    bbclass = _layer(PUBLISHED)[f"{LAYER}/classes/edgegenai_model_spdx.bbclass"]
    assert 'do_create_spdx[postfuncs] += "edgegenai_model_spdx"' in bbclass
    calls = []
    stub = type(sys)("edgegenai_layer.sbom")
    stub.write_package_spdx = lambda d, **said: calls.append((d, said))
    package = type(sys)("edgegenai_layer")
    package.sbom = stub
    monkeypatch.setitem(sys.modules, "edgegenai_layer", package)
    monkeypatch.setitem(sys.modules, "edgegenai_layer.sbom", stub)
    d = _Datastore({"MODEL_SPDX_TYPE": "", "MODEL_SPDX_APPLICATION": "", "MODEL_SPDX_AUTONOMY": "noAssertion"})
    _postfunc(bbclass)(d, _Bb(inherited))
    assert calls == ([(d, {"model_type": "", "application": "", "autonomy": "noAssertion"})] if runs else [])


def test_the_model_class_inherits_it_and_the_layer_imports_its_library():
    files = _layer(PUBLISHED)
    assert re.search(r"^inherit edgegenai_model_spdx$", files[f"{LAYER}/classes/edgegenai_model.bbclass"], re.M)
    assert re.search(r"^addpylib \$\{LAYERDIR\}/lib edgegenai_layer$", files[f"{LAYER}/conf/layer.conf"], re.M)
    assert 'BBIMPORTS = ["sbom"]' in files[f"{LAYER}/lib/edgegenai_layer/__init__.py"]


# -- OE-core's own code, at the layer's pins ------------------------------------------

@pytest.fixture(scope="module", params=RELEASES)
def oe_run(request, quantised, tmp_path_factory):
    """OE-core's documents for the model package, with the model added, from a process of their own."""
    root = CHECKOUTS / request.param
    missing = [str(root / r) for r in ("bitbake/lib", "openembedded-core/meta/lib") if not (root / r).is_dir()]
    if missing:
        pytest.skip(f"no {request.param} checkout: {', '.join(missing)} absent (EDGEGENAI_BITBAKE_ROOT)")
    model = quantised
    out = tmp_path_factory.mktemp(f"oe-{request.param}")
    # The layer's files BitBake reads for this: layer.conf (addpylib), the class, the library.
    layer = out / LAYER
    for path, text in model["files"].items():
        if path.startswith((f"{LAYER}/lib/edgegenai_layer/", f"{LAYER}/conf/layer.conf",
                            f"{LAYER}/classes/edgegenai_model_spdx.bbclass")):
            (out / path).parent.mkdir(parents=True, exist_ok=True)
            (out / path).write_text(text)
    proc = subprocess.run([sys.executable, __file__, "oe", str(root), str(layer), str(model["pkgdest"]),
                           json.dumps(model["recipe"]), str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"release": request.param, "out": out, **json.loads((out / "result.json").read_text())}


def test_oe_core_takes_the_package_not_the_model(oe_run):
    """do_create_package_spdx's own lookup still finds the software_Package with purpose install."""
    assert oe_run["found"] == ["software_Package", oe_run["package"]]


def test_bitbake_runs_the_class_as_a_postfunc(oe_run):
    """BitBake's parser reads layer.conf and the class: addpylib imports the library, BBIMPORTS
    registers its functions for task signatures, the class puts its function in do_create_spdx's
    postfuncs; under SPDX 2.2 (scarthgap's default) it leaves the document as it was."""
    bitbake = oe_run["bitbake"]
    assert bitbake["library"].endswith(f"{LAYER}/lib/edgegenai_layer/__init__.py")
    assert "edgegenai_layer.sbom.write_package_spdx" in bitbake["registered"]
    assert bitbake["postfuncs"] == ["edgegenai_model_spdx"]
    assert bitbake["python"] == "1"
    assert bitbake["spdx22_untouched"] is True


def test_the_image_sbom_carries_the_model(quantised, oe_run):
    spdx, objset = _read(oe_run["out"] / "image.spdx.json")
    [sbom] = list(objset.foreach_type(spdx.software_Sbom))
    ai = _check(spdx, objset, quantised)
    [package] = [p for p in sbom.rootElement]
    assert ai in _related(spdx, objset, package, spdx.RelationshipType.contains)
    # OE-core's own links, unchanged.
    if oe_run["release"] == "scarthgap":
        assert _related(spdx, objset, package, spdx.RelationshipType.hasConcludedLicense)
    else:
        assert _related(spdx, objset, package, spdx.RelationshipType.hasDeclaredLicense)
    assert oe_run["missing"] == []


@RDFLIB_WARNINGS
def test_the_image_sbom_validates(oe_run, validate):
    result = validate([str(oe_run["out"] / "image.spdx.json")])
    assert result.valid, str(result)


# -- run as a script: OE-core's side --------------------------------------------------

def _oe_main(release_root: str, layer: str, pkgdest: str, recipe_json: str, out: str) -> None:
    """OE-core makes the package's documents, the layer adds the model, OE-core links an SBOM to it.

    What create_spdx() does for the package (spdx30_tasks.py), with OE-core's
    own helpers: the build document (its Build and the LICENSE expression)
    and the package document staged in packages-staging/.  Then the layer's
    postfunc, read by BitBake's parser from layer.conf and the class and
    run by bb.build.exec_func (first as under SPDX 2.2, then 3.0), then
    do_create_package_spdx's load of the staged document and its write to
    packages/, then an SBOM whose root is the package, as an image's rootfs
    links it, made by oe.sbom30.create_sbom.
    """
    root = Path(release_root)
    sys.path[:0] = [str(root / "bitbake/lib"), str(root / "openembedded-core/meta/lib")]
    import bb.build
    import bb.codeparser
    import bb.data
    import bb.parse
    import bb.utils
    import oe.sbom30
    import oe.spdx30
    import oe.spdx30_tasks
    import oe.spdx_common

    recipe, out = json.loads(recipe_json), Path(out)
    pn, core, deploy = recipe["PN"], root / "openembedded-core", out / "deploy" / "spdx" / "3.0.1"
    d = bb.data.init()
    for name, value in {
        **{k: v for k, v in recipe.items() if "[" not in k},
        "PACKAGES": pn, "PKGDEST": pkgdest, "BB_UNIHASH": "cd" * 32, "BB_TASKHASH": "cd" * 32,
        "BB_CURRENTTASK": "create_spdx", "SOURCE_DATE_EPOCH": "1700000000",
        "SPDX_VERSION": "3.0.1", "SPDX_PROFILES": "core build software simpleLicensing security",
        "SPDX_NAMESPACE_PREFIX": "http://spdx.org/spdxdocs", "SPDX_UUID_NAMESPACE": "sbom.openembedded.org",
        "SPDX_TOOL_NAME": "oe-spdx-creator", "SPDX_TOOL_VERSION": "1.0", "SPDX_AUTHORS": "openembedded",
        "SPDX_AUTHORS_openembedded_name": "OpenEmbedded", "SPDX_AUTHORS_openembedded_type": "organization",
        "SPDX_PACKAGE_SUPPLIER_name": "Example Devices", "SPDX_PACKAGE_SUPPLIER_type": "organization",
        "SPDX_INCLUDE_BITBAKE_PARENT_BUILD": "0", "SPDX_INCLUDE_BUILD_VARIABLES": "0",
        "SPDX_INCLUDE_TIMESTAMPS": "0", "SPDX_PRETTY": "1",
        "SSTATE_PKGARCH": "allarch", "SPDX_MULTILIB_SSTATE_ARCHS": "allarch",
        "DEPLOY_DIR_SPDX": str(deploy), "SPDXDEPLOY": str(deploy),
        "SPDX_LICENSES": str(core / "meta/files/spdx-licenses.json"),
        "COMMON_LICENSE_DIR": str(core / "meta/files/common-licenses"),
    }.items():
        d.setVar(name, value)
    # wrynose: builds/build-<pn> and a declared licence; scarthgap: recipes/recipe-<pn>, concluded.
    later = hasattr(oe.spdx30_tasks, "create_recipe_spdx")
    builds, prefix = ("builds", "build-") if later else ("recipes", "recipe-")
    licence_type = (oe.spdx30.RelationshipType.hasDeclaredLicense if later
                    else oe.spdx30.RelationshipType.hasConcludedLicense)

    oe.spdx30_tasks.write_bitbake_spdx(d.createCopy())
    license_data = oe.spdx_common.load_spdx_license_data(d)
    build_objset = oe.sbom30.ObjectSet.new_objset(d, prefix + pn)
    build = build_objset.new_task_build("recipe", "recipe")
    build_objset.set_element_alias(build)
    build_objset.doc.rootElement.append(build)
    licence = oe.spdx30_tasks.add_license_expression(d, build_objset, d.getVar("LICENSE"), license_data)

    pkg_objset = oe.sbom30.ObjectSet.new_objset(d, "package-" + pn)
    package = pkg_objset.add_root(oe.spdx30.software_Package(
        _id=pkg_objset.new_spdxid("package", pn), creationInfo=pkg_objset.doc.creationInfo, name=pn,
        software_packageVersion=d.getVar("PV")))
    oe.spdx30_tasks.set_purposes(d, package, "SPDX_PACKAGE_ADDITIONAL_PURPOSE", force_purposes=["install"])
    supplier = build_objset.new_agent("SPDX_PACKAGE_SUPPLIER")
    package.suppliedBy = supplier if isinstance(supplier, str) else supplier._id
    package.software_homePage = d.getVar("HOMEPAGE")
    package.summary = d.getVar("SUMMARY")
    pkg_objset.new_scoped_relationship([oe.sbom30.get_element_link_id(build)], oe.spdx30.RelationshipType.hasOutput,
                                       oe.spdx30.LifecycleScopeType.build, [package])
    pkg_objset.new_relationship([package], licence_type, [oe.sbom30.get_element_link_id(licence)])
    files = oe.spdx30_tasks.add_package_files(
        d, pkg_objset, Path(pkgdest) / pn, lambda n: pkg_objset.new_spdxid("package", pn, "file", str(n)),
        lambda path: [], license_data, ignore_top_level_dirs=["CONTROL", "DEBIAN"], archive=None)
    files = files[0] if isinstance(files, tuple) else files
    pkg_objset.new_relationship([package], oe.spdx30.RelationshipType.contains, sorted(files))
    oe.sbom30.write_recipe_jsonld_doc(d, pkg_objset, "packages-staging", deploy, create_spdx_id_links=False)
    oe.sbom30.write_recipe_jsonld_doc(d, build_objset, builds, deploy)

    # The layer's postfunc of do_create_spdx, as BitBake parses and runs it.
    d.setVar("LAYERDIR", layer)
    d = bb.parse.handle(f"{layer}/conf/layer.conf", d, True, baseconfig=True)
    d.setVar("BBPATH", layer)
    d = bb.parse.handle(f"{layer}/classes/edgegenai_model_spdx.bbclass", d, True)
    d.setVar("T", str(out / "temp"))
    staged = oe.sbom30.jsonld_arch_path(d, "allarch", "packages-staging", "package-" + pn, deploydir=deploy)
    before = staged.read_bytes()
    d.setVar("__inherit_cache", [str(core / "meta/classes/create-spdx-2.2.bbclass")])
    bb.build.exec_func("edgegenai_model_spdx", d)
    bitbake = {"library": bb.utils.get_context()["edgegenai_layer"].__file__,
               "registered": sorted(k for k in bb.codeparser.modulecode_deps if k.startswith("edgegenai_layer.")),
               "postfuncs": (d.getVarFlag("do_create_spdx", "postfuncs") or "").split(),
               "python": d.getVarFlag("edgegenai_model_spdx", "python"),
               "spdx22_untouched": staged.read_bytes() == before}
    d.setVar("__inherit_cache", [str(core / "meta/classes/create-spdx-3.0.bbclass")])
    bb.build.exec_func("edgegenai_model_spdx", d)

    # do_create_package_spdx: it loads the staged document by its package and writes it whole.
    found, objset = oe.sbom30.load_obj_in_jsonld(
        d, "allarch", "packages-staging", "package-" + pn, oe.spdx30.software_Package,
        software_primaryPurpose=oe.spdx30.software_SoftwarePurpose.install)
    oe.sbom30.write_recipe_jsonld_doc(d, objset, "packages", deploy)

    # An SBOM rooted at the package, as an image's rootfs links its packages.
    sbom_objset, _ = oe.sbom30.create_sbom(d, "image", [oe.sbom30.get_element_link_id(found)])
    oe.sbom30.write_jsonld_doc(d, sbom_objset, out / "image.spdx.json")
    (out / "result.json").write_text(json.dumps({
        "found": [type(found).__name__, found.name], "package": pn, "bitbake": bitbake,
        "missing": sorted(sbom_objset.missing_ids)}))


if __name__ == "__main__":
    if sys.argv[1:2] != ["oe"] or len(sys.argv) != 7:
        sys.exit("usage: test_spdx.py oe RELEASE_ROOT LAYER PKGDEST RECIPE_JSON OUT")
    _oe_main(*sys.argv[2:])

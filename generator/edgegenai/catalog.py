"""What the generator knows about the world, read from data files.

Releases, boards, engines, models and image features are facts about
upstream projects and hardware; they live in `data/*.yaml` so that adding a
board or bumping a pin is a data change, never an `if board == ...` in code.
The files are validated as strictly as user specs: a typo in the catalog
must fail loudly, not render a broken layer.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Annotated, Dict, List, Literal, Optional, Union

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from . import fields

SHA1 = re.compile(r"^[0-9a-f]{40}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _full_sha(v: str) -> str:
    if not SHA1.match(v):
        raise ValueError(f"must be a full commit: 40 lowercase hex digits, got {v!r}")
    return v


# A git commit pinned in full (never a branch, a tag name or a short hash).
Sha1 = Annotated[str, AfterValidator(_full_sha)]


def _sha256(v: str) -> str:
    if not SHA256.match(v):
        raise ValueError(f"sha256 must be 64 lowercase hex digits, got {v!r}")
    return v


# A file's content pinned by sha256.
Sha256 = Annotated[str, AfterValidator(_sha256)]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RepoPin(_Data):
    """One upstream git repository pinned to a commit on a release branch."""

    url: str
    branch: str
    commit: Sha1
    tag: Optional[str] = None
    # Patches kas applies on checkout (templates/kas/patches/<repo>/), where
    # the pinned commit does not work with the release as it is.
    patches: List[str] = Field(default_factory=list)



class CveCheck(_Data):
    """How a release reports the CVEs of an image: an OE-core config
    fragment (`OE_FRAGMENTS`) or a class (`INHERIT`)."""

    fragment: str = ""
    inherit: str = ""


class Release(_Data):
    name: str
    version: str
    lts: bool
    layerseries: str
    kernel: str
    # OE-core's Python (PYTHON_BASEVERSION): what binary wheels must match.
    python: str
    # The image SBOM's format, and how the CVE report is made (kas/opt/cve.yml).
    sbom: str
    cve_check: CveCheck
    # wic's source plugins by role (efi, partition): renamed with underscores in 5.2.
    wic: Dict[str, str]
    repos: Dict[str, RepoPin]


class Qemu(_Data):
    system: str
    machine: str
    cpu: str
    smp: int
    console: str
    kernel_image: str
    rootfs: str
    root_device: str
    boot_args: str
    # Options of TCG (QEMU's emulator, used without KVM), e.g. thread=single.
    tcg: str = ""


class Ota(_Data):
    """How a board boots A/B system slots (the `ota` feature): its bootloader
    and the disk as Linux and the bootloader name it.  Partitions are fixed:
    1 boot, 2 and 3 the root file system slots A and B, 4 data."""

    # bootloaders.yaml: grub-efi or u-boot.
    bootloader: str
    # The disk as Linux names it, and its partitions' prefix (/dev/mmcblk0 + p).
    disk: str
    part_prefix: str = ""
    # The disk as the bootloader names it: GRUB `hd0`, U-Boot `virtio 0`, `mmc 0`.
    loader_disk: str
    # wic's partition table (gpt, msdos).
    ptable: str
    # The kernel command line, or (U-Boot) `firmware` where the board's
    # firmware puts it in the device tree (the Raspberry Pi's cmdline.txt).
    kernel_args: str = ""
    # GRUB only: the kernel image's name in the slot's /boot (KERNEL_IMAGETYPE).
    kernel_image: str = ""
    # U-Boot only: the recipe the board's U-Boot gets its environment
    # settings from (keep the BSP's), or `edgegenai` for our FAT fragment.
    uboot_env: str = "bsp"
    # Machine settings A/B needs from the BSP (distro include, MACHINE override).
    conf: Dict[str, str] = Field(default_factory=dict)
    # Releases the board cannot do A/B on, and why.
    refused: Dict[str, str] = Field(default_factory=dict)


class Bootloader(_Data):
    """What a bootloader brings to A/B updates (bootloaders.yaml)."""

    name: str
    summary: str
    # RAUC's bootloader backend (system.conf `bootloader=`).
    rauc: str
    # The wic source plugin of the boot partition, by role (releases.yaml `wic`).
    wic_source: str
    # Packages RAUC needs on the device to switch slots.
    runtime: List[str]
    # Recipes whose deployed files the wic image needs (task do_deploy).
    deploys: List[str]
    # Recipes built beside the image for QEMU (EXTRA_IMAGEDEPENDS), by MACHINE.
    qemu_firmware: Dict[str, str] = Field(default_factory=dict)
    # What runqemu loads as the firmware (QB_DEFAULT_BIOS), by MACHINE: the
    # wic image carries the kernel, and the bootloader must be what starts.
    qemu_bios: Dict[str, str] = Field(default_factory=dict)


class Board(_Data):
    name: str
    machine: str
    description: str
    arch: str
    kernel_arch: str
    cpu: str
    # The kernel recipe (PREFERRED_PROVIDER_virtual/kernel): one name, or one
    # per release where the BSP changes kernels between releases.
    kernel_provider: Union[str, Dict[str, str]]
    kernel_layer: str
    kernel_versions: Dict[str, str]
    releases: List[str]
    capabilities: List[str]
    # Why a capability the board has on some releases is missing on the
    # others: the spec's refusal says it.
    limits: Dict[str, str] = Field(default_factory=dict)
    layers: List[str] = Field(default_factory=list)
    memory_mb: int
    qemu: Optional[Qemu] = None
    # Per release: the image type a user flashes (the suffix after
    # <image>-<machine>.rootfs.), where the BSP makes one of its own.
    deploy: Dict[str, str] = Field(default_factory=dict)
    # A/B system updates (the `ota` feature); None: not supported yet.
    ota: Optional[Ota] = None

    def capabilities_on(self, release: str) -> List[str]:
        """Capabilities on one release: `x@release` entries count only there."""
        out = []
        for cap in self.capabilities:
            name, _, only = cap.partition("@")
            if not only or only == release:
                out.append(name)
        return out

    def kernel_recipes(self) -> List[str]:
        """Every kernel recipe the board builds with, on any of its releases."""
        if isinstance(self.kernel_provider, str):
            return [self.kernel_provider]
        return sorted(set(self.kernel_provider.values()))

    @model_validator(mode="after")
    def _kernel_per_release(self) -> "Board":
        if isinstance(self.kernel_provider, dict) and set(self.kernel_provider) != set(self.releases):
            raise ValueError(f"kernel_provider must name the kernel of each release: {self.releases}")
        return self

    def releases_with(self, capability: str) -> List[str]:
        return [r for r in self.releases if capability in self.capabilities_on(r)]


class Requirements(_Data):
    """What an engine or one of its backends needs from the board, the build and the sandbox.

    Board capabilities (boards.yaml), layer collections and DISTRO_FEATURES;
    and for the service: whether W^X can be enforced, the device nodes it
    opens and the groups that open them.
    """

    needs: List[str] = Field(default_factory=list)
    distro_features: List[str] = Field(default_factory=list)
    layers: List[str] = Field(default_factory=list)
    allows_wx: bool = False
    device_allow: List[str] = Field(default_factory=list)
    groups: List[str] = Field(default_factory=list)


class Backend(Requirements):
    name: str
    summary: str
    packageconfig: Optional[str] = None
    always: bool = False
    # Where the backend runs the model ("GPU (Vulkan)"): `edgegenai boards`.
    device: Optional[str] = None
    # A regular expression the server's log matches once the backend found
    # its device (what the oeqa case looks for).
    device_log: Optional[str] = None
    # A regular expression the server's log matches once the backend's code
    # was loaded (a CPU variant picked at run time).
    load_log: Optional[str] = None


class Bundled(_Data):
    """A dependency an upstream build would download at configure time.

    Fetched by BitBake instead, pinned like any other source, and unpacked
    where the upstream build looks for it (`dir`, relative to S).
    """

    name: str
    src_uri: str
    srcrev: Sha1
    tag: Optional[str] = None
    dir: str
    license: str
    # The licence file and its md5; None only where it could not be
    # confirmed at the pinned commit (the runtime's own third-party licence
    # list then carries the declaration).
    lic_file: Optional[str] = None
    lic_md5: Optional[str] = None


class EngineService(_Data):
    """The service recipe of an engine and the files it installs (templates by name)."""

    recipe: str
    # The main unit's name; its defaults file, scripts and key are named after it.
    name: str
    files: List[str]
    # Added with `auth: api-key`: the first-boot key unit and its script.
    key_files: List[str] = Field(default_factory=list)
    # Model rollout: the defaults file's variables that name the model file
    # and the name it is served under, and all a model bundle may set.
    model_setting: Optional[str] = None
    alias_setting: Optional[str] = None
    bundle_settings: List[str] = Field(default_factory=list)
    # A command in bindir that waits up to N seconds (its last argument) for
    # the server to answer its health check: what keeps a new A/B slot (ota).
    health: Optional[str] = None
    # A server of ours, built by the service recipe: its source files
    # (templates/layer/engines/<engine>/src/, shipped as they are), the
    # recipes it builds against, and the upstream sources it compiles in.
    sources: List[str] = Field(default_factory=list)
    depends: List[str] = Field(default_factory=list)
    bundled: List[Bundled] = Field(default_factory=list)


class Quantizer(_Data):
    """How an engine's own tool quantises a full-precision model at build time.

    `types` maps each quantisation type the tool knows to its bits per
    weight (the tool's own figures), which sizes the result before it
    exists; `sources` are the precisions a model must be published in to
    be quantised (requantising an already quantised file loses quality).
    """

    tool: str
    native_recipe: str
    sources: List[str]
    types: Dict[str, float]
    # Types the tool refuses to make without an importance matrix.
    needs_imatrix: List[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known(self) -> "Quantizer":
        unknown = sorted(set(self.needs_imatrix) - set(self.types))
        if unknown:
            raise ValueError(f"needs_imatrix names types not in types: {unknown}")
        return self


class ModelSpdx(_Data):
    """What an SBOM says of the models an engine runs (SPDX 3's AI profile)."""

    type: List[str] = Field(default_factory=list)
    domain: List[str] = Field(default_factory=list)
    application: str


class Engine(Requirements):
    """An inference engine: built by a recipe of ours, or packaged by a BSP.

    An engine with `recipe` is built from its pinned source (`srcrev`,
    `src_uri`, licence fields required); one without installs `packages`
    that a layer of the board provides (TensorRT from meta-tegra).  `server`
    marks an engine with an HTTP API (the spec's `server:` settings).
    """

    name: str
    summary: str
    homepage: str
    model_formats: List[str]
    # Where an engine without backends runs its models: `edgegenai boards`.
    device: Optional[str] = None
    # None: a library for applications (ONNX Runtime), with no service or model.
    service: Optional[EngineService] = None
    # Packages the image installs besides the service (of the engine's recipe or a BSP's),
    # and those it installs on some releases only.
    packages: List[str] = Field(default_factory=list)
    release_packages: Dict[str, List[str]] = Field(default_factory=dict)
    # The oeqa runtime case module of the engine (lib/oeqa/runtime/cases/), and what it tests.
    oeqa: str
    oeqa_summary: str
    # The model a spec with this engine but without `models` gets (models.yaml).
    default_model: Optional[str] = None
    # (Requirements: what the engine itself needs, whatever its backends.)
    backends: Dict[str, Backend] = Field(default_factory=dict)
    # What a spec that names the engine without `backends` enables.
    default_backends: List[str] = Field(default_factory=list)
    server: bool = False
    # The execution providers a library engine must offer (its oeqa case).
    providers: List[str] = Field(default_factory=list)
    # An engine for one kind of accelerator: it runs on the boards that
    # carry one of these (accelerators.yaml), and only there.
    accelerators: List[str] = Field(default_factory=list)
    # Where the model's weights live while it is served: in the board's
    # memory (the service's limits follow the model's estimate), or on the
    # accelerator's own (the host keeps the server alone, under
    # `host_memory_max`).
    model_memory: Literal["host", "accelerator"] = "host"
    host_memory_max: Optional[str] = None
    # Server settings of the spec that mean nothing to this engine, and why:
    # a spec that sets one is refused rather than silently ignored.
    fixed_settings: Dict[str, str] = Field(default_factory=dict)
    # Our patches on the engine's source (templates/layer/engines/<engine>/patches/).
    patches: List[str] = Field(default_factory=list)
    # Build-time quantisation of the engine's models (llama.cpp: llama-quantize).
    quantize: Optional[Quantizer] = None
    # How the model packages' SPDX describes the engine's models.
    model_spdx: Optional[ModelSpdx] = None
    recipe: Optional[str] = None
    license: Optional[str] = None
    cve_product: Optional[str] = None
    version: Optional[str] = None
    tag: Optional[str] = None
    srcrev: Optional[Sha1] = None
    src_uri: Optional[str] = None
    lic_files_chksum: Optional[str] = None

    @model_validator(mode="after")
    def _source_complete(self) -> "Engine":
        if self.recipe:
            missing = [f for f in ("license", "version", "tag", "srcrev", "src_uri", "lic_files_chksum")
                       if not getattr(self, f)]
            if missing:
                raise ValueError(f"engine {self.name} has a recipe but no {', '.join(missing)}")
        unknown = [b for b in self.default_backends if b not in self.backends]
        if unknown:
            raise ValueError(f"engine {self.name}: default backends {unknown} are not its backends")
        return self


class Shape(_Data):
    """A language model's dimensions, for its memory estimate (`memory.py`)."""

    layers: fields.Count
    heads: fields.Count
    kv_heads: fields.Count
    head_dim: fields.Count
    vocab: fields.Count
    feed_forward: fields.Count


class Model(_Data):
    """A model artefact: one file, pinned by sha256, with its licence.

    Catalog models and models a spec defines in full obey the same field
    rules (`fields.py`): both become BitBake recipes.
    """

    name: fields.Name
    summary: fields.Text
    version: fields.Version
    engine: fields.Name
    format: fields.Format
    url: fields.HttpsUrl
    filename: fields.FileName
    sha256: Sha256
    size: fields.Size
    license: fields.Licence
    lic_files_chksum: fields.LicFilesChksum
    license_flags: fields.LicenceFlags = ""
    homepage: fields.WebUrl
    source: fields.OptionalWebUrl = ""
    shape: Optional[Shape] = None
    # The precision or quantisation the file is published in (F16, Q4_K_M, ...):
    # only a full-precision file may be quantised in the build.
    quantization: Optional[fields.QuantType] = None

    @model_validator(mode="after")
    def _licence_file(self) -> "Model":
        if not self.lic_files_chksum and self.license != "CLOSED":
            raise ValueError(f"lic_files_chksum: required for licence {self.license} "
                             "(it may be empty only for a CLOSED licence)")
        return self


class Device(_Data):
    """The device node an accelerator shows up as, and who may open it."""

    subsystem: str
    group: str
    mode: str
    node: str


class Accelerator(_Data):
    name: str
    summary: str
    vendor: str
    # What the accelerator runs, and through what: `edgegenai boards`.
    serves: str
    needs: List[str]
    stack: str
    kernel_modules: List[str]
    kernel_config: Dict[str, str]
    device: Device
    mesa_packageconfig: List[str] = Field(default_factory=list)
    # The model interpreter (interpreters.yaml) the accelerator's delegate
    # plugs into, and the delegate library it loads.
    interpreter: Optional[str] = None
    delegate: Optional[str] = None
    runtime_note: str = ""

    @model_validator(mode="after")
    def _delegate_needs_interpreter(self) -> "Accelerator":
        if (self.interpreter is None) != (self.delegate is None):
            raise ValueError(f"accelerator {self.name}: interpreter and delegate go together")
        return self


class _Upstream(_Data):
    """A recipe built from one upstream git commit, with our patches on top."""

    recipe: str
    summary: str
    homepage: str
    pv: str
    tag: Optional[str] = None
    src_uri: str
    srcrev: Sha1
    license: str
    patches: List[str] = Field(default_factory=list)


class Driver(_Upstream):
    """An out-of-tree kernel module built with OE-core's module class."""

    lic_files_chksum: str
    module_dir: str


class RemoteFile(_Data):
    url: str
    md5: Optional[str] = None
    sha256: Optional[str] = None
    name: str = ""
    install: Optional[str] = None
    extract: Optional[str] = None


class Firmware(_Data):
    recipe: str
    summary: str
    homepage: str
    pv: str
    license_flags: str
    files: List[RemoteFile]
    licence_file: RemoteFile


class Runtime(_Upstream):
    """The user-space runtime of an accelerator: library, tools, headers.

    Its build is specific enough to have its own template (`template`, under
    templates/layer/accelerators/runtime/); the pins live here.
    """

    template: str
    lic_files_chksum: List[str]
    bundled: List[Bundled] = Field(default_factory=list)
    # Upstream build options, spelled out so that a change of upstream's
    # defaults cannot quietly add a component to the image.
    cmake_options: List[str] = Field(default_factory=list)
    packages: List[str]
    # A shell command that only succeeds when the runtime reaches a device
    # whose firmware is up: the on-target test of the whole stack.
    # "{version}" stands for the stack's version.
    probe: Optional[str] = None
    # False where upstream releases the runtime apart from the driver, so it
    # does not carry the stack's version.
    stack_versioned: bool = True
    # Layer collections its build dependencies come from.
    layers: List[str] = Field(default_factory=list)


class Stack(_Data):
    """An accelerator's driver, firmware and runtime, which only work together.

    Every versioned part carries the stack's version (a git snapshot of it,
    `1.0.18+git`, counts): a catalog edit that bumps one part alone is
    refused when the catalog loads, not discovered on the device.
    """

    name: str
    summary: str
    version: str
    driver: Optional[Driver] = None
    firmware: Optional[Firmware] = None
    runtime: Optional[Runtime] = None
    # Parts a BSP or OE-core already packages, installed as they are
    # (firmware from linux-firmware, a user-mode driver from the BSP).
    packages: List[str] = Field(default_factory=list)
    # Layer collections those packages come from, beyond the board's BSP.
    layers: List[str] = Field(default_factory=list)
    # The stack's own on-target probe, where it has no runtime of ours.
    probe: Optional[str] = None

    @model_validator(mode="after")
    def _parts_match(self) -> "Stack":
        for part in ("driver", "firmware", "runtime"):
            piece = getattr(self, part)
            if piece is not None and getattr(piece, "stack_versioned", True) \
                    and piece.pv.split("+")[0] != self.version:
                raise ValueError(f"stack {self.name}: {part} {piece.recipe} is {piece.pv}, "
                                 f"not the stack's version {self.version}")
        return self


class Wheel(_Data):
    """One upstream binary wheel, built for one CPython version."""

    python: str
    url: str
    sha256: Sha256


class LicenceFile(_Data):
    """A licence file a binary artefact does not carry itself.

    Fetched from the project's own repository at a pinned commit, so the
    recipe can checksum it; `license` names a licence without a common text
    in OE, for which the file then is the text.
    """

    url: str
    sha256: Sha256
    file: str
    lic_files_chksum: str
    license: Optional[str] = None


class Interpreter(_Data):
    """A model interpreter that accelerators' delegates plug into.

    Installed from upstream's release wheels: the source build downloads
    its dependency tree while configuring (see the note in
    interpreters.yaml).  A wheel is built for one CPython version and
    architecture: one is pinned per Python the releases ship, the recipe
    takes the one for the build's Python and refuses other architectures,
    and the spec loader refuses a board or release no wheel fits.
    """

    name: str
    recipe: str
    # The Python package the wheel installs (its top_level.txt).
    module: str
    summary: str
    description: str
    homepage: str
    pv: str
    arch: str
    wheels: List[Wheel]
    license: str
    licence_files: List[LicenceFile]
    rdepends: List[str]
    # Binaries upstream ships stripped; OE's QA would refuse them otherwise.
    insane_skip: List[str] = Field(default_factory=list)
    # Succeeds only when the interpreter loads `{delegate}` and the delegate
    # finds its device: the on-target test of the accelerator's whole stack.
    probe: str

    def installable(self, python: str, arch: str) -> bool:
        return arch == self.arch and python in self.pythons()

    def pythons(self) -> List[str]:
        return [w.python for w in self.wheels]


class Feature(_Data):
    """An image feature a spec may name: OE image features, and what else it brings."""

    name: str
    summary: str
    image_features: List[str]
    # Layer collections, DISTRO_FEATURES, distro settings and packages it needs,
    # and kernel configuration every board's kernel gets with it.
    collections: List[str] = Field(default_factory=list)
    distro_features: List[str] = Field(default_factory=list)
    distro_settings: Dict[str, str] = Field(default_factory=dict)
    packages: List[str] = Field(default_factory=list)
    kernel_config: Dict[str, str] = Field(default_factory=dict)


class Layer(_Data):
    """A layer collection and where it lives upstream."""

    name: str
    repo: str
    path: str
    # A BSP whose recipes ship proprietary software without LICENSE_FLAGS:
    # the flag the distro gives those recipes (LICENSE "Proprietary"), so
    # the build stops until the user accepts it, and what to tell them.
    licence_flag: Optional[str] = None
    licence_details: Optional[str] = None
    # The BSP's own acceptance switch, set by the same kas fragment
    # (meta-freescale's ACCEPT_FSL_EULA, which its EULA class checks).
    licence_conf: Dict[str, str] = Field(default_factory=dict)


class DebugPackage(_Data):
    """A tool of the debug variant from another layer: installed where the build has it."""

    name: str
    collections: List[str]
    # Releases whose layers have the recipe (empty: every release).
    releases: List[str] = Field(default_factory=list)


class DebugVariant(_Data):
    """What kas/opt/debug.yml adds to an image (data/debug.yaml)."""

    image_features: List[str]
    packages: List[DebugPackage]
    kernel_config: Dict[str, str]


class Catalog(_Data):
    releases: Dict[str, Release]
    layers: Dict[str, Layer]
    boards: Dict[str, Board]
    engines: Dict[str, Engine]
    models: Dict[str, Model]
    features: Dict[str, Feature]
    accelerators: Dict[str, Accelerator]
    stacks: Dict[str, Stack]
    interpreters: Dict[str, Interpreter]
    bootloaders: Dict[str, Bootloader]
    debug: DebugVariant

    @model_validator(mode="after")
    def _default_models_exist(self) -> "Catalog":
        for engine in self.engines.values():
            unknown = [a for a in engine.accelerators if a not in self.accelerators]
            if unknown:
                raise ValueError(f"engine {engine.name}: unknown accelerators {unknown}")
            if engine.default_model and engine.default_model not in self.models:
                raise ValueError(f"engine {engine.name}: default model {engine.default_model} is not in models")
        for board in self.boards.values():
            if board.ota and board.ota.bootloader not in self.bootloaders:
                raise ValueError(f"board {board.name}: unknown bootloader {board.ota.bootloader}")
        return self


def _named(raw: dict, nested: Optional[str] = None) -> dict:
    """Give each entry of a `{name: {...}}` mapping its own `name` field."""
    out = {}
    for name, body in (raw or {}).items():
        body = dict(body)
        body["name"] = name
        if nested:
            body[nested] = _named(body.get(nested, {}))
        out[name] = body
    return out


def _read(name: str) -> dict:
    text = resources.files("edgegenai").joinpath("data", name).read_text("utf-8")
    return yaml.safe_load(text) or {}


@functools.lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """Read and validate the built-in catalog (cached: it never changes at run time)."""
    return Catalog(
        releases=_named(_read("releases.yaml")),
        layers=_named(_read("layers.yaml")),
        boards=_named(_read("boards.yaml")),
        engines=_named(_read("engines.yaml"), nested="backends"),
        models=_named(_read("models.yaml")),
        features=_named(_read("features.yaml")),
        accelerators=_named(_read("accelerators.yaml")),
        stacks=_named(_read("stacks.yaml")),
        interpreters=_named(_read("interpreters.yaml")),
        bootloaders=_named(_read("bootloaders.yaml")),
        debug=_read("debug.yaml"),
    )

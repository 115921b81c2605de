"""llama.cpp's CPU variants as the recipe builds them: speed against the host's best, ISA choice, correctness.

    python3 benchmarks/cpu_variants_bench.py --src LLAMA_CPP_TREE [--work DIR] [--rounds 5]
    python3 benchmarks/cpu_variants_bench.py --src LLAMA_CPP_TREE --aarch64 \\
        [--aarch64-gcc aarch64-linux-gnu-gcc] [--aarch64-gcc aarch64-linux-gnu-gcc-15@/root/sid-cross] \\
        [--qemu-cpu cortex-a57 --qemu-cpu max ...]

Why: the llama.cpp recipe builds with GGML_NATIVE=OFF, so the board's tune
(OE's TUNE_CCARGS, in CC) decides the ISA, and its `cpu-variants`
PACKAGECONFIG (on by default) adds GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS:
one CPU backend module per ISA level, the device's CPU picks one at run
time.  The project's goal is that this costs at most 5 % against a build
for the host's own CPU (GGML_NATIVE=ON): b >= 0.95 x c.  This script
measures that, from one source tree (--src; nothing is downloaded), with
the CMake flags read from the rendered recipe so that it cannot drift from
it:

  a1  tune only (cpu-variants off), qemux86-64's default tune on scarthgap
  a2  tune only (cpu-variants off), qemux86-64's default tune on wrynose
  b   all variants (cpu-variants on), scarthgap's tune as the floor
  c   GGML_NATIVE=ON, no tune: the host's best

The tunes' flags are not copied here: BitBake's own parser (from the
release's checkout, --yocto) evaluates TUNE_CCARGS of the machine's default
tune.  Every configuration is compiled the way OE's cmake.bbclass does it:
the tune in CMAKE_<LANG>_FLAGS with OE's optimisation (-O2, not upstream's
-O3, because OECMAKE_C_FLAGS_RELEASE is just -DNDEBUG) and hardening, so
that the configurations differ only in the ISA.  Each build's
compile_commands.json is searched for -march/-mcpu/-mtune=native, which
must not occur in a1, a2 or b.

The model has the real shape of the default model (the catalog's `shape`
of --model: SmolLM2-360M, 32 layers, 15/5 heads, 960 wide) with random
weights in F16 (PyPI's gguf), quantised to Q4_K_M with the built
llama-quantize: speed does not depend on the weights.  llama-bench runs
with -t 2 for each configuration, interleaved (a1 a2 b c a1 a2 b c ...) so
that load from other work hits all alike; the medians of all repetitions
are compared.  For b the loader's own log line tells which variant module
it picked.

--aarch64 checks correctness across architectures instead of speed: it
cross-compiles configuration b for aarch64 (qemuarm64's default tune as the
floor) with each --aarch64-gcc, reports which variant modules each
compiler built and every -march it refused, then runs llama-completion
under qemu-user on several QEMU CPU models: which variant the loader picks
on each, and whether greedy decoding (temperature 0) of --tokens tokens
gives the same token ids as configuration b on this x86-64 host.  The ids
are read from llama-completion's session file (--prompt-cache-all), which
stores the prompt and every generated token.

A compiler is named as CC or CC@ROOT: CC@ROOT runs the build inside the
chroot ROOT (the source and work trees bind-mounted at the same paths in
a private mount namespace; nothing is left mounted) and the emulated
programs use ROOT's aarch64 libraries.  Debian bookworm has only GCC 12;
scarthgap ships GCC 13 and wrynose GCC 15, which Debian sid has.  The
recipe's own patches are not applied to --src: with a GCC before 14, the
two SME variants show here as refused, which the recipe's SME guard patch
turns into "not built" (the other six are the same).  Setup,
outside the repository, without touching the host's apt sources:

    apt-get install cmake ninja-build g++-aarch64-linux-gnu qemu-user-static mmdebstrap
    mmdebstrap --variant=apt \\
        --include=g++-13-aarch64-linux-gnu,g++-15-aarch64-linux-gnu,cmake,ninja-build,make \\
        sid /root/sid-cross http://deb.debian.org/debian \\
        --aptopt='Acquire::Check-Valid-Until "false"'

Builds are niced (nice -n 10) and run with -j2; build trees, the model and
logs go under --work and are reused by later runs (a configuration whose
build is up to date is not rebuilt; its first build time is reported).
Needs root for --aarch64 with a chroot (unshare, mount, chroot).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from standin import tinymodel  # noqa: E402

RECIPE_GLOB = "meta-edgegenai/recipes-ai/llama-cpp/llama-cpp_*.bb"
# OE's C/C++ flags besides the tune: FULL_OPTIMIZATION (bitbake.conf, less
# the debug flags) and SECURITY_CFLAGS (security_flags.inc).  cmake.bbclass
# sets CMAKE_<LANG>_FLAGS_RELEASE to -DNDEBUG, so these are all there is.
OE_CFLAGS = "-O2 -pipe -fstack-protector-strong -D_FORTIFY_SOURCE=2"
OE_RELEASE_FLAGS = "-DNDEBUG"
# OE exports SOURCE_DATE_EPOCH to every task (reproducible builds).  ggml
# reads it: with it (or when cross-compiling) GGML_NATIVE=OFF adds no ISA of
# its own, without it GGML_NATIVE=OFF still turns on AVX/AVX2/FMA/F16C/BMI2
# on x86.  Builds here are native x86 ones, so it must be set as OE sets it.
OE_ENV = {"SOURCE_DATE_EPOCH": "1700000000"}
TARGETS = ["llama-bench", "llama-quantize", "llama-completion"]
NATIVE = re.compile(r"-m(arch|cpu|tune)=native\b")
LOADED = re.compile(r"loaded CPU backend from (\S+)")
PROMPT = "the model is a small fast test of the board and the server"
AARCH64_SYSROOT = "/usr/aarch64-linux-gnu"
QEMU = "qemu-aarch64-static"
QEMU_CPUS = ["cortex-a57", "cortex-a76", "neoverse-n1", "a64fx", "max"]
SESSION_MAGIC = 0x6767736E  # 'ggsn', LLAMA_SESSION_MAGIC


@dataclass
class Tune:
    release: str
    machine: str
    name: str
    ccargs: str
    source: str  # the tune file's checkout and commit


@dataclass
class Config:
    key: str
    label: str
    cmake: list[str]
    cflags: str
    compiler: str | None = None  # aarch64 CC, None for the host's
    root: str | None = None  # chroot the build runs in
    build: Path = field(default=Path())

    @property
    def bin(self) -> Path:
        return self.build / "bin"


# --- what the recipe and OE say -------------------------------------------------


def read_recipe(recipe: Path) -> dict[str, str]:
    """The recipe's plain assignments (NAME = "...", ?=, ??=), continuation lines joined."""
    text = recipe.read_text().replace("\\\n", " ")
    pattern = re.compile(r'^([A-Za-z_][\w\-\[\]:]*)\s*(?:\?\?=|\?=|=)\s*"(.*)"\s*$', re.M)
    return {m.group(1): " ".join(m.group(2).split()) for m in pattern.finditer(text)}


def recipe_cmake_args(recipe: Path, cpu_variants: bool, backend_dir: Path) -> list[str]:
    """EXTRA_OECMAKE and the PACKAGECONFIG arguments of the default PACKAGECONFIG, as OE passes them.

    OE passes the first field of each enabled PACKAGECONFIG and the second
    of each disabled one.  `cpu_variants` overrides that one item; its
    ${libdir}/ggml becomes `backend_dir` (the build's own bin/), so that
    nothing installed on this host can be loaded instead.
    """
    values = read_recipe(recipe)
    enabled = set(values["PACKAGECONFIG"].split())
    enabled.discard("cpu-variants")
    if cpu_variants:
        enabled.add("cpu-variants")
    args = values["EXTRA_OECMAKE"].split()
    for key, value in values.items():
        m = re.fullmatch(r"PACKAGECONFIG\[([\w-]+)\]", key)
        if m:
            fields = value.split(",") + [""]
            args += fields[0 if m.group(1) in enabled else 1].split()
    args = [f"-DGGML_BACKEND_DIR={backend_dir}" if a.startswith("-DGGML_BACKEND_DIR=") else a for a in args]
    left = [a for a in args if "${" in a]
    if left:
        raise SystemExit(f"{recipe}: unexpanded BitBake variables in the CMake flags: {left}")
    return args


def override(args: list[str], name: str, value: str) -> list[str]:
    """`args` with -D<name> set to `value` (replaced where the recipe sets it)."""
    kept = [a for a in args if not re.match(rf"-D{name}(:\w+)?=", a)]
    return kept + [f"-D{name}={value}"]


def oe_tune(yocto: Path, release: str, machine: str, tune: str | None = None) -> Tune:
    """TUNE_CCARGS of `machine`'s default tune (or `tune`), evaluated by the release's own BitBake.

    Only the machine configuration and the tune files it requires are parsed
    (BitBake's data store, no server, no build directory).
    """
    oe_core = yocto / release / "openembedded-core"
    code = f"""
import sys
sys.path.insert(0, {str(yocto / release / "bitbake" / "lib")!r})
import bb.data, bb.parse
d = bb.data.init()
d.setVar("BBPATH", {str(oe_core / "meta")!r})
d.setVar("TOPDIR", "/tmp")
if {tune!r}:
    d.setVar("DEFAULTTUNE", {tune!r})
bb.parse.handle({str(oe_core / "meta/conf/machine" / (machine + ".conf"))!r}, d, True)
d.setVar("TUNE_FEATURES", "${{TUNE_FEATURES:tune-${{DEFAULTTUNE}}}}")
print(d.getVar("DEFAULTTUNE")); print(d.getVar("TUNE_CCARGS").strip())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"cannot evaluate {machine}'s tune in {oe_core}:\n{out.stderr}")
    name, ccargs = out.stdout.strip().splitlines()[-2:]
    commit = subprocess.run(["git", "-C", str(oe_core), "rev-parse", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    return Tune(release, machine, name, ccargs, f"{oe_core} @ {commit[:12]}")


def source_version(src: Path) -> str:
    """The tree's ggml version, from ggml/CMakeLists.txt (a vendored tree has no git metadata)."""
    text = (src / "ggml/CMakeLists.txt").read_text()
    parts = [re.search(rf"set\(GGML_VERSION_{p} (\d+)\)", text) for p in ("MAJOR", "MINOR", "PATCH")]
    return "ggml " + ".".join(m.group(1) for m in parts) if all(parts) else "ggml (unknown version)"


# --- building ---------------------------------------------------------------------


def in_root(root: str | None, binds: list[Path], argv: list[str]) -> list[str]:
    """`argv`, run inside the chroot `root` with `binds` mounted at the same paths, when there is one."""
    if root is None:
        return argv
    steps = [f"mount -t proc proc {shlex.quote(root)}/proc"]
    steps += [f"mkdir -p {shlex.quote(root + str(p))} && mount --bind {shlex.quote(str(p))} {shlex.quote(root + str(p))}"
              for p in binds]
    script = " && ".join(steps) + f" && exec chroot {shlex.quote(root)} \"$@\""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv]


def cmake_args(cfg: Config, src: Path) -> list[str]:
    """The whole CMake command line of a configuration (OE's way of passing the tune and flags)."""
    args = ["cmake", "-S", str(src), "-B", str(cfg.build), "-G", "Ninja", *cfg.cmake,
            "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON", "-DFETCHCONTENT_FULLY_DISCONNECTED=ON"]
    for lang in ("C", "CXX"):
        args += [f"-DCMAKE_{lang}_FLAGS={cfg.cflags}", f"-DCMAKE_{lang}_FLAGS_RELEASE={OE_RELEASE_FLAGS}"]
    if cfg.compiler:
        sysroot = AARCH64_SYSROOT
        args += ["-DCMAKE_SYSTEM_NAME=Linux", "-DCMAKE_SYSTEM_PROCESSOR=aarch64",
                 f"-DCMAKE_C_COMPILER={cfg.compiler}", f"-DCMAKE_CXX_COMPILER={cxx_of(cfg.compiler)}",
                 f"-DCMAKE_FIND_ROOT_PATH={sysroot}", "-DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER",
                 "-DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY", "-DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY",
                 "-DCMAKE_FIND_ROOT_PATH_MODE_PACKAGE=ONLY"]
    return args


def cxx_of(cc: str) -> str:
    """aarch64-linux-gnu-gcc-15 -> aarch64-linux-gnu-g++-15."""
    head, _, tail = cc.rpartition("gcc")
    return f"{head}g++{tail}"


@dataclass
class Build:
    ok: bool
    seconds: float
    cached: bool
    log: Path


def build(cfg: Config, src: Path, work: Path, targets: list[str], keep_going: bool = False) -> Build:
    """Configure and build `targets` of `cfg` with nice -n 10 and -j2; a no-op when up to date.

    The wall time of the build that did the work is kept in the build tree
    (per set of targets) and reported again when a later run finds nothing
    to do, or only the same failures.
    """
    cfg.build.mkdir(parents=True, exist_ok=True)
    log = cfg.build / "build.log"
    stamp = cfg.build / f"edgegenai-build-time-{zlib.crc32(' '.join(targets).encode()):08x}.json"
    binds = [src, work]
    started = time.monotonic()
    with log.open("w") as out:
        ninja = ["ninja", "-C", str(cfg.build), "-j2", *(["-k", "0"] if keep_going else []), *targets]
        ok = True
        for argv in (cmake_args(cfg, src), ninja):
            out.write("$ " + shlex.join(argv) + "\n")
            out.flush()
            rc = subprocess.run(["nice", "-n", "10", *in_root(cfg.root, binds, argv)], env={**os.environ, **OE_ENV},
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
            if rc:
                ok = False
                break
    seconds = time.monotonic() - started
    text = log.read_text()
    # Up to date, or failing again on the same targets (a compiler that refuses a -march).
    cached = "ninja: no work to do." in text or (not ok and stamp.exists())
    if cached and stamp.exists():
        seconds = json.loads(stamp.read_text())["seconds"]
    else:
        stamp.write_text(json.dumps({"seconds": seconds}))
    return Build(ok, seconds, cached, log)


def variant_targets(cfg: Config) -> list[str]:
    """The CPU backend module targets CMake generated (ggml-cpu-<variant>)."""
    out = subprocess.run(in_root(cfg.root, [cfg.build], ["ninja", "-C", str(cfg.build), "-t", "targets", "all"]),
                         capture_output=True, text=True, check=True).stdout
    return sorted({m.group(1) for m in re.finditer(r"^(ggml-cpu-[\w.]+):", out, re.M)})


def backend_isa(cfg: Config) -> dict[str, str]:
    """The ISA flags ggml adds to each CPU backend it configured, from CMake's own messages."""
    text = (cfg.build / "build.log").read_text()
    return {m.group(1): m.group(2).split(" ")[0].replace(";", " ") or "(none)"
            for m in re.finditer(r"Adding CPU backend variant (\S+): ?(.*)$", text, re.M)}


def built_variants(cfg: Config) -> list[str]:
    return sorted(p.name[len("libggml-cpu-"):-3] for p in cfg.bin.glob("libggml-cpu-*.so"))


def native_flags(cfg: Config) -> list[str]:
    """Compile commands of the build that ask for the build host's CPU."""
    commands = json.loads((cfg.build / "compile_commands.json").read_text())
    return [f"{c['file']}: {m.group(0)}" for c in commands
            for m in [NATIVE.search(c.get("command") or " ".join(c.get("arguments", [])))] if m]


def refused(log: Path) -> dict[str, str]:
    """Per variant target that failed: the first compiler error (ninja's FAILED blocks in the log)."""
    errors: dict[str, str] = {}
    for chunk in log.read_text().split("FAILED: ")[1:]:
        target = re.search(r"CMakeFiles/(ggml-cpu-[\w.]+)\.dir", chunk)
        error = re.search(r"^.*\berror\b.*$", chunk, re.M)
        if target and target.group(1) not in errors:
            errors[target.group(1)] = error.group(0).strip() if error else chunk.splitlines()[0]
    return errors


# --- the model --------------------------------------------------------------------


def catalog_shape(model: str):
    from edgegenai.catalog import load_catalog

    return load_catalog().models[model].shape


# Random weights for the two uses.  Speed does not depend on them, so the
# speed model keeps SmolLM2's tied embeddings.  Greedy decoding of such a
# model is degenerate (it repeats one token), so the decoding model has its
# own output matrix and a residual stream led by the token embedding: each
# step's argmax varies and depends on the tokens before it, by margins that
# the ISA levels' rounding does not flip on x86 (a1, a2, b and c agree).
# With layer weights of 0.02 there, even a1 and b part after one token: a
# deep random model is chaotic, which would say nothing about the kernels.
WEIGHTS = {"speed": {"embd_scale": 0.1, "scale": 0.02, "untied": False},
           "decode": {"embd_scale": 1.0, "scale": 0.01, "untied": True}}


def make_model(work: Path, model: str, quantize: Path, use: str = "speed") -> Path:
    """The shaped random model for `use` (WEIGHTS) as Q4_K_M, made once and kept under `work`."""
    out = work / "models" / f"{model}-random-{use}-Q4_K_M.gguf"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    f16 = out.with_name(f"{model}-random-{use}-F16.gguf")
    tinymodel.write_shaped(f16, catalog_shape(model), seed=20261202, **WEIGHTS[use])
    subprocess.run([str(quantize), str(f16), str(out) + ".part", "Q4_K_M", "2"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.replace(str(out) + ".part", out)
    f16.unlink()
    return out


# --- running ----------------------------------------------------------------------


def picked(stderr: str) -> str:
    """Which CPU backend the loader picked: the variant of its log line, or 'built in'."""
    m = LOADED.search(stderr)
    if not m:
        return "built in"
    name = Path(m.group(1)).name
    return name[len("libggml-cpu-"):-3] if name.startswith("libggml-cpu-") else name


def bench(cfg: Config, model: Path, work: Path, args) -> tuple[list[float], list[float], str]:
    """One llama-bench run: the per-repetition tokens/s of prompt processing and of generation."""
    argv = [str(cfg.bin / "llama-bench"), "-m", str(model), "-t", str(args.threads),
            "-p", str(args.prompt), "-n", str(args.gen), "-r", str(args.repetitions), "-o", "json"]
    out = subprocess.run(argv, capture_output=True, text=True, cwd=work, stdin=subprocess.DEVNULL)
    if out.returncode:
        raise SystemExit(f"{cfg.key}: llama-bench failed:\n{out.stderr[-3000:]}")
    pp, tg = [], []
    for test in json.loads(out.stdout):
        (pp if test["n_gen"] == 0 else tg).extend(test["samples_ts"])
    return pp, tg, picked(out.stderr)


def session_tokens(path: Path) -> list[int]:
    """The token ids of a llama.cpp session file (magic, version, count, ids)."""
    data = path.read_bytes()
    magic, _version, count = struct.unpack_from("<III", data)
    if magic != SESSION_MAGIC:
        raise ValueError(f"{path} is not a llama.cpp session file")
    return list(struct.unpack_from(f"<{count}i", data, 12))


def generate(cfg: Config, model: Path, work: Path, tokens: int, threads: int,
             qemu: list[str] | None = None) -> tuple[list[int], str, float]:
    """Greedy decoding of `tokens` tokens after PROMPT: the generated ids, the picked variant, seconds."""
    session = work / f"session-{cfg.key}-{(qemu or ['host'])[-1]}.bin"
    session.unlink(missing_ok=True)
    argv = [*(qemu or []), str(cfg.bin / "llama-completion"), "-m", str(model), "-p", PROMPT,
            "-n", str(tokens), "--temp", "0", "--seed", "1", "-t", str(threads), "-c", "256",
            "--ignore-eos", "-no-cnv", "--prompt-cache", str(session), "--prompt-cache-all",
            "-v"]  # -v: only then does llama-completion show the loader's line
    started = time.monotonic()
    out = subprocess.run(argv, capture_output=True, text=True, cwd=work, stdin=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    if out.returncode or not session.exists():
        raise RuntimeError(f"llama-completion failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return session_tokens(session)[-tokens:], picked(out.stderr), seconds


def compare(ids: list[int], reference: list[int]) -> str:
    if ids == reference:
        return "same ids"
    first = next(i for i, (a, b) in enumerate(zip(ids, reference)) if a != b)
    differ = sum(a != b for a, b in zip(ids, reference))
    return f"DIFFERENT from position {first} ({differ}/{len(reference)} ids differ)"


# --- the two modes ----------------------------------------------------------------


def x86_configs(recipe: Path, work: Path, scarthgap: Tune, wrynose: Tune) -> list[Config]:
    def cfg(key, label, variants, cflags, native=False):
        c = Config(key, label, [], cflags)
        c.build = work / "build" / key
        c.cmake = recipe_cmake_args(recipe, variants, c.bin)
        if native:
            c.cmake = override(c.cmake, "GGML_NATIVE", "ON")
        return c

    return [
        cfg("a1", f"tune {scarthgap.name} ({scarthgap.release})", False, f"{scarthgap.ccargs} {OE_CFLAGS}"),
        cfg("a2", f"tune {wrynose.name} ({wrynose.release})", False, f"{wrynose.ccargs} {OE_CFLAGS}"),
        cfg("b", f"all variants, {scarthgap.name} floor", True, f"{scarthgap.ccargs} {OE_CFLAGS}"),
        cfg("c", "GGML_NATIVE=ON", False, OE_CFLAGS, native=True),
    ]


def build_all(configs: list[Config], src: Path, work: Path, targets: list[str]) -> None:
    for cfg in configs:
        print(f"  {cfg.key:<3} {cfg.label}: building ...", end="", flush=True)
        result = build(cfg, src, work, targets)
        if not result.ok:
            print(" FAILED")
            raise SystemExit(f"{cfg.key}: build failed, see {result.log}")
        state = "up to date, built" if result.cached else "built"
        print(f" {state} in {result.seconds / 60:.1f} min")
        if cfg.key != "b":
            print(f"      ggml's own ISA flags: {' '.join(backend_isa(cfg).values())}")


def check_native(configs: list[Config]) -> bool:
    clean = True
    for cfg in configs:
        found = native_flags(cfg)
        clean &= not found
        print(f"  {cfg.key:<3} native CPU flags in compile_commands.json: "
              + ("none" if not found else f"{len(found)}, e.g. {found[0]}"))
    return clean


def run_x86(args, src: Path, work: Path, recipe: Path, tunes: tuple[Tune, Tune]) -> int:
    configs = x86_configs(recipe, work, *tunes)
    print("builds (nice -n 10, -j2):")
    build_all(configs, src, work, TARGETS)
    by_key = {c.key: c for c in configs}
    print("host CPU flags (checks a1, a2, b):")
    clean = check_native([by_key["a1"], by_key["a2"], by_key["b"]])
    print(f"  b   variant modules built: {' '.join(built_variants(by_key['b']))}")
    model = make_model(work, args.model, by_key["b"].bin / "llama-quantize")
    print(f"model: {args.model}'s shape, random weights, Q4_K_M, {model.stat().st_size / 2**20:.0f} MiB")
    pp = {c.key: [] for c in configs}
    tg = {c.key: [] for c in configs}
    picks = {c.key: set() for c in configs}
    print(f"llama-bench -t {args.threads} -p {args.prompt} -n {args.gen} -r {args.repetitions}, "
          f"{args.rounds} interleaved rounds; load average before: {os.getloadavg()[0]:.2f}")
    for round_ in range(args.rounds):
        line = []
        for cfg in configs:
            p, t, pick = bench(cfg, model, work, args)
            pp[cfg.key] += p
            tg[cfg.key] += t
            picks[cfg.key].add(pick)
            line.append(f"{cfg.key} {statistics.median(p):.1f}/{statistics.median(t):.1f}")
        print(f"  round {round_ + 1}: " + ", ".join(line) + "  (pp/tg t/s)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    med_pp = {k: statistics.median(v) for k, v in pp.items()}
    med_tg = {k: statistics.median(v) for k, v in tg.items()}
    print(f"\n{'configuration':<40} {'pp' + str(args.prompt):>9} {'tg' + str(args.gen):>8} "
          f"{'pp/c':>6} {'tg/c':>6}  CPU backend")
    for cfg in configs:
        print(f"{cfg.key:<4}{cfg.label:<36} {med_pp[cfg.key]:>9.2f} {med_tg[cfg.key]:>8.2f} "
              f"{med_pp[cfg.key] / med_pp['c']:>6.3f} {med_tg[cfg.key] / med_tg['c']:>6.3f}  "
              f"{', '.join(sorted(picks[cfg.key]))}")
    print("(median tokens/s of all repetitions; ratios against c)")
    goal = {name: med[ "b"] / med["c"] for name, med in (("pp", med_pp), ("tg", med_tg))}
    verdict = "PASS" if all(r >= 0.95 for r in goal.values()) else "FAIL"
    print(f"goal b >= 0.95 x c: {verdict}  (pp {goal['pp']:.3f}, tg {goal['tg']:.3f})")
    if not clean:
        print("ERROR: a tune or variants build asks for the build host's CPU")
        return 1
    return 0


def parse_gcc(spec: str) -> tuple[str, str | None]:
    """CC or CC@ROOT."""
    cc, _, root = spec.partition("@")
    return cc, (root.rstrip("/") or None)


def gcc_version(cc: str, root: str | None) -> str:
    out = subprocess.run(in_root(root, [], [cc, "-dumpfullversion"]), capture_output=True, text=True)
    return out.stdout.strip() or "?"


def run_aarch64(args, src: Path, work: Path, recipe: Path, tunes: tuple[Tune, Tune], arm: Tune) -> int:
    configs = {c.key: c for c in x86_configs(recipe, work, *tunes)}
    x86 = configs["b"]
    print("x86-64 reference (configuration b):")
    build_all([x86], src, work, TARGETS)
    model = make_model(work, args.model, x86.bin / "llama-quantize", "decode")
    print(f"model: {args.model}'s shape, random weights for decoding (own output matrix), Q4_K_M, "
          f"{model.stat().st_size / 2**20:.0f} MiB")

    print(f"\naarch64, all variants, floor: {arm.machine} tune {arm.name} ({arm.ccargs}), "
          "variant modules with -k 0:")
    usable: Config | None = None
    for spec in args.aarch64_gcc:
        cc, root = parse_gcc(spec)
        version = gcc_version(cc, root)
        cfg = Config(f"arm64-{Path(cc).name}", f"{cc} {version}", [], f"{arm.ccargs} {OE_CFLAGS}", cc, root)
        cfg.build = work / "build" / cfg.key
        cfg.cmake = recipe_cmake_args(recipe, True, cfg.bin)
        configured = build(cfg, src, work, ["build.ninja"])
        if not configured.ok:
            print(f"  {cfg.label}: CMake failed, see {configured.log}")
            continue
        wanted = variant_targets(cfg)
        result = build(cfg, src, work, wanted, keep_going=True)
        made = built_variants(cfg)
        errors = refused(result.log)
        where = f" in {root}" if root else ""
        print(f"  {cfg.label}{where}: {len(made)}/{len(wanted)} variants built in {result.seconds / 60:.1f} min"
              f"{' (up to date)' if result.cached else ''}: {' '.join(made)}")
        isa = backend_isa(cfg)
        for target, error in sorted(errors.items()):
            print(f"    {target} ({isa.get(target, '?')}) refused: {error}")
        found = native_flags(cfg)
        print(f"    native CPU flags in compile_commands.json: {'none' if not found else found[0]}")
        if usable is None and result.ok and len(made) == len(wanted):
            usable = cfg
    if usable is None:
        print("no compiler built every variant: the recipe's aarch64 build would fail; nothing to run")
        return 1

    print(f"\ngreedy decoding, {args.tokens} tokens, prompt {PROMPT!r}:")
    tools = build(usable, src, work, ["llama-completion"])
    if not tools.ok:
        raise SystemExit(f"{usable.label}: llama-completion failed to build, see {tools.log}")
    print(f"  llama-completion for aarch64 ({usable.label}): {'up to date, ' if tools.cached else ''}"
          f"built in {tools.seconds / 60:.1f} min")
    reference, pick, seconds = generate(x86, model, work, args.tokens, args.threads)
    print(f"  {'x86-64 host (b)':<24} {pick:<12} {seconds:7.1f} s  {reference}")
    for key in ("a1", "c"):  # other ISA levels on x86, when built: the baseline for differences
        if (configs[key].bin / "llama-completion").exists():
            ids, pick, seconds = generate(configs[key], model, work, args.tokens, args.threads)
            print(f"  {f'x86-64 host ({key})':<24} {pick:<12} {seconds:7.1f} s  {compare(ids, reference)}")
    available = subprocess.run([QEMU, "-cpu", "help"], capture_output=True, text=True).stdout.split()
    sysroot = (usable.root or "") + AARCH64_SYSROOT
    mismatches = 0
    for cpu in args.qemu_cpu or QEMU_CPUS:
        if cpu.split(",")[0] not in available:  # a model, then its properties: max,sme=off
            print(f"  {'qemu ' + cpu:<24} (not offered by this {QEMU})")
            continue
        try:
            ids, pick, seconds = generate(usable, model, work, args.tokens, args.threads,
                                          [QEMU, "-L", sysroot, "-cpu", cpu])
        except RuntimeError as e:
            print(f"  {'qemu ' + cpu:<24} FAILED: {e}")
            mismatches += 1
            continue
        verdict = compare(ids, reference)
        mismatches += ids != reference
        print(f"  {'qemu ' + cpu:<24} {pick:<12} {seconds:7.1f} s  {verdict}"
              + ("" if ids == reference else f"\n  {'':<24} {'':<12} {'':>9}  {ids}"))
    print(f"built with {usable.label}; {mismatches} CPU model(s) differ from x86-64")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, required=True, help="a llama.cpp source tree (never downloaded)")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache/edgegenai-cpu-variants",
                        help="build trees, model, logs (outside the repository)")
    parser.add_argument("--yocto", type=Path, default=Path("/root/yocto/src"),
                        help="RELEASE/{bitbake,openembedded-core} checkouts to read the tunes from")
    parser.add_argument("--model", default="smollm2-360m-instruct-q4-k-m", help="catalog model whose shape to use")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=128, help="llama-bench -p")
    parser.add_argument("--gen", type=int, default=32, help="llama-bench -n")
    parser.add_argument("--repetitions", type=int, default=3, help="llama-bench -r")
    parser.add_argument("--aarch64", action="store_true", help="cross-compile and check under qemu-user instead")
    parser.add_argument("--aarch64-gcc", action="append", metavar="CC[@ROOT]",
                        help="aarch64 C compiler (C++: gcc -> g++), optionally in a chroot; repeatable")
    parser.add_argument("--qemu-cpu", action="append", help=f"QEMU CPU model (default: {' '.join(QEMU_CPUS)})")
    parser.add_argument("--tokens", type=int, default=16, help="tokens to decode greedily for --aarch64")
    args = parser.parse_args(argv)
    args.aarch64_gcc = args.aarch64_gcc or ["aarch64-linux-gnu-gcc"]
    src, work = args.src.resolve(), args.work.resolve()
    if ROOT in work.parents or work == ROOT:
        raise SystemExit("--work must be outside the repository")
    for tool in ("cmake", "ninja", *([QEMU] if args.aarch64 else [])):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed (see the docstring)")
    work.mkdir(parents=True, exist_ok=True)
    recipe = next(ROOT.glob(RECIPE_GLOB))
    tunes = (oe_tune(args.yocto, "scarthgap", "qemux86-64"), oe_tune(args.yocto, "wrynose", "qemux86-64"))
    print(f"source: {src} ({source_version(src)}); recipe: {recipe.relative_to(ROOT)}")
    for tune in tunes:
        print(f"tune: {tune.machine} on {tune.release} defaults to {tune.name}: TUNE_CCARGS {tune.ccargs!r} "
              f"({tune.source})")
    print(f"OE flags besides the tune: {OE_CFLAGS}, release flags {OE_RELEASE_FLAGS}; host {os.cpu_count()} CPUs")
    if args.aarch64:
        arm = oe_tune(args.yocto, "scarthgap", "qemuarm64")
        print(f"tune: {arm.machine} on {arm.release} defaults to {arm.name}: TUNE_CCARGS {arm.ccargs!r} "
              f"({arm.source})")
        return run_aarch64(args, src, work, recipe, tunes, arm)
    return run_x86(args, src, work, recipe, tunes)


if __name__ == "__main__":
    sys.exit(main())

"""What a spec change rebuilds, as real BitBake's task signatures say.

    python3 benchmarks/rebuild_scope_bench.py --bitbake-root ~/yocto/src \\
        [--release wrynose] [--board qemux86-64] [--work /tmp/edgegenai-scope]

A model change must rebuild that model and the image, a server setting
the service recipe and the image, a backend change the engine and what
links it: never an engine because of a model, never a model because of a
server setting.  This renders a base spec and one variant per change
into the same layer path, runs `bitbake -S none <image>` offline for each
(every task's signature data, nothing fetched or built), and compares
the signatures task by task: how many of the image's tasks would run
again, in which recipes, and, for the tasks whose own inputs changed
(not only a dependency's hash), what BitBake says changed (the first
lines of `bitbake-diffsigs`).

Needs the same checkouts as `edgegenai check --bitbake` (`<root>/<release>/
{bitbake,openembedded-core,meta-yocto,meta-openembedded}` at the pinned
commits) and, as root, the unprivileged user `bb`.  The first run parses
every recipe (minutes on 2 cores); each change then re-parses only the
recipes it touched.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import pwd
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Tuple

from edgegenai.checks import bitbake as bbcheck
from edgegenai.checks.model import Workspace
from edgegenai.render import render
from edgegenai.spec import parse_spec
from edgegenai.writer import write

MODEL = "smollm2-135m-instruct"
BASE = {
    "project": "edgegenai",
    "boards": ["qemux86-64", "qemuarm64"],
    "engines": {"llama-cpp": {"backends": ["openmp", "cpu-variants"],
                              "server": {"port": 8080, "context_size": 4096}}},
    "models": [{"name": MODEL, "quantize": {"default": "Q4_K_M"}}],
    "image": {"name": "edgegenai-image", "features": ["ssh"]},
}


def _server(raw: dict) -> dict:
    return raw["engines"]["llama-cpp"]["server"]


def _set_quant(board: str) -> Callable[[dict], None]:
    def change(raw: dict) -> None:
        raw["models"][0]["quantize"][board] = "Q8_0"
    return change


def changes(board: str) -> List[Tuple[str, str, Callable[[dict], None]]]:
    """(name, what it should rebuild, how it edits the base spec)."""
    return [
        ("model quantisation Q4_K_M -> Q8_0", "that model's recipes and the image", _set_quant(board)),
        ("server port 8080 -> 8081", "the service recipe and the image",
         lambda raw: _server(raw).update(port=8081)),
        ("context size 4096 -> 8192", "the service recipe (its memory limits) and the image",
         lambda raw: _server(raw).update(context_size=8192)),
        ("backends without cpu-variants", "llama.cpp (target only), what links it, and the image",
         lambda raw: raw["engines"]["llama-cpp"].update(backends=["openmp"])),
    ]


def render_into(raw: dict, out: Path) -> None:
    """The spec's layer written where every state's layer lives, unchanged files untouched."""
    write(render(parse_spec(raw)), out)


def signatures(stamps: Path) -> Dict[str, Path]:
    """`<arch>/<pn>/<pv>.<task>` -> its sigdata file, for what `bitbake -S none` just wrote."""
    out = {}
    for path in stamps.rglob("*.sigdata.*"):
        key = str(path.relative_to(stamps)).rsplit(".sigdata.", 1)[0]
        out[key] = path
    return out


def load_sig(path: Path) -> dict:
    import bb.compress.zstd
    with bb.compress.zstd.open(str(path), "rt", encoding="utf-8", num_threads=1) as f:
        return json.load(f)


def why(a: Path, b: Path, lines: int = 3) -> List[str]:
    """The first lines of bitbake-diffsigs between two signature files."""
    import bb.siggen
    return [line for line in bb.siggen.compare_sigfiles(str(a), str(b)) if line.strip()][:lines]


def run_state(name: str, raw: dict, ws: Workspace, build: Path, release_dir: Path, user: str,
              image: str, keep: Path) -> Dict[str, Path]:
    """Render, run `bitbake -S none <image>`, and keep that run's signature files."""
    render_into(raw, ws.root)
    board = ws.catalog.boards[raw["boards"][0]]
    upstream, missing = bbcheck.layers_for(ws, release_dir, board)
    if missing:
        sys.exit(f"rebuild_scope_bench: missing checkouts: {', '.join(missing)}")
    copied = bbcheck.copy_layer(ws, build)
    bbcheck.write_build_dir(build, upstream + [copied], board.machine, bbcheck.distro(ws),
                            bbcheck.licence_flags(ws))
    pw = pwd.getpwnam(user)
    os.chown(build, pw.pw_uid, pw.pw_gid)
    for part in ("conf", "layers"):
        bbcheck._chown_tree(build / part, pw.pw_uid, pw.pw_gid)
    stamps = build / "tmp" / "stamps"
    if stamps.exists():
        shutil.rmtree(stamps)
    start = time.monotonic()
    run = bbcheck.bitbake(release_dir, build, user, ["-S", "none", image])
    if run.returncode != 0:
        sys.exit(f"rebuild_scope_bench: bitbake -S none failed for {name}:\n"
                 + "\n".join((run.stdout + run.stderr).splitlines()[-20:]))
    target = keep / name.replace(" ", "_").replace(">", "").replace("/", "_")
    if target.exists():
        shutil.rmtree(target)
    shutil.move(str(stamps), str(target))
    sigs = signatures(target)
    print(f"  {name}: {len(sigs)} task signatures in {time.monotonic() - start:.0f} s", flush=True)
    return sigs


def _pn(tid: str) -> str:
    """The recipe of a task id as sigdata names it: `pn:do_task`, or `[mc:..:]/path/pn_pv.bb:do_task`."""
    recipe = tid.rsplit(":", 1)[0]
    if "/" in recipe:
        recipe = recipe.rsplit("/", 1)[1].split("_")[0].removesuffix(".bb")
    return recipe


def compare(base: Dict[str, Path], other: Dict[str, Path]) -> dict:
    """Which tasks' signatures differ, in which recipes, and why.

    A task changed on its own when its variables (basehash) or the local
    files it checksums changed; otherwise a task it depends on changed,
    and `via` names that task's recipe.
    """
    def recipe(key: str) -> str:
        return key.split("/")[-2]

    changed = sorted(k for k in base.keys() & other.keys()
                     if base[k].name.rsplit(".", 1)[1] != other[k].name.rsplit(".", 1)[1])
    added, removed = sorted(other.keys() - base.keys()), sorted(base.keys() - other.keys())
    own, via = {}, {}
    for k in changed:
        a, b = load_sig(base[k]), load_sig(other[k])
        if a["basehash"] != b["basehash"] or a["file_checksum_values"] != b["file_checksum_values"]:
            own[k] = why(base[k], other[k])
        deps = {_pn(t) for t in a["runtaskhashes"].keys() & b["runtaskhashes"].keys()
                if a["runtaskhashes"][t] != b["runtaskhashes"][t]}
        deps |= {_pn(t) for t in a["runtaskhashes"].keys() ^ b["runtaskhashes"].keys()}
        via.setdefault(recipe(k), set()).update(deps - {recipe(k)})
    return {"total": len(base), "changed": changed, "added": added, "removed": removed,
            "recipes": Counter(recipe(k) for k in changed + added), "own": own, "via": via}


def report(name: str, expect: str, result: dict) -> None:
    n = len(result["changed"]) + len(result["added"])
    print(f"\n{name}  (should rebuild: {expect})")
    print(f"  tasks to run again: {n} of {result['total']} "
          f"({len(result['changed'])} changed, {len(result['added'])} new, {len(result['removed'])} gone)")
    own_recipes = {k.split('/')[-2] for k in result["own"]}
    for pn, count in sorted(result["recipes"].items(), key=lambda kv: (-kv[1], kv[0])):
        how = "own inputs" if pn in own_recipes else "new recipe" if pn not in result["via"] else ""
        deps = sorted(result["via"].get(pn, ()))
        if deps:
            how = (how + "; " if how else "") + "after " + ", ".join(deps)
        print(f"    {pn:40} {count:4d} tasks  ({how})")
    shown = set()
    for key, lines in result["own"].items():
        pn = key.split("/")[-2]
        if pn in shown:
            continue
        shown.add(pn)
        print(f"    {key}:")
        for line in lines:
            print(f"      {line[:200]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bitbake-root", type=Path, required=True)
    ap.add_argument("--release", default="wrynose")
    ap.add_argument("--board", default="qemux86-64")
    ap.add_argument("--work", type=Path, default=Path("/tmp/edgegenai-scope"))
    ap.add_argument("--user", default="bb")
    args = ap.parse_args()

    release_dir = args.bitbake_root / args.release
    sys.path.insert(0, str(release_dir / "bitbake" / "lib"))
    base = copy.deepcopy(BASE)
    base["releases"] = [args.release]
    base["boards"] = [args.board] + [b for b in base["boards"] if b != args.board]
    ws = Workspace(root=args.work / "out")
    build = args.work / f"build-{args.release}-{args.board}"
    keep = args.work / "signatures"
    for d in (ws.root, build, keep):
        d.mkdir(parents=True, exist_ok=True)
    os.chmod(args.work, 0o755)
    image = base["image"]["name"]

    print(f"rebuild scope on {args.board} ({args.release}), bitbake -S none {image}:", flush=True)
    base_sigs = run_state("base", base, ws, build, release_dir, args.user, image, keep)
    results = []
    for name, expect, edit in changes(args.board):
        raw = copy.deepcopy(base)
        edit(raw)
        results.append((name, expect, compare(base_sigs, run_state(name, raw, ws, build, release_dir,
                                                                   args.user, image, keep))))
    for name, expect, result in results:
        report(name, expect, result)
    print("\nsummary (tasks to run again / image tasks):")
    for name, _, result in results:
        n = len(result["changed"]) + len(result["added"])
        print(f"  {name:40} {n:5d} / {result['total']}  "
              f"recipes: {', '.join(sorted(result['recipes']))}")
    render_into(base, ws.root)


if __name__ == "__main__":
    main()

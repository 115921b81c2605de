"""One kas command line and its environment, from a board, a release and options.

Option fragments are combined the kas way, `kas/<board>.yml:kas/opt/x.yml`.
Sharing work between builders and CI is BitBake's own business: DL_DIR
(downloads), SSTATE_DIR or SSTATE_MIRRORS (shared state) and BB_HASHSERVE
/ BB_HASHSERVE_UPSTREAM (hash equivalence), which kas passes through to
BitBake from its environment.  Flags override the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ..catalog import Catalog
from ..errors import UserError

# Environment variables kas hands to BitBake, in the order they are shown.
SHARED = ("DL_DIR", "SSTATE_DIR", "SSTATE_MIRRORS", "BB_HASHSERVE", "BB_HASHSERVE_UPSTREAM")


@dataclass(frozen=True)
class Invocation:
    argv: Tuple[str, ...]
    env: Dict[str, str] = field(repr=False)
    shared: Dict[str, str]
    cwd: Path
    build_dir: Path
    config: str


def kas_config(board: str, options: Sequence[str] = ()) -> str:
    """A board's kas file with option fragments, chained the kas way."""
    return ":".join([f"kas/{board}.yml"] + [f"kas/opt/{o}.yml" for o in options])


def _available(kas_dir: Path) -> List[str]:
    return sorted(p.stem for p in (kas_dir / "opt").glob("*.yml"))


def plan(catalog: Catalog, board: str, repo: Path, *, release: Optional[str] = None,
         opts: Tuple[str, ...] = (), container: bool = False,
         shared: Optional[Mapping[str, Optional[str]]] = None,
         environ: Optional[Mapping[str, str]] = None,
         licence_flags: Tuple[str, ...] = (), targets: Tuple[str, ...] = ()) -> Invocation:
    """The kas call for `board`; a UserError lists every unknown name at once.

    `licence_flags`: the flags the board's build needs accepted (licences.py);
    each must be among `opts`.  `targets`: recipes to build instead of the
    kas file's image (the model bundles).
    """
    environ = dict(os.environ if environ is None else environ)
    kas_dir = repo / "kas"
    problems = []
    board_file = kas_dir / f"{board}.yml"
    if board not in catalog.boards:
        problems.append(f"unknown board {board!r}; known: {', '.join(sorted(catalog.boards))}")
    elif not board_file.is_file():
        problems.append(f"{board_file} not found: is {board} in the spec? (edgegenai generate)")
    available = _available(kas_dir)
    fragments = []
    if release is not None:
        if release not in catalog.releases:
            problems.append(f"unknown release {release!r}; known: {', '.join(sorted(catalog.releases))}")
        elif release not in available:
            problems.append(f"release {release} is not in the spec (no kas/opt/{release}.yml)")
        fragments.append(release)
    for opt in opts:
        if opt in catalog.releases:
            problems.append(f"--opt {opt}: releases go in --release")
        elif opt not in available:
            options = [o for o in available if o not in catalog.releases]
            problems.append(f"unknown option {opt!r}; known: {', '.join(options) or 'none'}")
        fragments.append(opt)
    # Restricted terms are accepted explicitly, never by default: say so now
    # rather than after BitBake has parsed for minutes.
    for flag in licence_flags:
        if flag not in opts:
            problems.append(f"{board} needs the terms of licence flag {flag} accepted: read "
                            f"kas/opt/{flag}.yml, then add --opt {flag}")
    if problems:
        raise UserError(problems)
    config = kas_config(board, fragments)
    values = {k: environ[k] for k in SHARED if environ.get(k)}
    values.update({k: v for k, v in (shared or {}).items() if v})
    for key in ("DL_DIR", "SSTATE_DIR"):
        if key in values:
            values[key] = str(Path(values[key]).expanduser().absolute())
    environ.update(values)
    build_dir = Path(environ.get("KAS_BUILD_DIR") or repo / "build")
    argv = ("kas-container" if container else "kas", "build", config) \
        + tuple(arg for t in targets for arg in ("--target", t))
    return Invocation(argv=argv, env=environ, shared=values, cwd=repo, build_dir=build_dir,
                      config=config)

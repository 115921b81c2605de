"""Time each static check of `edgegenai check` over a layer (default: the repository's).

    python3 benchmarks/check_bench.py [DIR] [--repeat N] [--with-fragment [--kernel-version 6.12]]

Prints the best of N runs per check and the total, against the budget of the
whole-layer static checks (20 s on a 2-core machine).  --with-fragment adds a
kernel config fragment to a copy of the layer, so the kconfig check does real
work (parsing Kconfig for each architecture) instead of finding nothing;
with --kernel-version the fragment is taken to be for that kernel version,
so that a tree you have (Debian's 6.12) is actually parsed and timed rather
than the fragment being reported unchecked.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from edgegenai import checks

BUDGET = 20.0
ROOT = Path(__file__).resolve().parent.parent
FRAGMENT = "CONFIG_IKCONFIG=y\nCONFIG_IKCONFIG_PROC=y\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path, default=ROOT)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--with-fragment", action="store_true")
    parser.add_argument("--kernel-version", help="time kconfig as if every board ran this kernel")
    args = parser.parse_args(argv)
    if args.kernel_version:
        from edgegenai.checks import kconfig
        kconfig.kernel_version = lambda catalog, board, release: args.kernel_version
    with tempfile.TemporaryDirectory(prefix="edgegenai-bench-") as tmp:
        root = args.directory
        if args.with_fragment:
            root = Path(tmp)
            for top in ("meta-edgegenai", "kas"):
                shutil.copytree(args.directory / top, root / top)
            fragment = root / "meta-edgegenai/recipes-kernel/linux/files/edgegenai.cfg"
            fragment.parent.mkdir(parents=True)
            fragment.write_text(FRAGMENT)
        best, statuses = {}, {}
        for _ in range(args.repeat):
            for result in checks.run(checks.Workspace(root)):
                best[result.check] = min(best.get(result.check, float("inf")), result.seconds)
                statuses[result.check] = result.status
        print(f"edgegenai check: best of {args.repeat} on {os.cpu_count()} CPU(s), {root}")
        for name, seconds in best.items():
            print(f"  {name:<11} {seconds:7.2f} s  {statuses[name]}")
        total = sum(best.values())
        verdict = "within" if total <= BUDGET else "OVER"
        print(f"  {'total':<11} {total:7.2f} s  ({verdict} the {BUDGET:.0f} s budget)")
        return 0 if total <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())

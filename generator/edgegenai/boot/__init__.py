"""The boot-test harness: boot a built image under QEMU and check it from its console.

Built on labgrid: `environment` turns a board's catalog entry and an image
into a labgrid environment (QEMUDriver + ShellDriver), `strategy` takes the
target from off to a root shell and fails fast on a kernel panic, `checks`
are what a platform engineer wants to know about a booted image, `harness`
runs them in order and `report` prints and exports the verdicts.

Nothing here knows a board by name: machine, CPU, console, kernel and root
device come from the catalog's `qemu:` block.
"""

from .checks import CHECKS, Expectations
from .harness import run
from .image import BootImage, find_image
from .report import Report, Result

__all__ = ["CHECKS", "BootImage", "Expectations", "Report", "Result", "find_image", "run"]

"""Run the kas command, log everything it prints, and feed the progress state."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Callable, Optional

from ..errors import UserError
from .invocation import Invocation
from .progress import BuildState


def run(inv: Invocation, log_path: Path, state: BuildState,
        on_line: Optional[Callable[[str], None]] = None) -> int:
    """Run `inv` to the end; every line goes to `log_path` whole, and into `state`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as log:
        log.write(f"$ {' '.join(inv.argv)}\n")
        for key, value in inv.shared.items():
            log.write(f"# {key}={value}\n")
        try:
            proc = subprocess.Popen(inv.argv, cwd=inv.cwd, env=inv.env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    text=True, errors="replace", bufsize=1)
        except FileNotFoundError as exc:
            raise UserError(f"{inv.argv[0]} not found: pip install kas") from exc
        with proc:
            for line in proc.stdout:
                log.write(line)
                state.feed(line)
                if on_line:
                    on_line(line)
        return proc.returncode

"""Boot an image, reach a shell, run the checks, always power off.

The console is recorded to a file for the whole run; the caller keeps it
when something failed.  A check whose prerequisite failed is skipped with
the reason, so one fault reads as one failure, not as a cascade.  A check
that cannot be made on this image (an endpoint or tool it does not ship)
is skipped with the reason too, and does not fail the run.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Optional, Tuple

from labgrid import Environment
from labgrid.step import steps
from pexpect import TIMEOUT

from ..catalog import Board
from . import environment
from .checks import CHECKS, SHELL, CheckFailed, CheckSkipped, Expectations
from .image import BootImage
from .report import FAIL, PASS, SKIP, Report, Result
from .strategy import BootFailure


class ConsoleLog:
    """Everything the guest writes to its console, into one file, as it arrives."""

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "wb", buffering=0)
        steps.subscribe(self._notify)

    def _notify(self, event) -> None:
        step = event.step
        if (step.tag == "console" and step.title == "read" and event.data.get("state") == "stop"
                and isinstance(step.result, bytes)):
            self._file.write(step.result.replace(b"\r", b""))

    def close(self) -> None:
        steps.unsubscribe(self._notify)
        self._file.close()


def _console_tail(path: Path, lines: int = 3) -> str:
    """The console's last non-empty lines, for a boot that never reached a shell."""
    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return "no console log"
    tail = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return "console ended: " + " | ".join(tail) if tail else "console printed nothing"


def _runner(shell):
    def run(command: str, timeout: float):
        try:
            out, _, code = shell.run(command, timeout=timeout, decodeerrors="replace")
        except TIMEOUT as exc:
            # Interrupt the command so the next check finds a prompt.
            shell.console.sendcontrol("c")
            raise CheckFailed(f"no answer within {timeout:.0f} s: {command}") from exc
        return out, code
    return run


def _paths(board: Board, log_dir: Path) -> Tuple[Path, Path]:
    """Where a boot of `board` records its console and writes its labgrid environment."""
    return log_dir / f"{board.name}-console.log", log_dir / f"{board.name}-labgrid.yaml"


@contextmanager
def session(board: Board, image: BootImage, log_dir: Path, *, boot_timeout: int = 600,
            accel: str = "auto"):
    """Boot `image`, yield a shell runner (command, timeout -> (lines, exit code)), power off.

    For a scenario that is more than the fixed checks (a model rollout, a
    debugging session): the console is recorded beside the labgrid
    environment in `log_dir` as `run` records it.  A boot that never reaches
    a shell raises BootFailure with the console's last lines.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    console_log, env_file = _paths(board, log_dir)
    environment.write(env_file, board, image, boot_timeout=boot_timeout, accel=accel)
    console = ConsoleLog(console_log)
    target = Environment(str(env_file)).get_target(environment.TARGET)
    strategy = target.get_driver("ImageBootStrategy")
    try:
        try:
            strategy.transition("shell")
        except BootFailure as exc:
            raise BootFailure(f"{exc}; {_console_tail(console_log)}") from exc
        yield _runner(target.get_driver("ShellDriver"))
    finally:
        try:
            strategy.transition("off")
            target.cleanup()
        finally:
            console.close()


def run(board: Board, image: BootImage, expect: Expectations, log_dir: Path, *,
        boot_timeout: int = 600, accel: str = "auto",
        on_result: Optional[Callable[[Result], None]] = None) -> Report:
    """Boot `image` on `board` under QEMU and check it; the report says what passed."""
    console_log, env_file = _paths(board, log_dir)
    report = Report(board=board.name, console_log=console_log, environment=env_file)

    def record(result: Result) -> None:
        report.results.append(result)
        if on_result:
            on_result(result)

    started = time.monotonic()
    in_shell = False
    try:
        with session(board, image, log_dir, boot_timeout=boot_timeout, accel=accel) as run_command:
            in_shell = True
            record(Result(SHELL, "the console reaches a shell", PASS, time.monotonic() - started,
                          f"root shell on {board.qemu.console}"))
            failed = set()
            for check in CHECKS:
                missing = [n for n in check.needs if n in failed]
                if missing:
                    failed.add(check.id)
                    record(Result(check.id, check.title, SKIP, 0.0, f"needs {', '.join(missing)}"))
                    continue
                started = time.monotonic()
                try:
                    detail, status = check.function(run_command, expect), PASS
                except CheckFailed as exc:
                    detail, status = str(exc), FAIL
                    failed.add(check.id)
                except CheckSkipped as exc:
                    detail, status = str(exc), SKIP
                record(Result(check.id, check.title, status, time.monotonic() - started, detail))
    except BootFailure as exc:
        if in_shell:  # only the boot itself is reported as "no shell"
            raise
        # session() has added the console's last lines to the message.
        record(Result(SHELL, "the console reaches a shell", FAIL, time.monotonic() - started, str(exc)))
        for check in CHECKS:
            record(Result(check.id, check.title, SKIP, 0.0, "no shell"))
    return report

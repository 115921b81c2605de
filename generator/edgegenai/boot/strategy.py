"""From off to a root shell on the console, failing fast when the boot fails.

labgrid's own ShellStrategy would wait out its login timeout on a kernel
that has panicked; this one watches the console for the signs of a dead
boot (a panic, systemd's emergency shell, QEMU exiting) while it waits for
the login prompt, and reports the line that says what happened.
"""

from __future__ import annotations

import enum
import time

import attr
from labgrid.factory import target_factory
from labgrid.strategy import Strategy
from pexpect import EOF, TIMEOUT

# Console output after which no login prompt will come.
FAILURES = (
    r"Kernel panic - not syncing[^\r\n]*",
    r"You are in emergency mode[^\r\n]*",
    r"Give root password for maintenance[^\r\n]*",
)


# Logins tried before giving up on a shell that prints its login prompt.
LOGIN_ATTEMPTS = 3


class BootFailure(Exception):
    """The image did not reach a shell; the message says why, in one line."""


class Status(enum.Enum):
    unknown = 0
    off = 1
    shell = 2


@target_factory.reg_driver
@attr.s(eq=False)
class ImageBootStrategy(Strategy):
    """Power a QEMU target on and get a root shell on its console.

    Args:
        boot_timeout (int): seconds from power-on to a login prompt or shell prompt
    """

    bindings = {"power": "PowerProtocol", "console": "ConsoleProtocol", "shell": "ShellDriver"}
    boot_timeout = attr.ib(default=300, validator=attr.validators.instance_of(int))
    status = attr.ib(default=Status.unknown)

    def transition(self, status):
        status = Status[status] if isinstance(status, str) else status
        if status == Status.off:
            self._power_off()
        elif status == Status.shell:
            self._boot()
        else:
            raise BootFailure(f"cannot go to {status.name}")
        self.status = status

    def _boot(self) -> None:
        self.target.activate(self.console)
        self.power.on()
        patterns = [self.shell.login_prompt, self.shell.prompt, *FAILURES]
        deadline = time.monotonic() + self.boot_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BootFailure(f"no login prompt within {self.boot_timeout} s")
            try:
                index, _, match, _ = self.console.expect(patterns, timeout=min(remaining, 5))
            except TIMEOUT:
                continue
            except EOF as exc:
                raise BootFailure("QEMU exited before a login prompt") from exc
            if index >= 2:
                line = match.group(0).decode("utf-8", "replace").strip()
                self._drain()
                raise BootFailure(line)
            break
        # The prompt just seen is consumed: ask for a fresh one, which the
        # ShellDriver then finds at once instead of after its idle timeout.
        self.console.sendline("")
        for attempt in range(1, LOGIN_ATTEMPTS + 1):
            try:
                self.target.activate(self.shell)
                return
            except TIMEOUT as exc:
                # A kernel or systemd status line printed between the
                # ShellDriver's marker and the prompt it expects after it
                # looks like no shell; the next try, on a fresh prompt, works.
                if attempt == LOGIN_ATTEMPTS:
                    raise BootFailure(f"no shell after logging in as root ({attempt} tries)") from exc
                self.console.sendline("")
            except Exception as exc:  # labgrid raises a bare Exception for a password prompt
                if "Password" in str(exc):
                    raise BootFailure("the console asks for a root password: boot tests need an "
                                      "image with root login without password (--opt debug)") from exc
                raise

    def _power_off(self) -> None:
        """Quit QEMU, and close the pipes labgrid 26 leaves open (ResourceWarning)."""
        self.target.deactivate(self.shell)
        self.target.activate(self.power)
        child = getattr(self.power, "_child", None)
        self.power.off()
        for pipe in (getattr(child, "stdin", None), getattr(child, "stdout", None)):
            if pipe is not None:
                pipe.close()

    def _drain(self, quiet: float = 1.0) -> None:
        """Read what follows a failure (the panic's trace) so it reaches the console log."""
        try:
            self.console.settle(quiet, timeout=5.0)
        except Exception:  # noqa: BLE001 - the console may be gone already
            pass


"""The one family of errors a user can cause.

Library code raises these and never exits; the CLI maps them to exit code 2
(internal errors stay ordinary exceptions and exit 1).  A `UserError` carries
one line per problem so that every problem in a spec is reported at once.
"""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix: a bad spec, an unknown board, a bad flag."""

    def __init__(self, problems: str | list[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class SpecError(UserError):
    """The spec file is malformed or asks for something impossible."""

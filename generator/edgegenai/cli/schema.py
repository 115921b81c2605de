"""`edgegenai schema`: the spec's JSON schema, for editors and CI linters.

Generated from the spec model on every call, so it cannot drift from what
`edgegenai generate` accepts.
"""

from __future__ import annotations

import click

from ..spec import json_schema


@click.command("schema")
def command():
    """Print the JSON schema of the spec file."""
    click.echo(json_schema(), nl=False)

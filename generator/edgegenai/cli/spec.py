"""`edgegenai spec`: print the built-in default spec, a starting point to edit."""

from __future__ import annotations

import click

from ..spec import default_spec_text


@click.command("spec")
def command():
    """Print the built-in default spec (edgegenai spec > edgegenai.yaml)."""
    click.echo(default_spec_text(), nl=False)

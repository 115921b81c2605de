"""The `edgegenai` command.  One module per subcommand, listed explicitly below.

User errors (a bad spec, an unknown board) print one line per problem and
exit 2; internal errors keep their traceback and exit 1; Ctrl-C exits 130.
Click objects never leave this package.
"""

from __future__ import annotations

import sys

import click

from .. import __version__
from ..errors import UserError
from . import boards, build, bundle, catalog, check, ci, generate, init, plan, publish, schema, spec, test

COMMANDS = (init.command, generate.command, plan.command, check.command, boards.command, catalog.command, schema.command,
            spec.command,
            build.command, bundle.command, test.command, ci.command, publish.command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgegenai")
def cli() -> None:
    """Generate Yocto layers and kas configs that put generative-AI models
    onto embedded Linux devices.

    \b
    Start here:
      edgegenai boards              which boards and releases are known
      edgegenai catalog models      models, engines, accelerators, features (--json)
      edgegenai init                a spec for your boards, asked for step by step
      edgegenai spec > my.yaml      the default spec, to copy and edit
      edgegenai plan my.yaml        what each device will run, before a build
      edgegenai generate my.yaml    render meta-edgegenai/ and kas/
      kas build kas/qemuarm64.yml   build the image (on a Yocto build host)
    """


for _command in COMMANDS:
    cli.add_command(_command)


def main(argv=None) -> None:
    try:
        cli.main(args=argv, prog_name="edgegenai", standalone_mode=False)
    except UserError as err:
        for line in err.problems:
            click.echo(f"edgegenai: error: {line}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("edgegenai: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(2 if isinstance(err, click.UsageError) else err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("edgegenai: interrupted", err=True)
        sys.exit(130)

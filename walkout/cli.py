"""The `walkout` command line: a thin shell over the package's functions.

Every subcommand parses its options, calls one library function, and prints a short summary.
Errors in input files are reported as one clear line (file and problem), never a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from formats.errors import FormatError

log = logging.getLogger("walkout")


def _setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    for noisy in ("matplotlib", "PIL", "ultralytics", "numba"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.option("-q", "--quiet", is_flag=True, help="Warnings and errors only.")
@click.version_option(package_name="walkout")
def cli(verbose: bool, quiet: bool) -> None:
    """walkout: who took what, from shelf cameras and shelf weight sensors."""
    _setup_logging(verbose, quiet)


@cli.command()
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(recordings: tuple[Path, ...]) -> None:
    """Check store recordings against the format (docs/FORMAT.md); list what is there and every problem."""
    from walkout.recording import validate_recording

    failed = 0
    for path in recordings:
        report = validate_recording(path)
        click.echo(report.describe())
        failed += not report.ok
    if failed:
        click.echo(f"{failed} of {len(recordings)} recording(s) have problems", err=True)
        sys.exit(1)


def _register() -> None:
    from walkout.commands import annotate, bench, calibrate, config, fuse, run, simulate, train, zones

    for module in (simulate, bench, fuse, run, train, zones, annotate, calibrate, config):
        cli.add_command(module.command)
    from walkout.commands import anonymize, purge  # privacy by design (PRIVACY.md)

    cli.add_command(anonymize.command)
    cli.add_command(purge.command)
    from walkout.commands import export  # the models for ONNX Runtime (vision/runtime.py)

    cli.add_command(export.command)


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point; ``main([...])`` runs the CLI in-process (tests) and returns the exit code."""
    try:
        cli.main(args=argv, prog_name="walkout", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except FormatError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())

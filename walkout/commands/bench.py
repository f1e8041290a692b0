"""`walkout bench`: placeholder until its issue lands."""

from __future__ import annotations

import click


@click.command(name="bench")
def command() -> None:
    """Not built yet."""
    raise click.ClickException("walkout bench is not built yet")

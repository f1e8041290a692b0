"""`walkout simulate`: placeholder until its issue lands."""

from __future__ import annotations

import click


@click.command(name="simulate")
def command() -> None:
    """Not built yet."""
    raise click.ClickException("walkout simulate is not built yet")

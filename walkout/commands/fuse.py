"""`walkout fuse`: placeholder until its issue lands."""

from __future__ import annotations

import click


@click.command(name="fuse")
def command() -> None:
    """Not built yet."""
    raise click.ClickException("walkout fuse is not built yet")

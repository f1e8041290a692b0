"""`walkout purge`: retention and deletion of run outputs (a thin shell over :mod:`walkout.purge`)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="purge")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--older-than", "older_than", metavar="DURATION",
              help="PATH is a `walkout run --out` folder: delete its recording folders whose run finished "
                   "longer ago than this (12h, 30d, 2w; units s, m, h, d, w).")
@click.option("--shopper", metavar="ID", help="PATH is one recording's run folder: remove this shopper from it.")
@click.option("--dry-run", is_flag=True, help="List what would be deleted or rewritten; change nothing.")
def command(path: Path, older_than: str | None, shopper: str | None, dry_run: bool) -> None:
    """Delete run outputs past retention, or one shopper's data from a run (PRIVACY.md).

    \b
    walkout purge RUNS_DIR --older-than 30d   run folders (and manifest entries) older than 30 days
    walkout purge RUN_DIR --shopper 3         shopper 3's rows of every table, their timeline and
                                              receipt, and every picture of the run (they show everyone)

    Atomic (all or nothing) and recorded in purge_log.json: which shopper or folders, when, which files.
    """
    from walkout.purge import describe_plan, parse_duration, purge_older, purge_shopper

    if (older_than is None) == (shopper is None):
        raise click.UsageError("give exactly one of --older-than DURATION or --shopper ID")
    if older_than is not None:
        try:
            seconds = parse_duration(older_than)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--older-than") from None
        expired = purge_older(path, seconds, dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        for item in expired:
            click.echo(f"{verb} {path / item.name}")
        click.echo(f"{len(expired)} run folder(s) older than {older_than} {verb} in {path}")
        return
    plan = purge_shopper(path, shopper, dry_run=dry_run)
    click.echo(describe_plan(plan), nl=False)
    what = "would be removed" if dry_run else "removed"
    click.echo(f"shopper {plan.shopper} {what}: {len(plan.changes)} file(s) of {path}"
               + ("" if dry_run else " (recorded in purge_log.json)"))

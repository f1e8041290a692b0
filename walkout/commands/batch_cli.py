"""What `walkout run` and `walkout fuse` share as batch commands: the engine options and the summary."""

from __future__ import annotations

import logging
import sys

import click

workers_option = click.option(
    "--workers", type=click.IntRange(min=0), default=0, show_default=True,
    help="Recordings run at once; 0: as many as cores and memory allow (1 runs in this process).")
engine_option = click.option(
    "--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
    help="local: worker processes on this machine; ray: a Ray cluster (pip install 'walkout[ray]').")
address_option = click.option("--address", help="Ray cluster address ('auto' joins the one `ray start --head` made here).")
fail_fast_option = click.option("--fail-fast", is_flag=True, help="Stop at the first recording that fails.")
retries_option = click.option(
    "--retries", type=click.IntRange(min=0), default=1, show_default=True,
    help="Retries of a recording whose worker process died (input errors are not retried).")
max_tasks_option = click.option(
    "--max-tasks-per-worker", type=click.IntRange(min=1), default=8, show_default=True,
    help="A worker process is replaced after this many recordings (bounds memory).")
progress_option = click.option("--progress/--no-progress", default=None,
                               help="Progress bars (default: on a terminal, unless -q).")


def show_progress(progress: bool | None) -> bool:
    """Progress bars: as asked, else on a terminal unless logging is quieter than INFO."""
    if progress is not None:
        return progress
    return sys.stderr.isatty() and logging.getLogger().getEffectiveLevel() <= logging.INFO


def echo_report(report, out_dir) -> None:
    """A table of the recordings of a BatchReport, its failures and warnings, one summary line; exit
    code 1 when a recording failed (its vision or its fusion) or was not run (fail-fast)."""
    fused = any(r.fused for r in report.recordings)
    width = max([24, *(len(r.name) for r in report.recordings)]) + 2
    click.echo(f"{'recording':<{width}} {'status':<9} {'shoppers':>8} {'events':>7} {'time_s':>7}"
               + (f" {'fused':<8}" if fused else ""))
    for r in report.recordings:
        seconds = f"{r.seconds:7.1f}" if r.seconds else f"{'-':>7}"
        status = r.status.upper() if r.status == "failed" else r.status
        click.echo(f"{r.name:<{width}} {status:<9} {r.shoppers:>8} {r.events:>7} {seconds}"
                   + (f" {r.fused or '-':<8}" if fused else ""))
    for r in report.failed:
        click.echo(f"FAILED {r.recording}: {r.error}", err=True)
    for r in report.recordings:
        for warning in r.warnings:
            click.echo(f"warning {r.name}: {warning}", err=True)
    counts = ", ".join(
        f"{report.count(status)} {label}"
        for status, label in (("done", "done"), ("skipped", "skipped (complete already)"),
                              ("failed", "failed"), ("cancelled", "not run (fail-fast)"))
        if report.count(status) or status in ("done", "failed")
    )
    shoppers = sum(r.shoppers for r in report.recordings)
    events = sum(r.events for r in report.recordings)
    ran = report.count("done") + report.count("failed")
    how = f" with {report.workers or 'auto'} {report.engine} worker(s)" if ran else ""
    click.echo(
        f"{len(report.recordings)} recording(s): {counts}; {shoppers} shopper(s), {events} event(s); "
        f"{report.seconds:.1f} s{how} -> {out_dir}"
    )
    if report.failed or report.count("cancelled"):
        sys.exit(1)

"""`walkout run`: store recordings in, cart timelines out (in parallel, resumable)."""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path

import click


@click.command(name="run")
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--model", type=click.Path(path_type=Path), help="Detector weights (.pt, .onnx, OpenVINO folder).")
@click.option("--classifier", type=click.Path(path_type=Path), help="Held-item classifier weights ('' for none).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="TOML/YAML config.")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Recordings run at once; 0: as many as cores and memory allow (1 runs in this process).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: worker processes on this machine; ray: a Ray cluster (pip install 'walkout[ray]').")
@click.option("--address", help="Ray cluster address ('auto' joins the one `ray start --head` made here).")
@click.option("--force", is_flag=True, help="Redo recordings the manifest lists as complete.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first recording that fails.")
@click.option("--retries", type=click.IntRange(min=0), default=1, show_default=True,
              help="Retries of a recording whose worker process died (input errors are not retried).")
@click.option("--max-tasks-per-worker", type=click.IntRange(min=1), default=8, show_default=True,
              help="A worker process is replaced after this many recordings (bounds memory).")
@click.option("--progress/--no-progress", default=None,
              help="Progress bars (default: on a terminal, unless -q).")
@click.option("--annotate", is_flag=True, help="Also draw the results over the videos (walkout.annotate).")
@click.option("--no-anonymize", "no_anonymize", is_flag=True,
              help="With --annotate: leave faces visible (a store's own secured review only; logged, and "
                   "recorded in run.json; see PRIVACY.md).")
@click.option("--baselines", is_flag=True, help="Also time decode-only and ultralytics' model.track() (for bench).")
def command(
    recordings, out_dir, model, classifier, config_path, workers, engine, address, force, fail_fast, retries,
    max_tasks_per_worker, progress, annotate, no_anonymize, baselines,
) -> None:
    """Detect, track, attach hands, find picks and returns; write events.csv, timeline.json, tracks/, run.json
    per recording into OUT/<recording>/, and OUT/manifest.json.

    Re-running the same command skips recordings that are complete with unchanged inputs, model and
    config, and redoes the rest. The exit code is 1 if any recording failed.
    """
    from walkout.batch import RunError, RunOptions, run_batch
    from walkout.config import load_config
    from walkout.parallel import EngineError

    config = load_config(config_path)
    if model is not None:
        config = dataclasses.replace(config, detector=dataclasses.replace(config.detector, model_path=str(model)))
    if classifier is not None:
        config = dataclasses.replace(config, held=dataclasses.replace(config.held, classifier_path=str(classifier)))
    if no_anonymize:
        if annotate:
            logging.getLogger("walkout").warning("--no-anonymize: the annotated pictures will show faces; "
                                                 "keep them in a secured review (recorded in run.json)")
        else:
            logging.getLogger("walkout").warning("--no-anonymize has no effect without --annotate")
    if progress is None:
        progress = sys.stderr.isatty() and logging.getLogger().getEffectiveLevel() <= logging.INFO
    options = RunOptions(
        workers=workers, engine=engine, address=address, max_tasks_per_worker=max_tasks_per_worker,
        retries=retries, fail_fast=fail_fast, force=force, baselines=baselines, annotate=annotate,
        anonymize=not no_anonymize, progress=progress,
    )
    try:
        report = run_batch(recordings, out_dir, config, options)
    except (RunError, EngineError) as exc:
        raise click.ClickException(str(exc)) from None
    width = max([24, *(len(r.name) for r in report.recordings)]) + 2
    click.echo(f"{'recording':<{width}} {'status':<9} {'shoppers':>8} {'events':>7} {'time_s':>7}")
    for r in report.recordings:
        seconds = f"{r.seconds:7.1f}" if r.seconds else f"{'-':>7}"
        status = r.status.upper() if r.status == "failed" else r.status
        click.echo(f"{r.name:<{width}} {status:<9} {r.shoppers:>8} {r.events:>7} {seconds}")
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

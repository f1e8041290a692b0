"""`walkout run`: store recordings in, cart timelines out (in parallel, resumable)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import click

from walkout.commands.batch_cli import (
    address_option,
    echo_report,
    engine_option,
    fail_fast_option,
    max_tasks_option,
    progress_option,
    retries_option,
    show_progress,
    workers_option,
)


@click.command(name="run")
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--model", type=click.Path(path_type=Path), help="Detector weights (.pt, .onnx, OpenVINO folder).")
@click.option("--classifier", type=click.Path(path_type=Path), help="Held-item classifier weights ('' for none).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="TOML/YAML config.")
@click.option("--fuse", is_flag=True,
              help="Also fuse each recording with its weight log (as `walkout fuse`) right after its vision: "
                   "receipts.json, weight_events.csv, discrepancies.csv in OUT/<recording>/.")
@click.option("--fuse-config", "fuse_config_path", type=click.Path(path_type=Path),
              help="With --fuse: the fuse config (TOML/YAML, as `walkout fuse --config`); implies --fuse.")
@workers_option
@engine_option
@address_option
@click.option("--force", is_flag=True,
              help="Redo recordings the manifest lists as complete. A run folder that was fused is fused "
                   "again (with --fuse's config, else with the settings of its last fusion): receipts are "
                   "never left out of date or deleted without being redone.")
@fail_fast_option
@retries_option
@max_tasks_option
@progress_option
@click.option("--annotate", is_flag=True, help="Also draw the results over the videos (walkout.annotate).")
@click.option("--no-anonymize", "no_anonymize", is_flag=True,
              help="With --annotate: leave faces visible (a store's own secured review only; logged, and "
                   "recorded in run.json; see PRIVACY.md).")
@click.option("--baselines", is_flag=True, help="Also time decode-only and ultralytics' model.track() (for bench).")
def command(
    recordings, out_dir, model, classifier, config_path, fuse, fuse_config_path, workers, engine, address, force,
    fail_fast, retries, max_tasks_per_worker, progress, annotate, no_anonymize, baselines,
) -> None:
    """Detect, track, attach hands, find picks and returns; write events.csv, timeline.json, tracks/, run.json
    per recording into OUT/<recording>/, and OUT/manifest.json; with --fuse, also the receipts.

    Re-running the same command skips recordings that are complete with unchanged inputs, model and
    config (and, with --fuse, fused with the same fuse config and unchanged weight logs and vision
    outputs), and redoes the rest. Whenever a recording's vision is redone (--force, or a changed
    input), a run folder that had been fused is fused again. The exit code is 1 if any recording
    failed (its vision or its fusion; a failed fusion leaves the vision outputs in place).
    """
    from walkout.batch import RunError, RunOptions, run_batch
    from walkout.config import load_config, load_fuse_config
    from walkout.parallel import EngineError

    config = load_config(config_path)
    fuse_config = load_fuse_config(fuse_config_path) if fuse or fuse_config_path is not None else None
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
    options = RunOptions(
        workers=workers, engine=engine, address=address, max_tasks_per_worker=max_tasks_per_worker,
        retries=retries, fail_fast=fail_fast, force=force, baselines=baselines, annotate=annotate,
        anonymize=not no_anonymize, progress=show_progress(progress), fuse=fuse_config,
    )
    try:
        report = run_batch(recordings, out_dir, config, options)
    except (RunError, EngineError) as exc:
        raise click.ClickException(str(exc)) from None
    echo_report(report, out_dir)

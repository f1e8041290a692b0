"""`walkout run`: store recordings in, cart timelines out."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click


@click.command(name="run")
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--model", type=click.Path(path_type=Path), help="Detector weights (.pt, .onnx, OpenVINO folder).")
@click.option("--classifier", type=click.Path(path_type=Path), help="Held-item classifier weights ('' for none).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="TOML/YAML config.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first recording that fails.")
@click.option("--baselines", is_flag=True, help="Also time decode-only and ultralytics' model.track() (for bench).")
def command(recordings, out_dir, model, classifier, config_path, fail_fast, baselines) -> None:
    """Detect, track, attach hands, find picks and returns; write events.csv, timeline.json, tracks/, run.json."""
    from walkout.config import load_config
    from walkout.pipeline import run_recordings

    config = load_config(config_path)
    if model is not None:
        config = dataclasses.replace(config, detector=dataclasses.replace(config.detector, model_path=str(model)))
    if classifier is not None:
        config = dataclasses.replace(config, held=dataclasses.replace(config.held, classifier_path=str(classifier)))
    results = run_recordings(recordings, out_dir, config, fail_fast=fail_fast, baselines=baselines)
    failed = [r for r in results if not r.ok]
    click.echo(f"{'recording':<32} {'status':<8} {'shoppers':>8} {'events':>7}")
    for r in results:
        click.echo(f"{r.recording.name:<32} {'ok' if r.ok else 'FAILED':<8} {r.shoppers:>8} {r.events:>7}")
    for r in failed:
        click.echo(f"FAILED {r.recording}: {r.error}", err=True)
    click.echo(f"{len(results) - len(failed)} of {len(results)} recording(s) done -> {out_dir}")
    if failed:
        sys.exit(1)

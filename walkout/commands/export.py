"""`walkout export`: export the run's .pt models for ONNX Runtime, cached beside each .pt (vision/runtime.py)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click


@click.command(name="export")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="TOML/YAML config (its model paths).")
@click.option("--model", type=click.Path(path_type=Path), help="Detector weights (.pt) instead of the config's.")
@click.option("--force", is_flag=True, help="Export again even where the export is current.")
@click.option("--check", "video", type=click.Path(path_type=Path),
              help="Then run every model both ways on frames of this video and compare the results.")
@click.option("--frames", type=click.IntRange(min=1), default=48, show_default=True, help="Frames --check reads.")
def command(config_path: Path | None, model: Path | None, force: bool, video: Path | None, frames: int) -> None:
    """Export the detector, hand model and classifiers to ONNX beside their .pt files (models/*.onnx), each
    stamped with its .pt's fingerprint: a run with `[pipeline] runtime = "onnx"` uses them, and exports
    again one whose .pt changed. Exports that are current are kept. Needs pip install 'walkout[onnx]'.
    The exit code is 1 if --check finds results that differ."""
    from vision.errors import InputError
    from walkout.config import load_config
    from walkout.export import check_exports, export_models

    config = load_config(config_path)
    if model is not None:
        config = dataclasses.replace(config, detector=dataclasses.replace(config.detector, model_path=str(model)))
    try:
        done = export_models(config, force=force)
        for item in done:
            took = f" in {item.seconds:.1f} s" if item.seconds else ""
            click.echo(f"{item.model.role:<21} {item.exported}  {item.status}{took}")
        if not done:
            click.echo("no .pt models to export in this config")
        if video is None:
            return
        agreements = check_exports(config, video, frames)
    except InputError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{'PyTorch vs ONNX Runtime':<21} {'images':>6} {'boxes':>6} {'count diff':>10} {'max box px':>10} "
               f"{'class diff':>10} {'max score':>9}")
    for a in agreements:
        click.echo(f"{a.role:<21} {a.images:>6} {a.boxes:>6} {a.count_mismatches:>10} {a.max_box_diff_px:>10.4f} "
                   f"{a.class_mismatches:>10} {a.max_score_diff:>9.5f}")
    if not all(a.equal for a in agreements):
        click.echo("the exports' results differ from the .pt models' (see above)", err=True)
        sys.exit(1)

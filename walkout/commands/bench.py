"""`walkout bench`: score predictions against labelled store recordings (a thin shell over
:func:`walkout.bench.run_bench`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from walkout.bench import METRICS, BenchConfig, run_bench
from walkout.bench.report import summary


def _floors(values: tuple[str, ...]) -> dict[str, float]:
    floors: dict[str, float] = {}
    for value in values:
        name, sep, number = value.partition("=")
        name = name.strip()
        if not sep:
            raise click.BadParameter(
                f"{value!r}: expected METRIC=VALUE, e.g. attributed_f1=0.9", param_hint="--fail-under"
            )
        if name not in METRICS:
            raise click.BadParameter(
                f"unknown metric {name!r}; known: {', '.join(METRICS)}", param_hint="--fail-under"
            )
        try:
            floors[name] = float(number)
        except ValueError:
            raise click.BadParameter(
                f"{value!r}: {number!r} is not a number", param_hint="--fail-under"
            ) from None
    return floors


def _predict(recordings: tuple[Path, ...], out: Path) -> Path:
    """No --predictions: run the pipeline (with speed baselines), then fusion where there is a weight log."""
    from fusion.pipeline import fuse_recording
    from fusion.weights import find_weight_log
    from walkout.batch import run_recordings

    predictions = out / "predictions"
    try:
        results = run_recordings(list(recordings), out_dir=predictions, baselines=True)
    except ValueError as exc:  # the pipeline's input errors (model, video, format) name the file
        raise click.ClickException(f"the pipeline could not run: {exc}") from None
    for result in results:
        if not result.ok:
            continue
        try:
            find_weight_log(result.recording)
        except ValueError:
            continue
        try:
            fuse_recording(result.recording, result.out_dir, result.out_dir)
        except ValueError as exc:
            click.echo(f"fusion failed for {result.recording}: {exc}", err=True)
    return predictions


@click.command(name="bench")
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--predictions",
    "predictions",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder holding <recording name>/ as written by `walkout run`. Omitted: run the pipeline first.",
)
@click.option(
    "--out", "out", required=True, type=click.Path(path_type=Path, file_okay=False), help="Report folder."
)
@click.option(
    "--tolerance",
    "tolerance_s",
    type=float,
    default=BenchConfig.tolerance_s,
    show_default=True,
    help="Seconds within which a predicted event may match a truth event.",
)
@click.option(
    "--iou",
    "iou_threshold",
    type=float,
    default=BenchConfig.iou_threshold,
    show_default=True,
    help="IoU threshold for tracking metrics and for mapping predicted tracks to truth shoppers.",
)
@click.option(
    "--fail-under",
    "fail_under",
    multiple=True,
    metavar="METRIC=VALUE",
    help=f"Exit 1 if an overall metric is below VALUE (repeatable). Metrics: {', '.join(METRICS)}.",
)
def command(
    recordings: tuple[Path, ...],
    predictions: Path | None,
    out: Path,
    tolerance_s: float,
    iou_threshold: float,
    fail_under: tuple[str, ...],
) -> None:
    """Score predictions against labelled RECORDINGS; write report.json and report.md into --out."""
    floors = _floors(fail_under)
    try:
        config = BenchConfig(tolerance_s=tolerance_s, iou_threshold=iou_threshold)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if predictions is None:
        predictions = _predict(recordings, out)
    elif not predictions.is_dir():
        raise click.BadParameter(f"{predictions} is not a folder", param_hint="--predictions")
    report = run_bench(recordings, predictions, out, config)
    for line in summary(report):
        click.echo(line)
    click.echo(f"report: {out / 'report.md'} and {out / 'report.json'}")
    problems = report.below(floors)
    for problem in problems:
        click.echo(f"fail-under: {problem}", err=True)
    if report.failed or problems:
        sys.exit(1)

"""`walkout fuse`: weight logs (+ vision events) of recordings -> verified receipts.

Two forms: one recording (``walkout fuse RECORDING [--events RUN_DIR] --out DIR``, writing into DIR),
or a batch over the run folders of a `walkout run --out RUNS` folder (``walkout fuse RUNS``, or
``walkout fuse RECORDING_OR_FOLDER... --events RUNS``), writing into each ``RUNS/<recording>/`` with
RUNS/manifest.json: resumable, in parallel, one failure never stops the others.
"""

from __future__ import annotations

from pathlib import Path

import click

from walkout.commands.batch_cli import (
    address_option,
    echo_report,
    engine_option,
    fail_fast_option,
    progress_option,
    show_progress,
    workers_option,
)


@click.command(name="fuse")
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--events", "events", type=click.Path(path_type=Path), default=None,
    help="Vision's outputs. One recording: an events.csv or a run directory holding one (its reaches.csv "
    "and tracks.csv, when there, say who was at a shelf); without it, weight-only receipts. A batch: the "
    "folder `walkout run --out` wrote (with manifest.json).",
)
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Output directory of one recording (required then); a batch writes into each run folder.")
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path), default=None,
    help="TOML/YAML with [weights], [weight_events], [identify], [reconcile], [attribution] tables "
    "(docs/CONFIG.md; `walkout config --check FILE` checks one).",
)
@click.option("--force", is_flag=True, help="A batch: fuse again run folders fused already with this config.")
@workers_option
@engine_option
@address_option
@fail_fast_option
@progress_option
def command(recordings: tuple[Path, ...], events: Path | None, out: Path | None, config_path: Path | None,
            force: bool, workers: int, engine: str, address: str | None, fail_fast: bool,
            progress: bool | None) -> None:
    """Check vision's events against the shelf weight log; write weight_events.csv, receipts.json and
    discrepancies.csv.

    \b
    walkout fuse RECORDING --events RUN_DIR --out DIR     one recording, into DIR
    walkout fuse RUNS                                     every recording of a `walkout run --out RUNS` folder
    walkout fuse RECORDING_OR_FOLDER... --events RUNS     those recordings' run folders in RUNS

    A batch writes into RUNS/<recording>/ and records each fusion in RUNS/manifest.json: a run folder
    fused already with the same config, weight log and vision outputs is skipped (unless --force), a
    failed one is retried next time. The exit code is 1 if any recording failed.
    """
    from formats.errors import FormatError
    from walkout.config import load_fuse_config
    from walkout.manifest import MANIFEST_NAME

    runs = None
    if events is not None and (events / MANIFEST_NAME).is_file():
        runs = events
    elif events is None and len(recordings) == 1 and (recordings[0] / MANIFEST_NAME).is_file():
        runs, recordings = recordings[0], ()
    if runs is None and (len(recordings) != 1 or out is None):
        raise click.UsageError(
            "one recording needs --out DIR; to fuse several, name the folder `walkout run --out` wrote "
            "(walkout fuse RUNS, or walkout fuse RECORDINGS... --events RUNS)")
    if events is not None and not events.exists():
        raise FormatError(events, "file not found")
    config = load_fuse_config(config_path)
    if runs is None:
        _fuse_one(recordings[0], events, out, config)
        return
    if out is not None and out.resolve() != runs.resolve():
        raise click.UsageError(f"a batch writes into each run folder of {runs}: leave out --out (got {out})")
    _fuse_batch(runs, recordings, config, force=force, workers=workers, engine=engine, address=address,
                fail_fast=fail_fast, progress=show_progress(progress))


def _fuse_one(recording: Path, events: Path | None, out: Path, config) -> None:
    from fusion.pipeline import fuse_recording

    result = fuse_recording(recording, events, out, config)
    counts: dict[str, int] = {}
    for line in result.lines:
        counts[line.status] = counts.get(line.status, 0) + 1
    # Load problems (gaps, NaN dropouts, ...) were already logged as warnings, one per plate and kind.
    status = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no lines"
    click.echo(
        f"{result.recording}: {len(result.weight_events)} weight event(s), {len(result.receipts['shoppers'])} "
        f"shopper(s); lines: {status} ({result.seconds:.1f} s)"
    )
    unattributed = result.receipts["unattributed"]["items"]
    if unattributed:
        click.echo("unattributed: " + ", ".join(f"{sku} x {qty}" for sku, qty in unattributed.items()))
    click.echo(f"wrote {', '.join(str(p) for p in result.outputs.values())}")


def _fuse_batch(runs: Path, recordings: tuple[Path, ...], config, **options) -> None:
    """Fuse the run folders of ``runs``: of ``recordings`` (folders of recordings expanded as by `walkout
    run`), or of every recording its manifest lists."""
    from walkout.batch import RunError, RunOptions, run_batch
    from walkout.manifest import load_manifest
    from walkout.parallel import EngineError

    if not recordings:
        recordings = tuple(Path(entry.recording) for _, entry in sorted(load_manifest(runs).recordings.items()))
        if not recordings:
            raise click.ClickException(f"{runs / 'manifest.json'}: lists no recordings to fuse")
    try:
        report = run_batch(recordings, runs, options=RunOptions(vision=False, fuse=config, **options))
    except (RunError, EngineError) as exc:
        raise click.ClickException(str(exc)) from None
    echo_report(report, runs)

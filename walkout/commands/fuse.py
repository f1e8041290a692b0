"""`walkout fuse`: weight logs (+ vision events) of a recording -> verified receipts."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="fuse")
@click.argument("recording", type=click.Path(path_type=Path))
@click.option(
    "--events", "events", type=click.Path(path_type=Path), default=None,
    help="Vision events: an events.csv or a run directory holding one (its reaches.csv and tracks.csv, "
    "when there, say who was at a shelf). Without it: weight-only receipts.",
)
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Output directory.")
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path), default=None,
    help="TOML/YAML with [weights], [weight_events], [identify], [reconcile], [attribution] tables "
    "(docs/CONFIG.md; `walkout config --check FILE` checks one).",
)
def command(recording: Path, events: Path | None, out: Path, config_path: Path | None) -> None:
    """Check vision's events against the shelf weight log; write weight_events.csv, receipts.json and
    discrepancies.csv to OUT."""
    from formats.errors import FormatError
    from fusion.pipeline import fuse_recording
    from walkout.config import load_fuse_config

    if events is not None and not events.exists():
        raise FormatError(events, "file not found")
    config = load_fuse_config(config_path) if config_path is not None else None
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

"""`walkout zones`: draw, check and apply the shelf zones of a recording's cameras."""

from __future__ import annotations

import sys
from pathlib import Path

import click

ZONES_OPTION = click.option(
    "--zones", "zones_file", type=click.Path(path_type=Path), default=None,
    help='A zones side file {"version": 1, "zones": {"<camera>": [...]}} instead of store.json\'s zones.',
)


@click.group(name="zones")
def command() -> None:
    """Shelf zones: export a reference frame to write them, check them, apply a zones file."""


@command.command(name="frame")
@click.argument("recording", type=click.Path(path_type=Path))
@click.option("--camera", "camera_id", required=True, help="Camera id (store.json cameras[].id).")
@click.option("--at", "at_s", type=float, default=0.0, show_default=True, help="Seconds from the video's start.")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="PNG to write.")
@click.option("--grid", "grid_px", type=int, default=50, show_default=True, help="Grid spacing in video pixels.")
@click.option("--scale", type=float, default=1.0, show_default=True, help="Draw the frame this many times larger.")
@ZONES_OPTION
@click.option("--no-anonymize", "no_anonymize", is_flag=True,
              help="Leave faces visible: for a store's own secured review only (logged; see PRIVACY.md).")
def frame(recording: Path, camera_id: str, at_s: float, out: Path, grid_px: int, scale: float,
          zones_file: Path | None, no_anonymize: bool) -> None:
    """Write a reference frame with a labelled pixel grid and the current zones drawn (faces hidden)."""
    from walkout.zones import ZoneCheckConfig, zone_frame

    written = zone_frame(recording, camera_id, at_s, out, zones_file, ZoneCheckConfig(grid_px=grid_px, scale=scale),
                         anonymize=not no_anonymize)
    click.echo(f"wrote {written}")


@command.command(name="check")
@click.argument("recording", type=click.Path(path_type=Path))
@ZONES_OPTION
@click.option("--min-area", "min_area_px", type=float, default=50.0, show_default=True,
              help="Smallest polygon area in square pixels.")
def check(recording: Path, zones_file: Path | None, min_area_px: float) -> None:
    """Check zones against the image (inside, >= 3 points, real area, no crossing edges) and the planogram."""
    from walkout.recording import load_recording
    from walkout.zones import ZoneCheckConfig, check_zones, read_zones_file

    problems = check_zones(recording, zones_file, ZoneCheckConfig(min_area_px=min_area_px))
    loaded = load_recording(recording)
    override = read_zones_file(zones_file) if zones_file is not None else {}
    counts = [f"{c.id}: {len(override.get(c.id, c.zones))} zone(s)" for c in loaded.cameras]
    for problem in problems:
        click.echo(str(problem))
    click.echo(f"{recording}: {', '.join(counts) or 'no cameras'}; {len(problems)} problem(s)")
    if problems:
        sys.exit(1)


@command.command(name="apply")
@click.argument("recording", type=click.Path(path_type=Path))
@click.option("--zones", "zones_file", type=click.Path(path_type=Path), required=True, help="Zones side file.")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Working-copy folder.")
def apply(recording: Path, zones_file: Path, out: Path) -> None:
    """Make a working copy of RECORDING (files symlinked) whose store.json has the zones of a zones file."""
    from walkout.zones import apply_zones

    click.echo(f"wrote {apply_zones(recording, zones_file, out)}")


@command.command(name="project")
@click.argument("recording", type=click.Path(path_type=Path))
@click.option("--camera", "camera_id", default=None, help="Only this camera (default: every calibrated camera).")
def project(recording: Path, camera_id: str | None) -> None:
    """Project the shelf and plate boxes of store.json into each calibrated camera and write them as its
    zones (store.json replaced atomically; hidden faces dropped, clipped to the image)."""
    from walkout.zones import project_zones

    for cid, (zones, notes) in project_zones(recording, camera_id).items():
        click.echo(f"{cid}: {len(zones)} zone(s)" + (f", {len(notes)} plate(s) not in view" if notes else ""))
        for note in notes:
            click.echo(f"  {note}")

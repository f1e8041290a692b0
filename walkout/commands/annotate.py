"""`walkout annotate`: a run drawn onto its recording's videos (a thin shell over
:func:`walkout.annotate.annotate_recording`)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="annotate")
@click.argument("recording", type=click.Path(path_type=Path, file_okay=False))
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--no-anonymize", "no_anonymize", is_flag=True,
              help="Leave faces visible: for a store's own secured review only (logged; see PRIVACY.md).")
def command(recording: Path, run_dir: Path, no_anonymize: bool) -> None:
    """Draw RUN_DIR's tracks, hands, zones and events onto RECORDING's videos.

    Writes RUN_DIR/annotated/<camera>.mp4 and RUN_DIR/events_contact_sheet.png (every event: the
    frames before, during and after it). RUN_DIR is one recording's folder of `walkout run` output.
    Faces and the heads of tracked shoppers are pixelated first (PRIVACY.md) unless --no-anonymize.
    """
    from walkout.annotate import annotate_recording

    for path in annotate_recording(recording, run_dir, anonymize=not no_anonymize):
        click.echo(f"wrote {path}")

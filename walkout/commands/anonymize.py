"""`walkout anonymize`: faces hidden in an image or a video (a thin shell over
:func:`walkout.anonymize.anonymize_file`)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="anonymize")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="File to write: same format as SOURCE (png, jpg or mp4).")
def command(source: Path, out: Path) -> None:
    """Hide the faces in SOURCE, an image (png, jpg) or a video (mp4), and write OUT.

    Faces are found by CenterFace (offline, at two scales, for small faces seen from the ceiling) and
    pixelated into a few coarse cells; every other pixel is left as it was (byte-identical in a PNG).
    OUT has SOURCE's format, size and frame rate, and is written under a temporary name and renamed
    when complete. See PRIVACY.md.
    """
    from walkout.anonymize import anonymize_file

    click.echo(f"wrote {anonymize_file(source, out)}")

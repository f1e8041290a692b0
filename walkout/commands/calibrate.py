"""`walkout calibrate`: a camera's pose (or floor homography) from points seen in its image."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="calibrate")
@click.argument("recording", type=click.Path(path_type=Path))
@click.option("--camera", "camera_id", required=True, help="Camera id (store.json cameras[].id).")
@click.option("--points", "points_path", type=click.Path(path_type=Path), required=True,
              help='JSON {"points": [{"image_px": [u, v], "store_m": [x, y, z]}, ...]} or CSV u,v,x,y[,z].')
@click.option("--max-error", "max_error_px", type=click.FloatRange(min=0.0, min_open=True), default=5.0,
              show_default=True, help="Refuse the fit when any point reprojects further than this (pixels).")
@click.option("--focal", "focal_px", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="Known focal length in pixels (square pixels, principal point at the centre, no "
                   "distortion): then 4 points, even on one plane, fix the pose.")
def command(recording: Path, camera_id: str, points_path: Path, max_error_px: float, focal_px: float | None) -> None:
    """Fit CAMERA of RECORDING to image<->store points: >= 4 floor points (z = 0) give a floor homography,
    >= 6 pairs off one plane give a full pose (cv2.solvePnP; unknown intrinsics estimated as one focal
    length). Prints each point's reprojection error; writes store.json atomically, or refuses."""
    from walkout.calibrate import CalibrateConfig, calibrate_camera

    result = calibrate_camera(recording, camera_id, points_path, CalibrateConfig(max_error_px=max_error_px),
                              focal_px=focal_px)
    for i, (pair, error) in enumerate(zip(result.pairs, result.errors_px, strict=True)):
        click.echo(f"  points[{i}] image {list(pair.image_px)} store {list(pair.store_m)}: {error:.2f} px")
    if result.calibration is not None:
        K = result.calibration.intrinsics
        where = ", ".join(f"{v:.2f}" for v in result.calibration.position_m)
        click.echo(f"{camera_id}: pose, focal {K[0, 0]:.1f} px, camera at ({where}) m")
    else:
        click.echo(f"{camera_id}: floor homography")
    click.echo(f"reprojection error: rms {result.rms_error_px:.2f} px, max {result.max_error_px:.2f} px "
               f"(limit {max_error_px:g}); written to {Path(recording) / 'store.json'}")

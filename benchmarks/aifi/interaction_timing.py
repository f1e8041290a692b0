"""Interaction timing on a real recording: did a hand enter the labelled shelf near each labelled time?

Complements ``walkout bench`` (which scores product-level events): with no product evidence, the
question a real camera can answer is whether the pipeline saw the interaction at all, where and
when. Prints one line per truth event and a summary; with ``--overlays DIR`` also writes one PNG per
predicted event and per visible truth event (zones, shopper boxes, hands from the run's tables), with
faces and the tracked shoppers' heads pixelated (walkout.anonymize, PRIVACY.md).

    python benchmarks/aifi/interaction_timing.py RECORDING RUN_DIR/<recording> [--tolerance 1.5] [--overlays DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from walkout.anonymize import anonymize_picture
from walkout.recording import load_recording
from walkout.zones import _zones_of, draw_run_frame, interaction_timing, read_frame

log = logging.getLogger("interaction_timing")


def overlay(recording, run_dir: Path, camera_id: str, frame: int, out: Path, title: str, scale: float) -> Path:
    camera = recording.camera(camera_id)
    hands = pd.read_csv(run_dir / "hands.csv", dtype={"sku": str, "camera": str})
    tracks = pd.read_csv(run_dir / "tracks.csv", dtype={"camera": str})
    fps = json.loads((run_dir / "run.json").read_text())["cameras"][camera_id]["fps"]
    image, _ = read_frame(camera.video, frame / fps)
    shoppers = tracks[(tracks["camera"] == camera_id) & (tracks["frame"] == frame)]
    image = anonymize_picture(image, True, out, shoppers[["x1", "y1", "x2", "y2"]].to_numpy(float))
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    mine = (hands["camera"] == camera_id) & (hands["frame"] == frame)
    shown = draw_run_frame(image, _zones_of(camera), shoppers, hands[mine], scale)
    banner = np.zeros((26, shown.shape[1], 3), dtype=np.uint8)
    cv2.putText(banner, title, (8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    shown = np.vstack([banner, shown])
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), shown, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording", type=Path)
    parser.add_argument("run_dir", type=Path, help="The run's folder for this recording (has hands.csv, run.json).")
    parser.add_argument("--tolerance", type=float, default=1.5, help="Seconds (the bench's event tolerance).")
    parser.add_argument("--overlays", type=Path, default=None, help="Folder for overlay PNGs.")
    parser.add_argument("--scale", type=float, default=1.0, help="Overlay size as a multiple of the video's.")
    parser.add_argument("--frames", type=str, default="", help="More overlay frames: CAMERA:FRAME,... (e.g. cam6:70).")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    recording = load_recording(args.recording)
    info = json.loads((args.run_dir / "run.json").read_text())
    fps = {camera: float(c["fps"]) for camera, c in info["cameras"].items()}
    hands = pd.read_csv(args.run_dir / "hands.csv", dtype={"sku": str, "camera": str})
    table = interaction_timing(recording, hands, fps, args.tolerance)
    predicted = pd.read_csv(args.run_dir / "events.csv", dtype={"sku": str, "shopper": str, "camera": str})
    t0 = min(c.start_timestamp for c in recording.cameras)
    print(f"interaction timing (hand in a zone of the labelled shelf within {args.tolerance:g} s of the label):")
    for row in table.itertuples(index=False):
        where = ("no zone of this shelf in any camera (not visible)" if not row.visible
                 else "no hand ever in its zones" if np.isnan(row.nearest_s)
                 else f"nearest hand-in-zone {row.nearest_s:+.1f} s -> {'HIT' if row.hit else 'miss'}")
        print(f"  t={row.timestamp - t0:5.1f} s  {row.action} {row.sku} at {row.shelf}: {where}")
    visible = table[table["visible"]]
    print(f"  visible: {len(visible)} of {len(table)} labelled event(s); hand seen in the right shelf in time: "
          f"{int(visible['hit'].sum())} of {len(visible)}"
          + (f"; median |dt| of hits {visible.loc[visible['hit'], 'nearest_s'].abs().median():.2f} s"
             if visible["hit"].any() else ""))
    for row in predicted.itertuples(index=False):
        print(f"  predicted: t={row.timestamp - t0:5.1f} s  {row.action} {row.sku} x{row.quantity} at {row.shelf} "
              f"plates {row.plates} (shopper {row.shopper}, {row.camera} frame {row.frame})")
    if args.overlays is not None:
        for row in predicted.itertuples(index=False):
            title = f"predicted {row.action} {row.sku} {row.shelf} t={row.timestamp - t0:.1f}s"
            log.info("%s", overlay(recording, args.run_dir, row.camera, int(row.frame),
                                   args.overlays / f"event_{row.camera}_{int(row.frame):05d}.png", title, args.scale))
        for item in filter(None, args.frames.split(",")):
            camera_id, frame = item.split(":")
            fps_of = fps[camera_id]
            title = f"{camera_id} frame {frame} (t={int(frame) / fps_of:.1f}s)"
            log.info("%s", overlay(recording, args.run_dir, camera_id, int(frame),
                                   args.overlays / f"frame_{camera_id}_{int(frame):05d}.png", title, args.scale))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

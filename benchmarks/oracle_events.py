"""Upper bound of the event logic: feed the mock store's truth boxes (perfect detection, tracking and
hand ownership) to the same hand -> zone -> event stages the pipeline uses, and score with the bench.

It separates the event logic's own errors from the detector's. Hands and shoppers less than ``--min-visible``
unhidden are dropped, as a detector would miss them; held products count from 5 % visible.

    python benchmarks/oracle_events.py sample_videos/* --out runs/oracle
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from formats.tables import HAND_COLUMNS, read_truth_boxes, write_events, write_json_atomic
from vision.events import EventConfig, decide_events
from vision.timeline import build_timelines, timelines_document
from vision.zones import ShelfZone, zone_of_points
from walkout.bench import run_bench
from walkout.recording import load_recording, probe_video


def oracle_hands(boxes: pd.DataFrame, zones: tuple[ShelfZone, ...], min_visible: float,
                 min_visible_held: float = 0.05) -> pd.DataFrame:
    """Truth boxes -> the pipeline's hand table (HAND_COLUMNS): visible hands with their true owner,
    and each owner's visible in-hand products counted on their first listed hand that frame."""
    hands = boxes[(boxes["object"] == "hand") & (boxes["visible"] >= min_visible)].copy()
    hands["x"] = (hands["x1"] + hands["x2"]) / 2
    hands["y"] = (hands["y1"] + hands["y2"]) / 2
    hands["zone"] = zone_of_points(hands[["x", "y"]].to_numpy(float), zones)
    hands = hands.rename(columns={"track_id": "owner"})[["frame", "owner", "x", "y", "zone"]]
    products = boxes[(boxes["object"] == "product_in_hand") & (boxes["visible"] >= min_visible_held)]
    held = products.groupby(["frame", "track_id", "sku"]).size().rename("count").reset_index()
    held = held.rename(columns={"track_id": "owner"})
    first = hands.drop_duplicates(["frame", "owner"])[["frame", "owner"]]
    held = held.merge(first, on=["frame", "owner"], how="inner")  # products seen without a hand: no row
    rows = [hands.assign(sku="", count=0, sku_confidence=0.0), held.assign(x=np.nan, y=np.nan, zone=-1, sku_confidence=1.0)]
    return pd.concat(rows, ignore_index=True)[list(HAND_COLUMNS)].sort_values("frame", kind="stable")


def run_oracle(recording_path: Path, out_root: Path, config: EventConfig, min_visible: float) -> Path:
    recording = load_recording(recording_path)
    planogram = {(s, int(p)): k for s, p, k in recording.planogram[["shelf", "plate", "sku"]].itertuples(index=False)}
    out = out_root / recording_path.name
    events = []
    for camera in recording.cameras:
        boxes = read_truth_boxes(recording.path / "truth" / "boxes" / f"{camera.id}.csv")
        zones = tuple(ShelfZone(z.shelf, z.plates, z.polygon) for z in camera.zones)
        hands = oracle_hands(boxes, zones, min_visible)
        info = probe_video(camera.video)
        found, _ = decide_events(hands, zones, camera=camera.id, start_timestamp=camera.start_timestamp,
                                 fps=info.fps, planogram=planogram, config=config,
                                 image_size_px=(info.width_px, info.height_px))
        events += found
        tracks = boxes[(boxes["object"] == "shopper") & (boxes["visible"] >= min_visible)]
        mot = pd.DataFrame({"f": tracks["frame"] + 1, "id": tracks["track_id"], "x": tracks["x1"], "y": tracks["y1"],
                            "w": tracks["x2"] - tracks["x1"], "h": tracks["y2"] - tracks["y1"], "c": 1, "a": -1,
                            "b": -1, "d": -1})
        (out / "tracks").mkdir(parents=True, exist_ok=True)
        mot.to_csv(out / "tracks" / f"{camera.id}.txt", header=False, index=False)
    frame = pd.DataFrame([e.to_dict() for e in events]).drop(columns=["version"], errors="ignore")
    write_events(frame if not frame.empty else pd.DataFrame(columns=["timestamp", "shopper", "action", "sku",
                                                                       "quantity", "shelf", "plates"]),
                 out / "events.csv", predicted=True)
    write_json_atomic(timelines_document(recording.name, build_timelines(events)), out / "timeline.json")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recordings", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--min-visible", type=float, default=0.35, help="hands and shoppers less visible are missed")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for path in args.recordings:
        run_oracle(path, args.out / "predictions", EventConfig(), args.min_visible)
    report = run_bench(args.recordings, args.out / "predictions", args.out / "report")
    metrics = report.metrics()
    for name in ("product_f1", "attributed_f1", "receipt_accuracy", "cart_f1"):
        print(f"{name:20s} {metrics.get(name, float('nan')):.3f}")


if __name__ == "__main__":
    main()

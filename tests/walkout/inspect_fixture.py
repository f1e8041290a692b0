"""A hand-built store recording and the run directory of it, for the inspect and annotate tests.

Camera cam0: 160x120 px, 10 fps, 30 frames, starting at T0. Shelf A1 has two zones side by side
(plate 1 left, plate 2 right). What happens:

- shopper 1 (frames 0-19) reaches into plate 1 in frames 5-9 and holds a Tea (0001) in frames 10-14:
  a pick at frame 9; the weight of plate 1 drops by 250 g at 1.0 s (weight event w0001);
- shopper 2 (frames 10-29) reaches into plate 2 in frames 17-22: vision calls it a return of a Jam
  (0002) at frame 20, but the shelf weighs the same (vision_only);
- plate 2 loses 340 g at 2.5 s with no shopper seen (w0002, an unattributed Jam pick).

reaches.csv has the two hand visits; shoppers.csv each shopper's floor position every 0.5 s; the
confirmed receipt line carries the attribution model's probability, evidence and frames to look at,
and discrepancies.csv is what formats.receipts writes for the lines.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from formats.receipts import discrepancies_frame, read_receipts, receipt_lines
from formats.tables import write_csv_atomic

T0 = 1_700_000_000.0
FPS = 10.0
FRAMES = 30
WIDTH, HEIGHT = 160, 120
ZONES = [
    {"shelf": "A1", "plates": [1], "polygon": [[10, 10], [70, 10], [70, 50], [10, 50]]},
    {"shelf": "A1", "plates": [2], "polygon": [[80, 10], [150, 10], [150, 50], [80, 50]]},
]
EVENT_HEADER = "timestamp,shopper,action,sku,quantity,shelf,plates,camera,frame,confidence"


def write_video(path: Path, frames: int = FRAMES) -> Path:
    """A grey gradient that changes each frame (so frames differ), mp4v."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    ramp = np.tile(np.linspace(40, 200, WIDTH, dtype=np.uint8), (HEIGHT, 1))
    for i in range(frames):
        writer.write(np.dstack([ramp, ramp, np.full_like(ramp, 5 * i)]))
    writer.release()
    return path


def write_recording(root: Path) -> Path:
    recording = root / "rec"
    (recording / "truth").mkdir(parents=True)
    (recording / "store.json").write_text(json.dumps({
        "version": 1, "name": "handmade",
        "cameras": [{"id": "cam0", "video": "videos/cam0.mp4", "start_timestamp": T0, "zones": ZONES}],
    }))
    (recording / "catalog.csv").write_text("sku,name,weight_g\n0001,Tea,250\n0002,Jam,340\n")
    (recording / "planogram.csv").write_text("shelf,plate,sku\nA1,1,0001\nA1,2,0002\n")
    lines = ["timestamp,shelf,plate,grams"]
    for i in range(180):  # 3 s at 60 Hz
        t = i / 60
        lines.append(f"{T0 + t:.4f},A1,1,{1000 - 250 * (t >= 1.0):.1f}")
        lines.append(f"{T0 + t:.4f},A1,2,{900 - 340 * (t >= 2.5):.1f}")
    (recording / "weights.csv").write_text("\n".join(lines) + "\n")
    (recording / "truth" / "events.csv").write_text(
        "timestamp,shopper,action,sku,quantity,shelf,plates\n"
        f"{T0 + 1.0},1,pick,0001,1,A1,1\n{T0 + 2.5},1,pick,0002,1,A1,2\n"
    )
    write_video(recording / "videos" / "cam0.mp4")
    return recording


def vision_dict(t: float, shopper: str, action: str, sku: str, plates: str) -> dict:
    return {"timestamp": T0 + t, "shopper": shopper, "action": action, "sku": sku, "quantity": 1,
            "shelf": "A1", "plates": plates, "confidence": 0.9}


def write_run(root: Path, recording: Path | None) -> Path:
    """The run directory of the recording as `walkout run` + `walkout fuse` would write it."""
    run = root / "run" / "rec"
    run.mkdir(parents=True)
    (run / "events.csv").write_text(
        f"{EVENT_HEADER}\n{T0 + 0.9},1,pick,0001,1,A1,1,cam0,9,0.9\n{T0 + 2.0},2,return,0002,1,A1,2,cam0,20,0.9\n"
    )
    tracks = ["frame,track_id,x1,y1,x2,y2,confidence,camera"]
    tracks += [f"{f},1,{2 * f},40,{2 * f + 40},110,0.9,cam0" for f in range(20)]
    tracks += [f"{f},2,100,40,150,110,0.8,cam0" for f in range(10, 30)]
    (run / "tracks.csv").write_text("\n".join(tracks) + "\n")
    hands = ["frame,owner,x,y,zone,sku,count,sku_confidence,camera"]
    hands += [f"{f},1,40,30,0,,0,0,cam0" for f in range(5, 10)]
    hands += [f"{f},1,40,70,-1,0001,1,0.9,cam0" for f in range(10, 15)]
    hands += [f"{f},2,110,30,1,,0,0,cam0" for f in range(17, 23)]
    (run / "hands.csv").write_text("\n".join(hands) + "\n")
    (run / "reaches.csv").write_text(
        "camera,shopper,shelf,plates,start,end,frames\n"
        f"cam0,1,A1,1,{T0 + 0.5},{T0 + 1.0},5\ncam0,2,A1,2,{T0 + 1.7},{T0 + 2.3},6\n"
    )
    positions = ["timestamp,shopper,x,y,cameras"]
    positions += [f"{T0 + t / 2:.3f},1,{0.5 + t / 10:.2f},1.0,cam0" for t in range(4)]
    positions += [f"{T0 + 1 + t / 2:.3f},2,2.0,{1.0 + t / 10:.2f},cam0" for t in range(4)]
    (run / "shoppers.csv").write_text("\n".join(positions) + "\n")
    pick = vision_dict(0.9, "1", "pick", "0001", "1")
    back = vision_dict(2.0, "2", "return", "0002", "2")
    (run / "timeline.json").write_text(json.dumps({"version": 1, "recording": "handmade", "shoppers": [
        {"shopper": "1", "events": [{**pick, "camera": "cam0", "frame": 9, "cart_after": {"0001": 1}}],
         "final_cart": {"0001": 1}},
        {"shopper": "2", "events": [{**back, "camera": "cam0", "frame": 20, "cart_after": {}}], "final_cart": {}},
    ]}))
    (run / "run.json").write_text(json.dumps({
        "version": 1, "name": "handmade", "recording": str(recording) if recording else "/nowhere",
        "cameras": {"cam0": {"fps": FPS, "frames": FRAMES}},
        "config": {"events": {"max_gap_s": 0.3, "min_visit_s": 0.2}, "held": {"hand_box_scale": 1.8}},
    }))
    (run / "weight_events.csv").write_text(
        "id,start,end,shelf,plates,delta_g,plate_deltas_g,confidence\n"
        f"w0001,{T0 + 0.95},{T0 + 1.1},A1,1,-250.0,-250,0.95\nw0002,{T0 + 2.45},{T0 + 2.6},A1,2,-340.0,-340,0.96\n"
    )

    def line(status, action, sku, t, plates, delta, weight_event, vision, **attribution):
        return {"status": status, "sku": sku, "quantity": 1, "action": action, "timestamp": T0 + t, "shelf": "A1",
                "plates": plates, "delta_g": delta, "vision": vision, "weight_event": weight_event,
                "reason": status, "counted": status != "vision_only", **attribution}

    attributed = {"probability": 0.93, "candidates": {"1": 0.97, "2": 0.03}, "look_at": [["cam0", 4, 11]], "evidence": [
        {"feature": "offset", "value": 0.12, "contribution": 1.5}, {"feature": "claim", "value": 1.0, "contribution": 0.4}]}
    (run / "receipts.json").write_text(json.dumps({"version": 1, "recording": "handmade", "shoppers": {
        "1": {"items": {"0001": 1},
              "lines": [line("confirmed", "pick", "0001", 0.95, [1], -250.0, "w0001", pick, **attributed)]},
        "2": {"items": {}, "lines": [line("vision_only", "return", "0002", 2.0, [2], None, None, back)]},
    }, "unattributed": {"items": {"0002": 1},
                        "lines": [line("unattributed", "pick", "0002", 2.45, [2], -340.0, "w0002", None)]}}))
    lines = receipt_lines(read_receipts(run / "receipts.json"))
    write_csv_atomic(discrepancies_frame(lines), run / "discrepancies.csv")
    return run

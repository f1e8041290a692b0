"""Write a complete store recording (docs/FORMAT.md) with its truth, from a scenario."""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from mockstore.figures import shopper_pose
from mockstore.render import BOX_COLUMNS, CameraRenderer, make_palette
from mockstore.scenario import Scenario
from mockstore.scene import Camera, Layout, make_cameras
from mockstore.script import Simulation, compile_scenario, seed_streams
from mockstore.weights import synthesize_weights

log = logging.getLogger(__name__)

STORE_VERSION = 2
GEOMETRY_DECIMALS = 6
SHOPPER_COLUMNS = ("timestamp", "shopper", "x", "y")
# Store layout: a camera has a zone for a plate when it sees at least this share of the plate's volume.
MIN_ZONE_SEEN_SHARE = 0.5


@dataclass(frozen=True)
class RecordingSummary:
    """What :func:`write_recording` produced and how fast it rendered (frames per second of wall time)."""

    path: Path
    cameras: int
    frames_per_camera: int
    events: int
    shoppers: int
    render_fps: float


def plate_zones(sim: Simulation, cam: Camera, renderer: CameraRenderer | None = None) -> list[dict]:
    """One zone per plate: the projected plate volume (convex hull), clipped to the image. With a
    store-layout ``renderer``, plates the camera sees less than ``MIN_ZONE_SEEN_SHARE`` of (behind
    gondola frames, e.g. glimpsed over the back panels in the next aisle) are left out."""
    frame = np.array([[0, 0], [cam.width_px, 0], [cam.width_px, cam.height_px], [0, cam.height_px]], np.float32)
    occluded = renderer is not None and renderer.panel_depth is not None
    zones = []
    for shelf, plate, _ in sorted(sim.planogram, key=lambda r: (r[0], r[1])):
        if occluded and renderer.shelf_seen_share(shelf, plate, with_margins=False) < MIN_ZONE_SEEN_SHARE:
            continue
        pix, depth = cam.project(sim.layout.plate_box_m(shelf, plate))
        if (depth <= 0.1).any():
            continue
        hull = cv2.convexHull(pix.astype(np.float32))
        area, clipped = cv2.intersectConvexConvex(hull, frame)
        if clipped is None or area < 30 or len(clipped) < 3:
            continue
        polygon = [[round(float(x), 1), round(float(y), 1)] for x, y in clipped.reshape(-1, 2)]
        zones.append({"shelf": shelf, "plates": [int(plate)], "polygon": polygon})
    return zones


def _prepare_dir(out_dir: Path) -> Path:
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "store.json").exists():
        raise FileExistsError(f"{out_dir}: exists, is not empty and is not a store recording; not overwriting")
    tmp = out_dir.parent / f".{out_dir.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "videos").mkdir(parents=True)
    (tmp / "truth" / "tracks").mkdir(parents=True)
    (tmp / "truth" / "boxes").mkdir(parents=True)
    return tmp


def write_recording(scenario: Scenario, out_dir: str | Path, *, sim: Simulation | None = None) -> RecordingSummary:
    """Render ``scenario`` into the store-recording folder ``out_dir`` (written aside, then moved in place)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    sim = sim or compile_scenario(scenario)
    streams = seed_streams(scenario.seed)
    cams = make_cameras(scenario, streams[4])
    palette = make_palette(sim, streams[5])
    tmp = _prepare_dir(out_dir)
    n_frames = int(round(scenario.duration_s * scenario.fps))
    started = time.perf_counter()
    camera_entries = []
    for ci, cam in enumerate(cams):
        renderer = CameraRenderer(sim, cam, palette)
        noise_rng = np.random.default_rng([scenario.seed, 7919, ci])
        video = tmp / "videos" / f"{cam.id}.mp4"
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), scenario.fps,
                                 (scenario.width_px, scenario.height_px))
        if not writer.isOpened():
            raise RuntimeError(f"{video}: OpenCV cannot open an mp4v video writer")
        box_rows: list[tuple] = []
        track_rows: list[tuple] = []
        for i in range(n_frames):
            img, boxes = renderer.render(i / scenario.fps, noise_rng)
            writer.write(img)
            for b in boxes:
                box_rows.append((i, b.object, b.track_id, b.sku, b.x1, b.y1, b.x2, b.y2, b.visible))
                if b.object == "shopper":  # MOT17 ground truth: consider 1, class 1 (pedestrian), visibility
                    track_rows.append((i + 1, b.track_id, b.x1, b.y1, b.x2 - b.x1, b.y2 - b.y1, b.visible * b.in_frame))
        writer.release()
        boxes_df = pd.DataFrame(box_rows, columns=list(BOX_COLUMNS))
        boxes_df.to_csv(tmp / "truth" / "boxes" / f"{cam.id}.csv", index=False, float_format="%.1f")
        with open(tmp / "truth" / "tracks" / f"{cam.id}.txt", "w") as stream:
            for row in track_rows:
                stream.write(f"{row[0]},{row[1]},{row[2]:.1f},{row[3]:.1f},{row[4]:.1f},{row[5]:.1f},1,1,{row[6]:.3f}\n")
        camera_entries.append({"id": cam.id, "video": f"videos/{cam.id}.mp4",
                               "start_timestamp": scenario.start_timestamp, "fps": scenario.fps,
                               "width": scenario.width_px, "height": scenario.height_px,
                               "zones": plate_zones(sim, cam, renderer), "calibration": calibration(cam)})
    elapsed = time.perf_counter() - started
    render_fps = n_frames * len(cams) / max(elapsed, 1e-9)

    _write_tables(sim, tmp, streams[6])
    shopper_positions(sim).to_csv(tmp / "truth" / "shoppers.csv", index=False)
    (fx0, fy0), (fx1, fy1) = sim.layout.floor_m()
    store = {
        "version": STORE_VERSION,
        "name": scenario.name or out_dir.name,
        "cameras": camera_entries,
        "shelves": shelf_geometry(sim.layout),
        "floor": {"min_m": [_r(fx0), _r(fy0)], "max_m": [_r(fx1), _r(fy1)]},
        "mockstore": {
            "layout": scenario.store.layout,
            "seed": scenario.seed,
            "duration_s": scenario.duration_s,
            "knobs": asdict(scenario.knobs),
            "store": asdict(scenario.store),
            "camera_geometry": [c.to_dict() for c in cams],
            "true_mean_weight_g": {p.sku: p.weight_g for p in scenario.products},
            "products": [p.to_dict() for p in scenario.products],
        },
    }
    (tmp / "store.json").write_text(json.dumps(store, indent=2, sort_keys=True) + "\n")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    log.info("%s: %d camera(s) x %d frames, %d events, %.1f frames/s", out_dir, len(cams), n_frames,
             len(sim.events), render_fps)
    return RecordingSummary(out_dir, len(cams), n_frames, len(sim.events), len(scenario.shoppers), render_fps)


def _r(value: float) -> float:
    return round(float(value), GEOMETRY_DECIMALS) + 0.0  # + 0.0: no "-0.0"


def calibration(cam: Camera) -> dict:
    """OpenCV pinhole calibration of a mock camera: a store point X (metres) maps to camera coordinates
    ``R @ X + t`` (x right, y down, z forward) and to pixels ``K @ x_cam / z``; no lens distortion."""
    f, cx, cy = cam.focal_px, cam.width_px / 2, cam.height_px / 2
    t = -cam.rotation @ cam.position_m
    return {"image_size_px": [cam.width_px, cam.height_px],
            "K": [[_r(f), 0.0, _r(cx)], [0.0, _r(f), _r(cy)], [0.0, 0.0, 1.0]],
            "dist": [0.0, 0.0, 0.0, 0.0, 0.0],
            "R": [[_r(v) for v in row] for row in cam.rotation],
            "t": [_r(v) for v in t],
            "source": "mockstore"}


def _box_entry(corners: np.ndarray) -> dict:
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    return {"center_m": [_r(v) for v in (lo + hi) / 2], "size_m": [_r(v) for v in hi - lo], "yaw_deg": 0.0}


def shelf_geometry(layout: Layout) -> list[dict]:
    """Every shelf of the store with its plates as axis-aligned boxes (centre and size in metres): a
    plate's box is the space above it up to just under the next board (``Layout.plate_box_m``), the
    shelf's box all its plates' boxes together."""
    shelves = []
    for shelf in layout.store.shelves():
        entry = {"shelf": shelf, **_box_entry(layout.shelf_box_m(shelf))}
        entry["plates"] = [{"plate": plate, **_box_entry(layout.plate_box_m(shelf, plate))}
                           for plate in range(1, layout.store.plates_per_shelf + 1)]
        shelves.append(entry)
    return shelves


def shopper_positions(sim: Simulation) -> pd.DataFrame:
    """Truth floor positions: one row per frame per shopper on the store's floor at that frame
    (``timestamp`` Unix seconds as text with 3 decimals, ``x``, ``y`` metres of the body centre)."""
    scenario = sim.scenario
    (x0, y0), (x1, y1) = sim.layout.floor_m()
    n_frames = int(round(scenario.duration_s * scenario.fps))
    rows = []
    for i in range(n_frames):
        t = i / scenario.fps
        for track in sim.shoppers:
            pose = shopper_pose(track, sim, t)
            if pose is None or not (x0 <= pose.xy[0] <= x1 and y0 <= pose.xy[1] <= y1):
                continue
            rows.append((f"{scenario.start_timestamp + t:.3f}", track.id, f"{pose.xy[0]:.3f}", f"{pose.xy[1]:.3f}"))
    return pd.DataFrame(rows, columns=list(SHOPPER_COLUMNS))


def _write_tables(sim: Simulation, out: Path, rng: np.random.Generator) -> None:
    scenario = sim.scenario
    pd.DataFrame([{"sku": p.sku, "name": p.name, "weight_g": sim.nominal_weight_g[p.sku],
                   "weight_std_g": p.weight_std_g} for p in scenario.products]).to_csv(out / "catalog.csv", index=False)
    pd.DataFrame(sorted(sim.planogram), columns=["shelf", "plate", "sku"]).to_csv(out / "planogram.csv", index=False)
    weights = synthesize_weights(sim, rng)
    weights.to_csv(out / "weights.csv.gz", index=False, float_format="%.3f", compression="gzip")
    t0 = scenario.start_timestamp
    events = pd.DataFrame(
        [{"timestamp": f"{t0 + e.t_s:.3f}", "shopper": e.shopper, "action": e.action, "sku": e.sku,
          "quantity": e.quantity, "shelf": e.shelf, "plates": ";".join(str(p) for p in e.plates)}
         for e in sim.events],
        columns=["timestamp", "shopper", "action", "sku", "quantity", "shelf", "plates"])
    events.to_csv(out / "truth" / "events.csv", index=False)
    grams = pd.DataFrame(
        [{"timestamp": f"{t0 + e.t_s:.3f}", "shopper": e.shopper, "action": e.action, "sku": e.sku,
          "quantity": e.quantity, "shelf": e.shelf, "plate": p, "grams": round(g, 3),
          "item_weights_g": ";".join(f"{sim.items[i].weight_g:.3f}" for i in e.item_ids)}
         for e in sim.events for p, g in e.grams_by_plate],
        columns=["timestamp", "shopper", "action", "sku", "quantity", "shelf", "plate", "grams", "item_weights_g"])
    grams.to_csv(out / "truth" / "weights_truth.csv", index=False)

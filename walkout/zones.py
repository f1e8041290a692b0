"""Zone tooling: draw, check and apply the shelf zones of a store recording's cameras.

Zones are polygons in a camera's image, each naming a shelf and the plates it covers (docs/FORMAT.md).
A user writes them by reading pixel coordinates off a reference frame (:func:`zone_frame` draws a
labelled pixel grid and the current zones), checks them (:func:`check_zones`: inside the image,
>= 3 points, a real area, no self-crossing edges, shelf and plates in the planogram), and can keep
them in a side file (``{"version": 1, "zones": {"<camera id>": [zone, ...]}}``) that
:func:`apply_zones` merges into a working copy of a read-only recording.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from formats.errors import FormatError
from formats.store import Zone, read_store_json, write_store_json
from vision.zones import ShelfZone
from walkout.geometry import ProjectionConfig, projected_zones
from walkout.recording import Camera, Recording, load_recording, probe_video

log = logging.getLogger(__name__)
ZONES_VERSION = 1
PALETTE_BGR = ((0, 200, 255), (255, 120, 0), (60, 220, 60), (200, 60, 255), (0, 90, 255), (255, 220, 0),
               (160, 160, 255), (0, 255, 170))


@dataclass(frozen=True)
class ZoneCheckConfig:
    """``min_area_px``: a polygon smaller than this (square pixels) is degenerate (collinear points,
    a typo); ``grid_px``: spacing of the reference frame's pixel grid, labelled on every line;
    ``scale``: the reference frame is drawn this many times larger (labels stay in video pixels)."""

    min_area_px: float = 50.0
    grid_px: int = 50
    scale: float = 1.0


@dataclass(frozen=True)
class ZoneProblem:
    camera: str
    zone: int  # index in the camera's zone list
    shelf: str
    problem: str

    def __str__(self) -> str:
        return f"camera {self.camera} zone {self.zone} ({self.shelf}): {self.problem}"


def _zones_of(camera: Camera) -> tuple[ShelfZone, ...]:
    return tuple(ShelfZone(z.shelf, z.plates, z.polygon) for z in camera.zones)


def read_frame(video: Path, at_s: float) -> tuple[np.ndarray, int]:
    """The frame shown at ``at_s`` seconds from the start of ``video``: (BGR image (H, W, 3), frame index)."""
    info = probe_video(video)
    if at_s < 0:
        raise FormatError(video, f"--at must be >= 0 seconds, got {at_s}")
    index = int(round(at_s * info.fps))
    if info.frames and index >= info.frames:
        raise FormatError(video, f"{at_s} s is past the end of the video ({info.duration_s:.1f} s, {info.frames} frames)")
    capture = cv2.VideoCapture(str(video))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok or frame is None:
        raise FormatError(video, f"cannot decode frame {index} ({at_s} s)")
    return frame, index


def blend_where_drawn(image: np.ndarray, overlay: np.ndarray, alpha: float) -> np.ndarray:
    """``image`` with ``overlay`` blended in at ``alpha`` where the overlay differs from it; every
    other pixel is returned exactly as it was (a whole-image blend rounds them differently between
    OpenCV releases)."""
    out = image.copy()
    drawn = np.any(overlay != image, axis=-1)
    mixed = alpha * overlay[drawn].astype(np.float32) + (1 - alpha) * image[drawn].astype(np.float32)
    out[drawn] = np.clip(np.rint(mixed), 0, 255).astype(image.dtype)
    return out


def draw_grid(image: np.ndarray, step_px: int, scale: float = 1.0) -> np.ndarray:
    """A copy of ``image`` (already ``scale`` times the video size) with thin lines every ``step_px``
    video pixels, each labelled with its video-pixel coordinate."""
    out = image.copy()
    height, width = out.shape[:2]
    overlay = out.copy()
    xs = range(step_px, int(width / scale), step_px)
    ys = range(step_px, int(height / scale), step_px)
    for x in xs:
        cv2.line(overlay, (round(x * scale), 0), (round(x * scale), height - 1), (255, 255, 255), 1)
    for y in ys:
        cv2.line(overlay, (0, round(y * scale)), (width - 1, round(y * scale)), (255, 255, 255), 1)
    out = blend_where_drawn(out, overlay, 0.35)
    for x in xs:
        _label(out, str(x), (round(x * scale) + 2, 11), 0.35)
    for y in ys:
        _label(out, str(y), (2, round(y * scale) - 3), 0.35)
    return out


def _label(image: np.ndarray, text: str, origin: tuple[int, int], scale: float,
           colour: tuple[int, int, int] = (255, 255, 255)) -> None:
    """Text with a dark outline, legible on any background."""
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def zone_label(zone: ShelfZone) -> str:
    """``G5S6 1-3`` for consecutive plates, ``G5S6 1,4`` otherwise, the shelf alone for a whole shelf."""
    plates = sorted(zone.plates)
    if not plates:
        return zone.shelf
    if plates == list(range(plates[0], plates[-1] + 1)) and len(plates) > 1:
        return f"{zone.shelf} {plates[0]}-{plates[-1]}"
    return f"{zone.shelf} {','.join(map(str, plates))}"


def draw_zones(image: np.ndarray, zones: tuple[ShelfZone, ...], fill_alpha: float = 0.25,
               scale: float = 1.0) -> np.ndarray:
    """A copy of ``image`` (``scale`` times the video size) with each zone outlined and lightly filled
    (one colour per shelf), labelled at its centre."""
    out = image.copy()
    shelves = sorted({z.shelf for z in zones})
    colour_of = {shelf: PALETTE_BGR[i % len(PALETTE_BGR)] for i, shelf in enumerate(shelves)}
    overlay = out.copy()
    for zone in zones:
        points = np.round(np.asarray(zone.polygon_px, dtype=float) * scale).astype(np.int32)
        cv2.fillPoly(overlay, [points], colour_of[zone.shelf])
    out = blend_where_drawn(out, overlay, fill_alpha)
    for zone in zones:
        points = np.round(np.asarray(zone.polygon_px, dtype=float) * scale).astype(np.int32)
        cv2.polylines(out, [points], True, colour_of[zone.shelf], 1, cv2.LINE_AA)
        cx, cy = points.mean(axis=0)
        text = zone_label(zone)
        (w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.35, 1)
        _label(out, text, (int(cx - w / 2), int(cy + 4)), 0.35, colour_of[zone.shelf])
    return out


def zone_frame(recording: str | Path, camera_id: str, at_s: float, out: str | Path,
               zones_file: str | Path | None = None, config: ZoneCheckConfig | None = None, *,
               anonymize: bool = True) -> Path:
    """Write a reference PNG of one camera at ``at_s`` seconds: pixel grid + the zones drawn, faces hidden.

    Zones come from ``zones_file`` when given, else from the recording's store.json.
    """
    config = config or ZoneCheckConfig()
    loaded = load_recording(recording)
    camera = camera_of(loaded, camera_id)
    zones = _zones_of(camera)
    if zones_file is not None:
        zones = _zones_of(_with_zones(camera, read_zones_file(zones_file).get(camera.id, ())))
    frame, index = read_frame(camera.video, at_s)
    if config.scale != 1:
        frame = cv2.resize(frame, None, fx=config.scale, fy=config.scale, interpolation=cv2.INTER_CUBIC)
    image = draw_zones(draw_grid(frame, config.grid_px, config.scale), zones, scale=config.scale)
    _label(image, f"{loaded.name} {camera.id} frame {index} ({at_s:g} s)", (5, image.shape[0] - 6), 0.4)
    out = Path(out)
    from walkout.anonymize import anonymize_picture  # faces hidden (PRIVACY.md); off: a warning

    image = anonymize_picture(image, anonymize, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), image):
        raise FormatError(out, "cannot write the image (unknown extension or unwritable folder)")
    log.info("%s: %s frame %d with %d zone(s)", out, camera.id, index, len(zones))
    return out


def camera_of(recording: Recording, camera_id: str) -> Camera:
    try:
        return recording.camera(camera_id)
    except KeyError:
        known = ", ".join(c.id for c in recording.cameras) or "none"
        raise FormatError(recording.path / "store.json", f"no camera {camera_id!r} (cameras: {known})") from None


def _polygon_problems(polygon: np.ndarray, width: int, height: int, min_area_px: float) -> list[str]:
    if len(polygon) < 3:
        return [f"has {len(polygon)} point(s); needs at least 3"]
    problems = []
    outside = (polygon[:, 0] < 0) | (polygon[:, 0] > width) | (polygon[:, 1] < 0) | (polygon[:, 1] > height)
    if outside.any():
        points = ", ".join(f"[{x:g}, {y:g}]" for x, y in polygon[outside])
        problems.append(f"point(s) {points} outside the {width}x{height} image")
    area = ShelfZone("", (), tuple(map(tuple, polygon))).area_px
    if _self_crossing(polygon):  # its area is meaningless (a bow tie can have none)
        problems.append("edges cross each other (points out of order?)")
    elif area < min_area_px:
        problems.append(f"area {area:.0f} px^2 < {min_area_px:g} px^2 (points collinear or repeated?)")
    return problems


def _self_crossing(polygon: np.ndarray) -> bool:
    """True when two non-adjacent edges of the closed polygon (K, 2) properly intersect."""
    a, b = polygon, np.roll(polygon, -1, axis=0)  # edge i: a[i] -> b[i]
    k = len(polygon)

    def side(p, q, r):  # sign of the cross product (q - p) x (r - p), broadcast over edges
        return np.sign((q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0]))

    i, j = np.triu_indices(k, 2)
    keep = ~((i == 0) & (j == k - 1))  # first and last edges share a point
    i, j = i[keep], j[keep]
    d1, d2 = side(a[i], b[i], a[j]), side(a[i], b[i], b[j])
    d3, d4 = side(a[j], b[j], a[i]), side(a[j], b[j], b[i])
    return bool(np.any((d1 * d2 < 0) & (d3 * d4 < 0)))


def check_zones(recording: str | Path, zones_file: str | Path | None = None,
                config: ZoneCheckConfig | None = None) -> list[ZoneProblem]:
    """Every problem with the zones of every camera (of ``zones_file`` when given, else store.json).

    Against the image: >= 3 points, all inside, area >= ``min_area_px``, no crossing edges. Against the
    planogram (when the recording has one): the shelf exists, and so does each plate on that shelf.
    """
    config = config or ZoneCheckConfig()
    loaded = load_recording(recording)
    override = read_zones_file(zones_file) if zones_file is not None else None
    if override is not None:
        unknown = sorted(set(override) - {c.id for c in loaded.cameras})
        if unknown:
            raise FormatError(zones_file, f"camera(s) {', '.join(unknown)} not in {loaded.path / 'store.json'}")
    plates: dict[str, set[int]] | None = None
    if loaded.planogram is not None:
        plates = {}
        for shelf, plate in zip(loaded.planogram["shelf"], loaded.planogram["plate"], strict=True):
            plates.setdefault(str(shelf), set()).add(int(plate))
    problems: list[ZoneProblem] = []
    for camera in loaded.cameras:
        if override is not None:
            camera = _with_zones(camera, override.get(camera.id, ()))
        info = probe_video(camera.video)
        for index, zone in enumerate(camera.zones):
            polygon = np.asarray(zone.polygon, dtype=float).reshape(-1, 2)
            texts = _polygon_problems(polygon, info.width_px, info.height_px, config.min_area_px)
            if plates is not None:
                if zone.shelf not in plates:
                    texts.append(f"shelf {zone.shelf!r} is not in the planogram")
                else:
                    missing = [p for p in zone.plates if p not in plates[zone.shelf]]
                    if missing:
                        texts.append(f"plate(s) {', '.join(map(str, missing))} not on shelf {zone.shelf} in the planogram")
            problems.extend(ZoneProblem(camera.id, index, zone.shelf, text) for text in texts)
    return problems


def read_zones_file(path: str | Path) -> dict[str, tuple]:
    """A zones side file -> {camera id: tuple of recording.Zone}. FormatError names the file and field."""
    from formats.store import parse_zone

    path = Path(path)
    if not path.is_file():
        raise FormatError(path, "zones file not found")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(path, f"not valid JSON: {exc}") from None
    if not isinstance(raw, dict) or raw.get("version") != ZONES_VERSION or not isinstance(raw.get("zones"), dict):
        raise FormatError(path, f'expected {{"version": {ZONES_VERSION}, "zones": {{"<camera id>": [zone, ...]}}}}')
    result = {}
    for camera_id, zones in raw["zones"].items():
        if not isinstance(zones, list):
            raise FormatError(path, "must be a list of zones", field=f"zones.{camera_id}")
        result[camera_id] = tuple(parse_zone(z, f"zones.{camera_id}[{i}]", path, None) for i, z in enumerate(zones))
    return result


def _with_zones(camera: Camera, zones: tuple) -> Camera:
    return Camera(camera.id, camera.video, camera.start_timestamp, tuple(zones))


def apply_zones(recording: str | Path, zones_file: str | Path, out: str | Path) -> Path:
    """A working copy of ``recording`` in ``out`` whose store.json has the zones of ``zones_file``.

    Every other file and folder is symlinked (videos are never copied), so a read-only recording
    can be run with new zones. ``out`` must not exist or be an earlier working copy (its links and
    store.json are replaced). Returns ``out``.
    """
    source = Path(recording).resolve()
    loaded = load_recording(source)
    zones = read_zones_file(zones_file)
    unknown = sorted(set(zones) - {c.id for c in loaded.cameras})
    if unknown:
        raise FormatError(zones_file, f"camera(s) {', '.join(unknown)} not in {source / 'store.json'}")
    out = Path(out)
    if out.resolve() == source:
        raise FormatError(out, "the working copy must be another folder than the recording")
    out.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir()):
        if entry.name == "store.json":
            continue
        link = out / entry.name
        if link.is_symlink():
            link.unlink()
        elif link.exists():
            raise FormatError(link, "exists and is not a link: not overwriting it")
        link.symlink_to(entry)
    store = json.loads((source / "store.json").read_text())
    for camera in store.get("cameras", []):
        if camera.get("id") in zones:
            camera["zones"] = [
                {"shelf": z.shelf, "plates": list(z.plates), "polygon": [list(p) for p in z.polygon]}
                for z in zones[camera["id"]]
            ]
    write_store_json(out / "store.json", store)
    log.info("%s: working copy of %s with zones of %s", out, source, zones_file)
    return out


def interaction_timing(recording: Recording, hands: pd.DataFrame, fps: dict[str, float],
                       tolerance_s: float) -> pd.DataFrame:
    """Did a hand enter the right shelf near each labelled event? One row per truth event.

    hands: a run's ``hands.csv`` (``camera``, ``frame``, ``zone`` = index into that camera's zones);
    fps: frames per second of each camera. Columns: ``timestamp, action, sku, shelf`` (the truth),
    ``visible`` (some camera has a zone of that shelf), ``nearest_s`` (signed seconds from the truth
    time to the nearest frame with a hand in a zone of that shelf; NaN when none), ``hit``
    (``|nearest_s| <= tolerance_s``). Without truth events, an empty table.
    """
    columns = ["timestamp", "action", "sku", "shelf", "visible", "nearest_s", "hit"]
    truth = recording.truth_events
    if truth is None or truth.empty:
        return pd.DataFrame(columns=columns)
    inside = hands[hands["zone"] >= 0]
    times, shelves = [], []
    for camera in recording.cameras:
        mine = inside[inside["camera"].astype(str) == camera.id]
        zone_shelves = np.array([z.shelf for z in camera.zones] or [""], dtype=object)
        times.append(camera.start_timestamp + mine["frame"].to_numpy(dtype=float) / fps.get(camera.id, np.nan))
        shelves.append(zone_shelves[mine["zone"].to_numpy(dtype=int)] if len(mine) else np.empty(0, dtype=object))
    time_s = np.concatenate(times) if times else np.empty(0)
    shelf_of = np.concatenate(shelves) if shelves else np.empty(0, dtype=object)
    zoned = {z.shelf for c in recording.cameras for z in c.zones}
    rows = []
    for event in truth.itertuples(index=False):
        same = time_s[shelf_of == event.shelf] - float(event.timestamp)
        nearest = float(same[np.abs(same).argmin()]) if len(same) else float("nan")
        rows.append([float(event.timestamp), event.action, str(event.sku), str(event.shelf),
                     event.shelf in zoned, nearest, bool(abs(nearest) <= tolerance_s)])
    return pd.DataFrame(rows, columns=columns)


def draw_run_frame(image: np.ndarray, zones: tuple[ShelfZone, ...], tracks: pd.DataFrame,
                   hands: pd.DataFrame, scale: float = 1.0) -> np.ndarray:
    """A frame with the zones (a zone with a hand inside filled stronger), shopper boxes with track
    ids and hand points from a run's tables (rows of that frame and camera only)."""
    busy = set(hands.loc[hands["zone"] >= 0, "zone"].astype(int))
    out = draw_zones(image, tuple(z for i, z in enumerate(zones) if i not in busy), 0.12, scale)
    out = draw_zones(out, tuple(z for i, z in enumerate(zones) if i in busy), 0.3, scale)
    for row in tracks.itertuples(index=False):
        x1, y1, x2, y2 = (round(v * scale) for v in (row.x1, row.y1, row.x2, row.y2))
        cv2.rectangle(out, (x1, y1), (x2, y2), (255, 80, 80), 2)
        name = str(getattr(row, "shopper", "") or "") or str(int(row.track_id))  # store-level id where there is one
        _label(out, f"shopper {name}", (x1 + 3, max(y1 + 14, 14)), 0.45, (255, 160, 160))
    for row in hands.itertuples(index=False):
        centre = (round(row.x * scale), round(row.y * scale))
        held = int(row.count) > 0
        cv2.circle(out, centre, 9, (0, 255, 0) if held else (0, 255, 255), 2)
        _label(out, f"hand of {int(row.owner)}" + (" +item" if held else ""), (centre[0] + 11, centre[1] + 4),
               0.45, (0, 255, 0) if held else (0, 255, 255))
    return out


def project_zones(recording: str | Path, camera_id: str | None = None,
                  config: ProjectionConfig | None = None) -> dict[str, tuple[tuple[Zone, ...], tuple[str, ...]]]:
    """Project the store's shelf and plate boxes into every calibrated camera (or ``camera_id``) and
    write them as the cameras' zones into store.json (atomically; other cameras keep theirs).

    Returns {camera id: (zones, notes on plates not in view)}. FormatError when store.json has no
    shelves, or the camera (or every camera) has no calibration.
    """
    loaded = load_recording(recording)
    store_path = loaded.path / "store.json"
    if loaded.store is None or not loaded.store.shelves:
        raise FormatError(store_path, "no shelves: projected zones need the shelf boxes (docs/FORMAT.md)", field="shelves")
    cameras = [camera_of(loaded, camera_id)] if camera_id is not None else list(loaded.cameras)
    missing = [c.id for c in cameras if c.calibration is None]
    if camera_id is not None and missing:
        raise FormatError(store_path, f"camera {camera_id} has no calibration (walkout calibrate)",
                          field=f"cameras[{camera_id}].calibration")
    cameras = [c for c in cameras if c.calibration is not None]
    if not cameras:
        raise FormatError(store_path, "no camera has a calibration (walkout calibrate)", field="cameras")
    results = {c.id: projected_zones(c.calibration, loaded.store.shelves, config) for c in cameras}
    raw = read_store_json(store_path)
    for entry in raw["cameras"]:
        if entry.get("id") in results:
            zones, _ = results[entry["id"]]
            entry["zones"] = [{"shelf": z.shelf, "plates": list(z.plates),
                               "polygon": [[round(x, 1), round(y, 1)] for x, y in z.polygon]} for z in zones]
    write_store_json(store_path, raw)
    for cid, (zones, notes) in results.items():
        log.info("%s: %s: %d zone(s) projected, %d plate(s) not in view", store_path, cid, len(zones), len(notes))
    return results

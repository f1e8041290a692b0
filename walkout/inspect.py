"""Look at a run in a notebook: its outputs as tidy tables, and pictures of them.

``load_run(run_dir, recording=None)`` reads everything ``walkout run`` and ``walkout fuse`` wrote into
one recording's run directory (events.csv, timeline.json, tracks.csv, hands.csv, reaches.csv,
shoppers.csv, run.json, weight_events.csv, receipts.json, discrepancies.csv; tracks/<camera>.txt
holds tracks.csv's boxes again) into a frozen :class:`Run` of pandas tables, every column of every
file. Every table has its documented columns and dtypes even when the file is absent or empty, and
every time column comes twice: ``timestamp`` (Unix seconds, the shared clock) and ``t_s`` (seconds since the run's start,
``Run.t0``: what the plots show). The recording (store.json, videos, weight log) is found from
run.json unless given.

Views (matplotlib; each takes an optional ``ax`` and returns the Axes it drew on, never shows):
every video frame shown is anonymised first (faces and the heads of the frame's tracked shoppers
pixelated, ``walkout.anonymize``, PRIVACY.md); ``anonymize=False`` is for a store's own secured review
only and logs a warning.

- :func:`frame_at`: the video frame at a time, annotated (shoppers, hands, zones, events), RGB.
- :func:`plot_trajectory`: one shopper track over the camera image.
- :func:`plot_cart_timeline`: per shopper, zone visits and events on one time axis (a Gantt chart),
  with the truth and the weight events as rows of their own when there are any.
- :func:`plot_weight`: a shelf's weight signal with the weight events and the vision events.
- :func:`plot_overview`: the four views in one figure (how ``docs/inspect.png`` is made).

:func:`write_truth_run` writes a run directory from a mock recording's truth boxes (perfect
detection and tracking, vision's own event stage): for trying the views, or fusion, without a
detector.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from formats import tables
from formats.errors import FormatError
from formats.receipts import DISCREPANCY_COLUMNS, read_receipts
from formats.tables import read_events, write_text_atomic
from formats.weight_events import read_weight_events
from vision.events import frame_runs, seconds_to_frames
from walkout.recording import Recording, Zone, load_recording, probe_video

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

# Column -> dtype of every table of a Run ("str" is pandas' string dtype).
TRACKS_SCHEMA = {**tables.TRACKS_SCHEMA, **tables.TRACKS_OPTIONAL_SCHEMA, "timestamp": "float64", "t_s": "float64"}
HANDS_SCHEMA = {**tables.HANDS_SCHEMA, "shelf": "str", "plates": "str", "timestamp": "float64", "t_s": "float64"}
EVENTS_SCHEMA = {
    "timestamp": "float64", "t_s": "float64", "shopper": "str", "action": "str", "sku": "str",
    "quantity": "int64", "shelf": "str", "plates": "str", "camera": "str", "frame": "int64",
    "confidence": "float64",
}
VISITS_SCHEMA = {
    "camera": "str", "shopper": "str", "zone": "int64", "shelf": "str", "plates": "str",
    "start_frame": "int64", "end_frame": "int64", "start": "float64", "end": "float64",
    "start_s": "float64", "end_s": "float64",
}
TIMELINES_SCHEMA = {
    "shopper": "str", "step": "int64", "timestamp": "float64", "t_s": "float64", "action": "str",
    "sku": "str", "quantity": "int64", "shelf": "str", "plates": "str", "camera": "str", "frame": "int64",
    "confidence": "float64", "cart_after": "str", "cart_units": "int64",
}
# reaches.csv: each run of frames a shopper's hand spent inside a shelf zone (start/end Unix s).
REACHES_SCHEMA = {**tables.REACHES_SCHEMA, "start_s": "float64", "end_s": "float64"}
# shoppers.csv: each store-level shopper's floor position (store metres) and the cameras that saw them.
POSITIONS_SCHEMA = {**tables.SHOPPERS_SCHEMA, "t_s": "float64"}
WEIGHT_EVENTS_SCHEMA = {
    "id": "str", "shelf": "str", "plates": "str", "start": "float64", "end": "float64",
    "start_s": "float64", "end_s": "float64", "delta_g": "float64", "plate_deltas_g": "str",
    "confidence": "float64", "steps": "str",
}
RECEIPTS_SCHEMA = {
    "shopper": "str", "status": "str", "action": "str", "sku": "str", "quantity": "int64",
    "timestamp": "float64", "t_s": "float64", "shelf": "str", "plates": "str", "delta_g": "float64",
    "weight_event": "str", "counted": "bool", "reason": "str", "vision_shopper": "str", "vision_sku": "str",
    "vision_quantity": "int64", "vision_timestamp": "float64", "vision_t_s": "float64", "vision_action": "str",
    "vision_shelf": "str", "vision_plates": "str", "vision_confidence": "float64",
    "probability": "float64", "candidates": "str", "evidence": "str", "look_at": "str",
}
# discrepancies.csv: the receipt lines a person should look at (every line not confirmed), with where.
DISCREPANCIES_SCHEMA = {
    **{c: "str" for c in DISCREPANCY_COLUMNS},
    "quantity": "int64", "timestamp": "float64", "delta_g": "float64", "vision_quantity": "int64",
    "probability": "float64", "t_s": "float64",
}  # camera, first_frame and last_frame stay text: a line to look at in two cameras has "cam0;cam1", "3;5", ...
CARTS_SCHEMA = {"source": "str", "shopper": "str", "sku": "str", "quantity": "int64"}
WEIGHTS_SCHEMA = {"timestamp": "float64", "t_s": "float64", "shelf": "str", "plate": "int64", "grams": "float64"}

# Visits when run.json has no event config: gaps bridged, shortest run kept (seconds).
DEFAULT_VISIT_GAP_S = 0.3
DEFAULT_VISIT_MIN_S = 0.2
RUN_FILES = (
    "events.csv", "timeline.json", "tracks.csv", "hands.csv", "reaches.csv", "shoppers.csv", "run.json",
    "weight_events.csv", "receipts.json", "discrepancies.csv",
)
# Colours shared by the plots (matplotlib names): event actions and receipt-line statuses.
ACTION_COLORS = {"pick": "tab:green", "return": "tab:orange"}
STATUS_COLORS = {
    "confirmed": "tab:green", "corrected": "tab:orange", "vision_only": "tab:red",
    "unverified": "tab:purple", "reached": "tab:blue", "unattributed": "tab:gray", "review": "tab:pink",
    "not fused": "black",
}


def _typed(frame: pd.DataFrame | None, schema: dict[str, str]) -> pd.DataFrame:
    """The schema's columns in its order and dtypes (missing columns empty); extra columns dropped."""
    if frame is None or frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in schema.items()})
    out = {}
    for column, dtype in schema.items():
        values = frame[column] if column in frame.columns else pd.Series(np.nan, index=frame.index)
        if dtype == "str":  # an all-empty column reads as float NaN: fill as objects, not floats
            out[column] = values.astype(object).where(values.notna(), "").astype(str)
        elif dtype == "int64":
            out[column] = pd.to_numeric(values, errors="coerce").fillna(-1).astype("int64")
        elif dtype == "bool":
            out[column] = values.fillna(False).astype(bool)
        else:
            out[column] = pd.to_numeric(values, errors="coerce").astype("float64")
    return pd.DataFrame(out).reset_index(drop=True)


@dataclass(frozen=True)
class CameraInfo:
    """One camera as the run saw it: its video, clock (frame i is at ``start_timestamp + i / fps``),
    size and shelf zones. ``video`` is None without a recording; sizes are 0 when unknown."""

    id: str
    video: Path | None
    start_timestamp: float
    fps: float
    frames: int
    width_px: int = 0
    height_px: int = 0
    zones: tuple[Zone, ...] = ()

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps if self.fps > 0 else 0.0


@dataclass(frozen=True, eq=False)
class Run:
    """One recording's run directory as tidy tables (see the ``*_SCHEMA`` dicts for columns and dtypes).

    tracks: one row per shopper box per frame (``track_id`` is the tracker's id, per camera; ``reaching``
        the reach classifier's probability that the shopper reaches into a shelf then, NaN without it;
        ``shopper`` the store-level shopper of the track, '' without one).
    hands: one row per attached hand per frame (``owner`` is the shopper's track id, ``zone`` the index
        of the camera's zone the hand is in or -1, with its ``shelf``/``plates``).
    events: predicted pick/return events (events.csv); ``shopper`` is the track id as text.
    visits: hand visits to shelf zones, from hands.csv by vision's own visit rule and the run's config.
    reaches: reaches.csv, the hand-in-zone stretches fusion weighs as evidence of who took an item
        (``start_s``/``end_s`` since t0).
    positions: shoppers.csv, each store-level shopper's floor position (metres) over time, with the
        cameras that saw them (calibrated cameras only; empty otherwise).
    timelines: per shopper the ordered events with the cart after each (timeline.json).
    weight_events, receipts, carts: fusion's outputs (receipt lines flattened: ``vision_*`` columns
        hold the vision event a line comes from; ``shopper`` '' is unattributed; ``probability`` the
        probability that the line is right (fusion.confidence), NaN without one; ``candidates`` every
        candidate's take probability as text, ``shopper p`` joined by ``; ``; ``evidence`` its top
        evidence as text, ``feature value (+contribution)`` joined by ``; ``; ``look_at`` the frames to
        look at, ``camera first-last`` joined by ``; ``). carts: final carts, ``source`` 'vision'
        (timeline.json) or 'receipt' (receipts.json).
    discrepancies: discrepancies.csv, the lines a person should look at, with camera and frames.
    truth_events: the recording's truth/events.csv, when there is one.
    t0: Unix seconds of ``t_s == 0`` (the earliest camera start).
    """

    path: Path
    name: str
    recording: Recording | None
    info: dict
    cameras: tuple[CameraInfo, ...]
    t0: float
    tracks: pd.DataFrame
    hands: pd.DataFrame
    events: pd.DataFrame
    visits: pd.DataFrame
    timelines: pd.DataFrame
    weight_events: pd.DataFrame
    receipts: pd.DataFrame
    carts: pd.DataFrame
    truth_events: pd.DataFrame
    missing: tuple[str, ...] = field(default=())
    reaches: pd.DataFrame = field(default_factory=lambda: _typed(None, REACHES_SCHEMA))
    positions: pd.DataFrame = field(default_factory=lambda: _typed(None, POSITIONS_SCHEMA))
    discrepancies: pd.DataFrame = field(default_factory=lambda: _typed(None, DISCREPANCIES_SCHEMA))

    @property
    def fused(self) -> bool:
        """Whether fusion has run (receipts.json exists)."""
        return "receipts.json" not in self.missing

    @property
    def duration_s(self) -> float:
        """Seconds from t0 to the end of the longest camera (or the last event)."""
        ends = [c.start_timestamp - self.t0 + c.duration_s for c in self.cameras if np.isfinite(c.start_timestamp)]
        ends += [float(self.events["t_s"].max())] if len(self.events) else []
        ends += [float(self.truth_events["t_s"].max())] if len(self.truth_events) else []
        ends += [float(self.weight_events["end_s"].max())] if len(self.weight_events) else []
        return max([e for e in ends if np.isfinite(e)], default=0.0)

    def camera(self, camera_id: str | None = None) -> CameraInfo:
        """A camera by id; None means the only one (KeyError naming the known ids otherwise)."""
        if camera_id is None and len(self.cameras) == 1:
            return self.cameras[0]
        for camera in self.cameras:
            if camera.id == camera_id:
                return camera
        known = ", ".join(c.id for c in self.cameras) or "none"
        raise KeyError(f"{self.path}: no camera {camera_id!r} (cameras: {known})")

    def shoppers(self) -> list[str]:
        """Every shopper id seen in tracks, events or receipts, in numeric order where numeric."""
        ids = set(self.tracks["track_id"].astype(str)) | set(self.events["shopper"])
        ids |= set(self.receipts["shopper"]) - {""}
        return sorted(ids, key=lambda s: (not s.lstrip("-").isdigit(), int(s) if s.lstrip("-").isdigit() else 0, s))

    def weights(self, shelf: str | None = None, plates: Sequence[int] | None = None) -> pd.DataFrame:
        """The recording's weight readings (WEIGHTS_SCHEMA), optionally of one shelf and some plates.

        Reads and cleans the whole log on each call (``fusion.weights.load_weights``): keep the result.
        Raises FormatError when the run has no recording or the recording no weight log.
        """
        from fusion.weights import find_weight_log, load_weights

        if self.recording is None:
            raise FormatError(self.path, "no recording known for this run: pass recording= to load_run")
        rec = self.recording
        log_ = load_weights(find_weight_log(rec.path), rec.catalog, rec.planogram)
        frame = log_.frame
        if shelf is not None:
            frame = frame[frame["shelf"].astype(str) == str(shelf)]
        if plates is not None:
            frame = frame[frame["plate"].isin([int(p) for p in plates])]
        frame = frame.assign(t_s=frame["timestamp"] - self.t0, shelf=frame["shelf"].astype(str))
        return _typed(frame, WEIGHTS_SCHEMA)


def _read_json(path: Path) -> dict:
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FormatError(path, f"not readable JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise FormatError(path, "top level must be a JSON object")
    return payload


def _read_table(path: Path) -> pd.DataFrame | None:
    """A CSV as text columns (SKUs keep leading zeros), or None when the file is absent."""
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise FormatError(path, f"not a readable CSV: {exc}") from None


def _resolve_recording(recording: str | Path | Recording | None, info: dict, run_dir: Path) -> Recording | None:
    if isinstance(recording, Recording):
        return recording
    if recording is not None:
        return load_recording(Path(recording).resolve())
    named = info.get("recording")
    if named and Path(named).is_dir():
        try:
            return load_recording(named)
        except FormatError as exc:
            log.warning("%s: the recording named in run.json cannot be loaded (%s)", run_dir, exc)
    elif named:
        log.info("%s: recording %s (from run.json) not found; pass recording= for videos and weights", run_dir, named)
    return None


def _cameras(recording: Recording | None, info: dict, tables: Sequence[pd.DataFrame], events: pd.DataFrame) -> list[CameraInfo]:
    """Cameras of the recording and of the run, with clocks from store.json, run.json or the video."""
    run_cameras = info.get("cameras") or {}
    ids: list[str] = [c.id for c in recording.cameras] if recording is not None else []
    for table in tables:
        ids += [str(c) for c in table.get("camera", pd.Series(dtype=str)).unique() if str(c)]
    ids += [str(c) for c in run_cameras]
    cameras = []
    for camera_id in dict.fromkeys(ids):
        fps = float(run_cameras.get(camera_id, {}).get("fps", 0.0) or 0.0)
        frames = int(run_cameras.get(camera_id, {}).get("frames", 0) or 0)
        video, start, zones, width, height = None, float("nan"), (), 0, 0
        if recording is not None and any(c.id == camera_id for c in recording.cameras):
            cam = recording.camera(camera_id)
            video, start, zones = cam.video, cam.start_timestamp, cam.zones
            if cam.video.is_file():
                try:
                    probed = probe_video(cam.video)
                    fps = fps or probed.fps
                    frames = frames or probed.frames
                    width, height = probed.width_px, probed.height_px
                except FormatError as exc:
                    log.warning("%s", exc)
            fps = fps or (cam.fps or 0.0)  # formats.store.frame_rate's order: run.json, the video, store.json
        if not np.isfinite(start) and fps > 0:
            # No store.json: the clock follows from the events seen on this camera.
            own = events[(events["camera"] == camera_id) & (events["frame"] >= 0)]
            if len(own):
                start = float(np.median(own["timestamp"] - own["frame"] / fps))
        cameras.append(CameraInfo(camera_id, video, start, fps, frames, width, height, zones))
    return cameras


def _clock(frame: pd.DataFrame, cameras: Sequence[CameraInfo], t0: float) -> pd.DataFrame:
    """Add timestamp and t_s to a table with camera and frame columns."""
    if frame is None or frame.empty:
        return frame
    start = {c.id: c.start_timestamp for c in cameras}
    fps = {c.id: c.fps if c.fps > 0 else np.nan for c in cameras}
    camera = frame["camera"].astype(str)
    frames = pd.to_numeric(frame["frame"], errors="coerce")
    timestamp = camera.map(start).astype(float) + frames / camera.map(fps).astype(float)
    return frame.assign(timestamp=timestamp, t_s=timestamp - t0)


def _zone_names(hands: pd.DataFrame, cameras: Sequence[CameraInfo]) -> pd.DataFrame:
    if hands is None or hands.empty:
        return hands
    shelf = np.full(len(hands), "", dtype=object)
    plates = np.full(len(hands), "", dtype=object)
    zone = pd.to_numeric(hands["zone"], errors="coerce").fillna(-1).astype(int).to_numpy()
    camera = hands["camera"].astype(str).to_numpy()
    for cam in cameras:
        for index, z in enumerate(cam.zones):
            mask = (camera == cam.id) & (zone == index)
            shelf[mask] = z.shelf
            plates[mask] = ";".join(str(p) for p in z.plates)
    return hands.assign(shelf=shelf, plates=plates)


def _visit_frames(events_config: dict, fps: float) -> tuple[int, int]:
    """A run's (gap bridged, shortest visit) in frames at ``fps``: its ``max_gap_s`` and ``min_visit_s``;
    in run folders made when they were frames, ``max_gap_frames`` and ``min_visit_frames``."""
    if "max_gap_frames" in events_config:
        return int(events_config["max_gap_frames"]), int(events_config.get("min_visit_frames", 1))
    return (seconds_to_frames(float(events_config.get("max_gap_s", DEFAULT_VISIT_GAP_S)), fps),
            seconds_to_frames(float(events_config.get("min_visit_s", DEFAULT_VISIT_MIN_S)), fps))


def _visits(hands: pd.DataFrame, cameras: Sequence[CameraInfo], info: dict, t0: float) -> pd.DataFrame:
    """Hand visits, one per shopper and zone: runs of frames in which a hand of the shopper is in the
    zone, gaps up to the run's ``events.max_gap_s`` bridged, runs shorter than its
    ``events.min_visit_s`` dropped (a hand passing over)."""
    if hands.empty:
        return _typed(None, VISITS_SCHEMA)
    events_config = (info.get("config") or {}).get("events") or {}
    inside = hands[(hands["zone"] >= 0) & (hands["owner"] >= 0)]
    rows = []
    cams = {c.id: c for c in cameras}
    for (camera, owner, zone), group in inside.groupby(["camera", "owner", "zone"], sort=True):
        cam = cams[camera]
        frames = np.unique(group["frame"].to_numpy())
        for s, e in frame_runs(frames, *_visit_frames(events_config, cam.fps)):
            start = cam.start_timestamp + frames[s] / cam.fps
            end = cam.start_timestamp + (frames[e] + 1) / cam.fps
            rows.append({
                "camera": camera, "shopper": str(owner), "zone": zone,
                "shelf": group["shelf"].iloc[0], "plates": group["plates"].iloc[0],
                "start_frame": frames[s], "end_frame": frames[e], "start": start, "end": end,
                "start_s": start - t0, "end_s": end - t0,
            })
    frame = _typed(pd.DataFrame(rows), VISITS_SCHEMA)
    return frame.sort_values(["start", "shopper"], kind="stable").reset_index(drop=True)


def _cart_text(cart: dict) -> str:
    return ", ".join(f"{sku}×{n}" for sku, n in sorted(cart.items()))


def _timelines(payload: dict | None, t0: float) -> tuple[pd.DataFrame, list[dict]]:
    rows, carts = [], []
    for shopper in (payload or {}).get("shoppers", []):
        sid = str(shopper["shopper"])
        for step, event in enumerate(shopper.get("events", [])):
            cart = event.get("cart_after") or {}
            rows.append({**event, "shopper": sid, "step": step, "t_s": float(event["timestamp"]) - t0,
                         "cart_after": _cart_text(cart), "cart_units": int(sum(cart.values()))})
        for sku, quantity in (shopper.get("final_cart") or {}).items():
            carts.append({"source": "vision", "shopper": sid, "sku": sku, "quantity": quantity})
    return _typed(pd.DataFrame(rows), TIMELINES_SCHEMA), carts


def evidence_text(evidence: Sequence[dict] | None) -> str:
    """A receipt line's evidence as one readable cell: ``feature value (+contribution)`` joined by ``; ``."""
    parts = []
    for item in evidence or ():
        value, weight = item.get("value"), item.get("contribution")
        value = f"{value:.3g}" if isinstance(value, int | float) and not isinstance(value, bool) else str(value)
        weight = f" ({weight:+.2f})" if isinstance(weight, int | float) else ""
        parts.append(f"{item.get('feature', '?')} {value}{weight}")
    return "; ".join(parts)


def look_at_text(look_at: Sequence | None) -> str:
    """A receipt line's ``look_at`` spans as ``camera first-last`` joined by ``; ``."""
    return "; ".join(f"{camera} {first}-{last}" for camera, first, last in (look_at or ()))


def _receipts(payload: dict | None, t0: float) -> tuple[pd.DataFrame, list[dict]]:
    rows, carts = [], []
    if payload is None:
        return _typed(None, RECEIPTS_SCHEMA), carts
    blocks = [(str(s), b) for s, b in (payload.get("shoppers") or {}).items()]
    blocks.append(("", payload.get("unattributed") or {}))
    for shopper, block in blocks:
        for line in block.get("lines", []):
            vision = line.get("vision") or {}
            rows.append({
                **{k: v for k, v in line.items() if k != "vision"},
                "shopper": shopper,
                "plates": ";".join(str(p) for p in line.get("plates", [])),
                "weight_event": line.get("weight_event") or "",
                "delta_g": np.nan if line.get("delta_g") is None else line["delta_g"],
                "t_s": float(line["timestamp"]) - t0,
                "vision_shopper": vision.get("shopper", ""),
                "vision_sku": vision.get("sku", ""),
                "vision_quantity": vision.get("quantity", -1),
                "vision_timestamp": vision.get("timestamp", np.nan),
                "vision_t_s": float(vision["timestamp"]) - t0 if vision else np.nan,
                "vision_action": vision.get("action", ""),
                "vision_shelf": vision.get("shelf", ""),
                "vision_plates": str(vision.get("plates", "")),
                "vision_confidence": vision.get("confidence", np.nan),
                "probability": np.nan if line.get("probability") is None else line["probability"],
                "candidates": "; ".join(f"{name} {p:.2f}" for name, p in (line.get("candidates") or {}).items()),
                "evidence": evidence_text(line.get("evidence")),
                "look_at": look_at_text(line.get("look_at")),
            })
        for sku, quantity in (block.get("items") or {}).items():
            carts.append({"source": "receipt", "shopper": shopper, "sku": sku, "quantity": quantity})
    frame = _typed(pd.DataFrame(rows), RECEIPTS_SCHEMA)
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True), carts


def load_run(run_dir: str | Path, recording: str | Path | Recording | None = None) -> Run:
    """Read one recording's run directory (``walkout run`` + ``walkout fuse`` outputs) into a :class:`Run`.

    recording: the store recording the run was made from (for videos, zones, clocks, weights, truth);
        None takes the path in run.json when it exists. Without one, tables still load (times from
        the events where possible) but frame and weight views need it.
    Absent files give empty tables (listed in ``Run.missing``); malformed ones raise FormatError
    naming the file. A folder with none of the run files is not a run directory (FormatError).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FormatError(run_dir, "run directory not found")
    present = [name for name in RUN_FILES if (run_dir / name).is_file()]
    if not present:
        runs = sorted(c.name for c in run_dir.iterdir() if c.is_dir() and any((c / n).is_file() for n in RUN_FILES))
        hint = f"; it holds runs of recordings, pass one of: {', '.join(runs)}" if runs else ""
        raise FormatError(run_dir, f"not a run directory: none of {', '.join(RUN_FILES)}{hint}")
    missing = tuple(name for name in RUN_FILES if name not in present)
    info = _read_json(run_dir / "run.json") if "run.json" in present else {}
    rec = _resolve_recording(recording, info, run_dir)

    events = read_events(run_dir / "events.csv") if "events.csv" in present else None
    events = _typed(events, EVENTS_SCHEMA)
    tracks = _read_table(run_dir / "tracks.csv")
    hands = _read_table(run_dir / "hands.csv")
    for table in (tracks, hands):
        if table is not None and len(table) and "camera" not in table.columns:
            table["camera"] = next(iter(info.get("cameras") or {}), "")
    cameras = _cameras(rec, info, [t for t in (tracks, hands) if t is not None], events)
    starts = [c.start_timestamp for c in cameras if np.isfinite(c.start_timestamp)]
    weight_events = read_weight_events(run_dir / "weight_events.csv") if "weight_events.csv" in present else None
    # t0: the first camera's start; without cameras the first thing that happens.
    firsts = [float(events["timestamp"].min())] if len(events) else []
    if rec is not None and rec.truth_events is not None and len(rec.truth_events):
        firsts.append(float(rec.truth_events["timestamp"].min()))
    if weight_events is not None and len(weight_events):
        firsts.append(float(weight_events["start"].min()))
    t0 = min(starts) if starts else min(firsts, default=0.0)

    events = events.assign(t_s=events["timestamp"] - t0)
    tracks = _typed(_clock(tracks, cameras, t0), TRACKS_SCHEMA)
    hands = _typed(_clock(_zone_names(hands, cameras), cameras, t0), HANDS_SCHEMA)
    if weight_events is not None and len(weight_events):
        weight_events = weight_events.assign(
            start_s=weight_events["start"] - t0, end_s=weight_events["end"] - t0
        )
    reaches = _read_table(run_dir / "reaches.csv")
    if reaches is not None and len(reaches):
        reaches = tables.floats(reaches, ("start", "end"), run_dir / "reaches.csv")
        reaches = reaches.assign(start_s=reaches["start"] - t0, end_s=reaches["end"] - t0)
    positions = tables.read_positions(run_dir / "shoppers.csv") if "shoppers.csv" in present else None
    if positions is not None and len(positions):
        positions = positions.assign(t_s=positions["timestamp"] - t0)
    discrepancies = _read_table(run_dir / "discrepancies.csv")
    if discrepancies is not None and len(discrepancies):
        discrepancies = discrepancies.assign(t_s=pd.to_numeric(discrepancies["timestamp"], errors="coerce") - t0)
    timeline_payload = _read_json(run_dir / "timeline.json") if "timeline.json" in present else None
    receipts_payload = read_receipts(run_dir / "receipts.json") if "receipts.json" in present else None
    timelines, vision_carts = _timelines(timeline_payload, t0)
    receipts, receipt_carts = _receipts(receipts_payload, t0)
    truth = rec.truth_events if rec is not None and rec.truth_events is not None else None
    truth = _typed(truth.assign(t_s=truth["timestamp"] - t0) if truth is not None else None, EVENTS_SCHEMA)
    name = str(info.get("name") or (rec.name if rec is not None else run_dir.name))
    run = Run(
        path=run_dir, name=name, recording=rec, info=info, cameras=tuple(cameras), t0=t0,
        tracks=tracks, hands=hands, events=events,
        visits=_visits(hands, cameras, info, t0),
        timelines=timelines,
        weight_events=_typed(weight_events, WEIGHT_EVENTS_SCHEMA),
        receipts=receipts,
        carts=_typed(pd.DataFrame(vision_carts + receipt_carts), CARTS_SCHEMA),
        truth_events=truth,
        missing=missing,
        reaches=_typed(reaches, REACHES_SCHEMA),
        positions=_typed(positions, POSITIONS_SCHEMA),
        discrepancies=_typed(discrepancies, DISCREPANCIES_SCHEMA),
    )
    log.info("%s: %d track rows, %d hand rows, %d reaches, %d events, %d weight events, %d receipt lines%s",
             run_dir, len(tracks), len(hands), len(run.reaches), len(events), len(run.weight_events), len(receipts),
             f" (no {', '.join(missing)})" if missing else "")
    return run


# ---------------------------------------------------------------------------------------------- frames


@dataclass(frozen=True)
class Focus:
    """What the views show when not told: a time (s since t0), a camera, a track and a shelf (None: none)."""

    t_s: float
    camera: str | None
    track_id: int | None
    shelf: str | None


def default_focus(run: Run) -> Focus:
    """The first event's time, camera, shopper and shelf; without events the middle of the first
    camera's video, its longest track and the shelf with the most weight events."""
    if len(run.events):
        first = run.events.iloc[0]
        shopper = str(first["shopper"])
        camera = str(first["camera"]) or (run.cameras[0].id if run.cameras else None)
        return Focus(float(first["t_s"]), camera, int(shopper) if shopper.lstrip("-").isdigit() else None,
                     str(first["shelf"]))
    camera = run.cameras[0] if run.cameras else None
    t_s = (camera.start_timestamp - run.t0 + camera.duration_s / 2) if camera is not None else 0.0
    own = run.tracks[run.tracks["camera"] == camera.id] if camera is not None else run.tracks
    track = int(own["track_id"].value_counts().idxmax()) if len(own) else None
    shelf = str(run.weight_events["shelf"].value_counts().idxmax()) if len(run.weight_events) else None
    return Focus(float(t_s) if np.isfinite(t_s) else 0.0, camera.id if camera is not None else None, track, shelf)


def frame_index(run: Run, camera: str | None, t_s: float) -> int:
    """The index of the frame of ``camera`` shown at ``t_s`` (seconds since ``run.t0``), clipped to the video."""
    cam = run.camera(camera)
    if not cam.fps > 0 or not np.isfinite(cam.start_timestamp):
        raise FormatError(run.path, f"camera {cam.id}: clock unknown (no recording or frame rate)")
    index = int(round((run.t0 + t_s - cam.start_timestamp) * cam.fps))
    return int(np.clip(index, 0, max(cam.frames - 1, 0)))


def read_frame(video: Path, index: int) -> np.ndarray:
    """Frame ``index`` (0-based) of a video as a BGR uint8 array (H, W, 3); FormatError if unreadable."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    try:
        if not capture.isOpened():
            raise FormatError(video, "cannot open video")
        if index > 0:
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok or frame is None:
        raise FormatError(video, f"cannot read frame {index}")
    return frame


def person_boxes(run: Run, camera: str, index: int) -> np.ndarray:
    """(M, 4) xyxy px of the shoppers tracked on ``camera`` in frame ``index``."""
    rows = run.tracks[(run.tracks["camera"] == camera) & (run.tracks["frame"] == index)]
    return rows[["x1", "y1", "x2", "y2"]].to_numpy(float)


def anonymized_frame(run: Run, camera: str, index: int, *, anonymize: bool = True) -> np.ndarray:
    """Frame ``index`` of ``camera`` (BGR (H, W, 3) uint8) with its faces and the heads of its tracked
    shoppers pixelated (``walkout.anonymize``); ``anonymize=False``: as recorded, with a warning."""
    from walkout.anonymize import anonymize_picture

    cam = run.camera(camera)
    if cam.video is None:
        raise FormatError(run.path, f"camera {cam.id}: no video (load_run needs the recording)")
    image = read_frame(cam.video, index)
    return anonymize_picture(image, anonymize, f"{run.path} {cam.id} frame {index}", person_boxes(run, cam.id, index))


def frame_at(run: Run, camera: str | None = None, t_s: float | None = None, *, annotate: bool = True,
             anonymize: bool = True) -> np.ndarray:
    """The frame of ``camera`` at ``t_s`` seconds since ``run.t0``, as RGB (H, W, 3) uint8 (for imshow).

    Anonymised: faces and the heads of the frame's tracked shoppers pixelated (``anonymize=False``:
    a store's secured review only; logs a warning). Annotated (``walkout.annotate.FrameAnnotator``):
    shopper boxes with track ids, hands and what they hold, shelf zones (filled while a hand is in
    them), labels of events within a second.
    camera None: the only camera (or the first event's); t_s None: the first event's time
    (:func:`default_focus`).
    """
    focus = default_focus(run)
    cam = run.camera(camera if camera is not None or len(run.cameras) == 1 else focus.camera)
    t_s = focus.t_s if t_s is None else t_s
    if cam.video is None:
        raise FormatError(run.path, f"camera {cam.id}: no video (load_run needs the recording)")
    index = frame_index(run, cam.id, t_s)
    if annotate:
        from walkout.annotate import FrameAnnotator

        image = FrameAnnotator(run, cam.id, anonymize=anonymize).draw(read_frame(cam.video, index), index)
    else:
        image = anonymized_frame(run, cam.id, index, anonymize=anonymize)
    return np.ascontiguousarray(image[:, :, ::-1])


# ---------------------------------------------------------------------------------------------- plots


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _names(run: Run) -> dict[str, str]:
    """sku -> a short product name for labels (the sku itself without a catalog)."""
    catalog = run.recording.catalog if run.recording is not None else None
    if catalog is None:
        return {}
    return {str(s): str(n) for s, n in zip(catalog["sku"], catalog["name"], strict=True)}


def _shelf_colors(shelves: set[str]) -> dict[str, tuple]:
    """Light colours per shelf (sorted), so the saturated status and action colours stand out on them."""
    from matplotlib import colormaps

    cmap = colormaps["Pastel1"]
    return {shelf: cmap(i % cmap.N) for i, shelf in enumerate(sorted(shelves))}


def _label(names: dict[str, str], action: str, sku: str, quantity: int) -> str:
    sign = "+" if action == "pick" else "−"
    name = names.get(sku, sku)
    name = name if len(name) <= 16 else name[:15] + "…"
    return f"{sign}{name}" + (f" ×{quantity}" if quantity != 1 else "")


def _event_status(run: Run) -> pd.Series:
    """Per row of run.events: the fusion status of its receipt line ('not fused' without receipts)."""
    status = pd.Series("not fused", index=run.events.index, dtype=object)
    if not run.fused:
        return status
    lines = run.receipts[run.receipts["vision_sku"] != ""]
    for i, event in run.events.iterrows():
        same = lines[
            (lines["vision_sku"] == event["sku"]) & (lines["vision_shopper"] == event["shopper"])
            & ((lines["vision_timestamp"] - event["timestamp"]).abs() < 1e-3)
        ]
        status[i] = str(same["status"].iloc[0]) if len(same) else "not fused"
    return status


def plot_trajectory(
    run: Run, track_id: int | None = None, ax: Axes | None = None, *, camera: str | None = None,
    anonymize: bool = True,
) -> Axes:
    """One shopper track over its camera's image: the box centre's path coloured by time, the boxes at
    its first and last frame, the owner's hand positions in zones (white) or holding an item (red),
    and its events (stars).

    track_id None: the first event's shopper, else the longest track (a run without tracks gets an
    empty panel saying so). An unknown track_id is a KeyError listing the known ones.
    camera: needed only when several cameras have a track ``track_id`` (ids are per camera).
    anonymize: the camera image (the middle frame of the track) has its faces and tracked shoppers'
    heads pixelated; False is for a store's secured review only (logs a warning).
    """
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Polygon, Rectangle

    if track_id is None:
        track_id = default_focus(run).track_id
        if track_id is None or not (run.tracks["track_id"] == track_id).any():
            ax = _axes(ax, (8, 4.8))
            ax.set_axis_off()
            ax.set_title("no shopper tracks")
            return ax
    track_id = int(track_id)
    rows = run.tracks[run.tracks["track_id"] == track_id]
    if camera is None:
        found = sorted(rows["camera"].unique())
        if len(found) > 1:
            raise KeyError(f"track {track_id} is on cameras {', '.join(found)}: pass camera=")
        camera = found[0] if found else (run.cameras[0].id if len(run.cameras) == 1 else None)
    rows = rows[rows["camera"] == camera].sort_values("frame")
    if rows.empty:
        known = sorted(run.tracks.loc[run.tracks["camera"] == camera, "track_id"].unique().tolist())
        raise KeyError(f"no track {track_id} on camera {camera} (tracks: {known or 'none'})")
    cam = run.camera(camera)
    ax = _axes(ax, (8, 4.8))
    middle = int(rows["frame"].iloc[len(rows) // 2])
    if cam.video is not None:
        image = anonymized_frame(run, cam.id, middle, anonymize=anonymize)[:, :, ::-1]
        ax.imshow(image, alpha=0.55, zorder=0)
    width = cam.width_px or float(rows["x2"].max())
    height = cam.height_px or float(rows["y2"].max())
    for zone in cam.zones:
        ax.add_patch(Polygon(zone.polygon, closed=True, fill=False, edgecolor="white", linewidth=0.6, zorder=1))
    cx = ((rows["x1"] + rows["x2"]) / 2).to_numpy()
    cy = ((rows["y1"] + rows["y2"]) / 2).to_numpy()
    t = rows["t_s"].to_numpy()
    points = np.column_stack([cx, cy])
    segments = np.stack([points[:-1], points[1:]], axis=1) if len(points) > 1 else np.empty((0, 2, 2))
    path = LineCollection(segments, cmap="viridis", linewidths=2.5, zorder=3, gid="trajectory")
    path.set_array(t[:-1] if len(t) > 1 else t)
    path.set_clim(float(t.min()), float(t.max()) if t.max() > t.min() else float(t.min()) + 1)
    ax.add_collection(path)
    # An inset colour bar stays beside the image whatever layout the figure uses.
    ax.figure.colorbar(path, cax=ax.inset_axes((1.01, 0.05, 0.025, 0.9)), label="t (s)")
    for which, row, style in (("start", rows.iloc[0], "--"), ("end", rows.iloc[-1], "-")):
        ax.add_patch(Rectangle((row["x1"], row["y1"]), row["x2"] - row["x1"], row["y2"] - row["y1"],
                               fill=False, edgecolor="black", linestyle=style, linewidth=1.2, zorder=4, gid="box"))
        right = row["x2"] > 0.8 * width  # keep the label inside the image
        ax.text(row["x2"] if right else row["x1"], row["y1"] - 3, f"{which} {row['t_s']:.1f} s", fontsize=8,
                zorder=5, ha="right" if right else "left",
                bbox={"facecolor": "white", "alpha": 0.7, "pad": 1, "edgecolor": "none"})
    hands = run.hands[(run.hands["camera"] == camera) & (run.hands["owner"] == track_id)]
    shown = hands[(hands["count"] > 0) | (hands["zone"] >= 0)]
    if len(shown):
        ax.scatter(shown["x"], shown["y"], s=9, c=np.where(shown["count"] > 0, "tab:red", "white"),
                   edgecolors="black", linewidths=0.3, zorder=2, gid="hands")
    names = _names(run)
    events = run.events[(run.events["camera"] == camera) & (run.events["shopper"] == str(track_id))]
    located = hands[np.isfinite(hands["x"]) & np.isfinite(hands["y"])]
    legend = []
    for k, (_, event) in enumerate(events.iterrows(), start=1):
        # The star sits at the shopper's hand nearest in time; a numbered list names the events.
        near = located.iloc[(located["frame"] - event["frame"]).abs().argsort()[:1]] if len(located) else located
        x, y = (float(near["x"].iloc[0]), float(near["y"].iloc[0])) if len(near) else (float(cx.mean()), float(cy.mean()))
        ax.plot([x], [y], marker="*", markersize=14, color=ACTION_COLORS.get(event["action"], "black"),
                markeredgecolor="black", zorder=6, gid="event")
        ax.annotate(str(k), (x, y), xytext=(5, 5), textcoords="offset points", fontsize=8, fontweight="bold", zorder=6)
        legend.append(f"{k}  {event['t_s']:.1f} s  {_label(names, event['action'], event['sku'], int(event['quantity']))}")
    if legend:
        ax.text(0.01, 0.99, "\n".join(legend), transform=ax.transAxes, va="top", ha="left", fontsize=8, zorder=7,
                bbox={"facecolor": "white", "alpha": 0.85, "pad": 3, "edgecolor": "none"})
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"track {track_id} on {camera}: {t.min():.1f}–{t.max():.1f} s, {len(events)} event(s)\n"
                 "hand in a zone: white, holding an item: red", fontsize=10)
    return ax


def plot_cart_timeline(run: Run, ax: Axes | None = None) -> Axes:
    """A Gantt chart over the run's time: per shopper, when they are in view (grey), their hand visits
    to shelf zones (coloured by shelf) and their events (▲ pick, ▼ return, coloured by the fusion status
    of the receipt line, black when not fused), and hollow, the receipt lines fusion gave them that
    vision has no event for; above them a row of truth events and a row of weight events when there
    are any. Artists carry gids: presence, visit, event, receipt_line, truth_event, weight_event.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    shoppers = run.shoppers()
    rows: list[tuple[str, str]] = [("shopper", s) for s in reversed(shoppers)]
    if len(run.weight_events):
        rows.append(("weight", "weight"))
    if len(run.truth_events):
        rows.append(("truth", "truth"))
    ax = _axes(ax, (11, 1.4 + 0.7 * max(len(rows), 1)))
    y_of = {key: i for i, key in enumerate(rows)}
    names = _names(run)
    shelves = set(run.visits["shelf"]) | set(run.events["shelf"]) | set(run.weight_events["shelf"])
    shelf_color = _shelf_colors(shelves - {""})

    def marker(x: float, y: float, action: str, color: str, gid: str, filled: bool = True) -> None:
        ax.plot([x], [y], marker="^" if action == "pick" else "v", markersize=9, linestyle="none",
                color=color, markerfacecolor=color if filled else "none", markeredgecolor=color, gid=gid, zorder=4)

    placed: dict[float, list[float]] = {}

    def label(x: float, y: float, text: str) -> None:
        # Lift a label above the previous one of its row when they would overprint (closer than 1 s).
        near = sum(1 for other in placed.setdefault(y, []) if abs(other - x) < 1.0)
        placed[y].append(x)
        ax.annotate(text, (x, y), xytext=(0, 8 + 11 * near), textcoords="offset points", fontsize=7,
                    rotation=25, ha="left", va="bottom", zorder=5)

    for shopper in shoppers:
        y = y_of[("shopper", shopper)]
        seen = run.tracks[run.tracks["track_id"].astype(str) == shopper]
        if len(seen):
            ax.barh(y, seen["t_s"].max() - seen["t_s"].min(), left=seen["t_s"].min(), height=0.7,
                    color="0.9", edgecolor="none", zorder=1, gid="presence")
        for _, visit in run.visits[run.visits["shopper"] == shopper].iterrows():
            ax.barh(y, visit["end_s"] - visit["start_s"], left=visit["start_s"], height=0.45,
                    color=shelf_color.get(visit["shelf"], "0.5"), edgecolor="black", linewidth=0.3,
                    zorder=2, gid="visit")
    status = _event_status(run)
    for i, event in run.events.iterrows():
        y = y_of[("shopper", event["shopper"])]
        marker(event["t_s"], y, event["action"], STATUS_COLORS.get(status[i], "black"), "event")
        label(event["t_s"], y, _label(names, event["action"], event["sku"], int(event["quantity"])))
    # Receipt lines vision has no event for on that shopper (a weight change given to the shopper
    # seen there, or moved from vision's shopper): hollow, coloured by status.
    own = run.receipts[(run.receipts["shopper"] != "") & (run.receipts["shopper"] != run.receipts["vision_shopper"])]
    for _, line in own.iterrows():
        y = y_of[("shopper", line["shopper"])]
        marker(line["t_s"], y, line["action"], STATUS_COLORS.get(line["status"], "black"), "receipt_line", filled=False)
        label(line["t_s"], y, _label(names, line["action"], line["sku"], int(line["quantity"])))
    if ("truth", "truth") in y_of:
        y = y_of[("truth", "truth")]
        for _, event in run.truth_events.iterrows():
            marker(event["t_s"], y, event["action"], "black", "truth_event", filled=False)
            label(event["t_s"], y, f"{_label(names, event['action'], event['sku'], int(event['quantity']))} ({event['shopper']})")
    if ("weight", "weight") in y_of:
        y = y_of[("weight", "weight")]
        for _, w in run.weight_events.iterrows():
            ax.barh(y, max(w["end_s"] - w["start_s"], 0.05), left=w["start_s"], height=0.45,
                    color=shelf_color.get(w["shelf"], "0.5"), edgecolor="black", linewidth=0.3, gid="weight_event")
            label(w["end_s"], y, f"{w['shelf']}/{w['plates']} {w['delta_g']:+.0f} g")
    labels = {"shopper": lambda s: f"shopper {s}", "weight": lambda s: "weight events", "truth": lambda s: "truth"}
    ax.set_yticks(range(len(rows)), [labels[kind](key) for kind, key in rows])
    ax.set_ylim(-0.6, len(rows) - 0.1 + 0.6)
    # A margin on the right keeps the last labels (rotated up and right) inside.
    ax.set_xlim(-0.01 * max(run.duration_s, 1.0), max(run.duration_s, 1.0) * 1.06)
    ax.set_xlabel(f"t (s) since {run.t0:.3f} (Unix s)")
    ax.grid(axis="x", color="0.85", linewidth=0.5)
    ax.set_axisbelow(True)
    handles = [Patch(facecolor=c, edgecolor="black", linewidth=0.3, label=f"shelf {s}") for s, c in shelf_color.items()]
    handles += [Line2D([], [], marker=m, linestyle="none", color="black", markerfacecolor="none", label=a)
                for m, a in (("^", "pick"), ("v", "return"))]
    used = sorted(set(status) | set(own["status"])) if len(status) or len(own) else []
    handles += [Line2D([], [], marker="s", linestyle="none", color=STATUS_COLORS[s], label=s) for s in used]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    ax.set_title(f"{run.name}: {len(shoppers)} shopper(s), {len(run.events)} event(s)"
                 + (f", {len(run.truth_events)} in the truth" if len(run.truth_events) else ""))
    return ax


def plot_weight(
    run: Run,
    shelf: str | None = None,
    plates: Sequence[int] | None = None,
    ax: Axes | None = None,
    *,
    t_range: tuple[float, float] | None = None,
) -> Axes:
    """A shelf's weight signal (per plate, change since its first half second, grams) with the detected
    weight events shaded and labelled, and the vision events on that shelf as vertical lines: solid
    when fusion matched them to a weight event, dashed when it did not (dotted: not fused). Truth
    events are grey ticks at the top. Artists carry gids: plate, weight_event, vision_event, truth_event.

    shelf None: the first event's shelf, else the one with most weight events (:func:`default_focus`).
    t_range: (start, end) seconds since ``run.t0`` to show; default the whole log.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    shelf = str(default_focus(run).shelf if shelf is None else shelf)
    signal = run.weights(shelf, plates)
    if signal.empty:
        raise KeyError(f"{run.name}: no weight readings for shelf {shelf}" + (f" plates {list(plates)}" if plates else ""))
    if t_range is not None:
        signal = signal[(signal["t_s"] >= t_range[0]) & (signal["t_s"] <= t_range[1])]
    ax = _axes(ax, (11, 3.6))
    from matplotlib import colormaps

    n_plates = signal["plate"].nunique()
    cmap = colormaps["tab10" if n_plates <= 10 else "tab20"]
    for k, (plate, readings) in enumerate(signal.groupby("plate", sort=True)):
        start = readings["t_s"].iloc[0]
        base = float(readings.loc[readings["t_s"] <= start + 0.5, "grams"].median())
        ax.plot(readings["t_s"], readings["grams"] - base, linewidth=0.9, label=f"plate {plate}", gid="plate",
                color=cmap(k % cmap.N))
    wanted = None if plates is None else {int(p) for p in plates}

    def on_plates(text: str) -> bool:
        return wanted is None or not text or bool(wanted & {int(p) for p in str(text).split(";") if p})

    events = run.weight_events[(run.weight_events["shelf"] == shelf) & run.weight_events["plates"].map(on_plates)]
    for k, (_, w) in enumerate(events.iterrows()):
        ax.axvspan(w["start_s"], w["end_s"], color="tab:blue", alpha=0.18, gid="weight_event")
        # Alternate heights so labels of close events do not overprint.
        ax.annotate(f"{w['id']} {w['delta_g']:+.0f} g", (w["end_s"], 1.0), xycoords=("data", "axes fraction"),
                    xytext=(2, -12 - 10 * (k % 2)), textcoords="offset points", fontsize=7, color="tab:blue")
    names = _names(run)
    if run.fused:
        lines = run.receipts[(run.receipts["vision_sku"] != "") & (run.receipts["shelf"] == shelf)]
        vision = [(r["vision_t_s"], r["action"], r["vision_sku"], r["vision_quantity"], r["vision_shopper"],
                   "-" if r["weight_event"] else "--", STATUS_COLORS.get(r["status"], "black"))
                  for _, r in lines.iterrows() if on_plates(r["plates"])]
    else:
        own = run.events[(run.events["shelf"] == shelf) & run.events["plates"].map(on_plates)]
        vision = [(r["t_s"], r["action"], r["sku"], r["quantity"], r["shopper"], ":", "black") for _, r in own.iterrows()]
    previous, low = -np.inf, True
    for t, action, sku, quantity, shopper, style, color in sorted(vision, key=lambda v: v[0]):
        ax.axvline(t, color=color, linestyle=style, linewidth=1.3, gid="vision_event")
        # Labels of events within a second of each other alternate between the bottom and the top.
        low = not low if t - previous < 1.0 else True
        previous = t
        ax.annotate(f"{_label(names, action, sku, int(quantity))} (#{shopper})", (t, 0.0 if low else 0.85),
                    xycoords=("data", "axes fraction"), xytext=(2, 4 if low else -4), textcoords="offset points",
                    fontsize=7, rotation=90, color=color, va="bottom" if low else "top")
    truth = run.truth_events[(run.truth_events["shelf"] == shelf) & run.truth_events["plates"].map(on_plates)]
    if len(truth):
        ax.plot(truth["t_s"], np.full(len(truth), 1.0), transform=ax.get_xaxis_transform(), marker="v",
                linestyle="none", color="0.3", markersize=7, gid="truth_event", label="truth event", clip_on=False)
    ax.set_xlabel("t (s)")
    ax.set_ylabel("change since start (g)")
    ax.grid(color="0.9", linewidth=0.5)
    handles, _ = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color="black", linestyle=style, label=text)
                for style, text in (("-", "vision, matched"), ("--", "vision, no weight event"))]
    handles += [Patch(color="tab:blue", alpha=0.18, label="weight event")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    which = f" plates {', '.join(str(p) for p in sorted(wanted))}" if wanted else ""
    ax.set_title(f"shelf {shelf}{which}: {len(events)} weight event(s), {len(vision)} vision event(s)"
                 + ("" if run.fused else " (not fused)"), pad=10)
    return ax


def plot_overview(
    run: Run,
    *,
    camera: str | None = None,
    t_s: float | None = None,
    track_id: int | None = None,
    shelf: str | None = None,
    anonymize: bool = True,
) -> Figure:
    """The main views in one figure: the annotated frame at ``t_s``, a track's trajectory, the cart
    timeline and a shelf's weight signal. Unset choices come from :func:`default_focus` (the first
    event's time, camera, shopper and shelf). Panels without data say so instead of failing. The
    frames are anonymised unless ``anonymize`` is False (a secured review only; logs a warning).
    """
    import matplotlib.pyplot as plt

    focus = default_focus(run)
    camera = camera if camera is not None else focus.camera
    t_s = focus.t_s if t_s is None else t_s
    track_id = focus.track_id if track_id is None else track_id
    shelf = focus.shelf if shelf is None else shelf
    fig = plt.figure(figsize=(15, 11), layout="constrained")
    grid = fig.add_gridspec(3, 2, height_ratios=[1.25, 0.9, 0.75])
    frame_ax = fig.add_subplot(grid[0, 0])
    frame_ax.set_axis_off()
    if camera is not None and run.camera(camera).video is not None:
        frame_ax.imshow(frame_at(run, camera, t_s, anonymize=anonymize))
        frame_ax.set_title(f"frame_at(run, {camera!r}, {t_s:.1f})")
    else:
        frame_ax.set_title("no video")
    track_ax = fig.add_subplot(grid[0, 1])
    if track_id is not None and ((run.tracks["track_id"] == track_id) & (run.tracks["camera"] == camera)).any():
        plot_trajectory(run, track_id, ax=track_ax, camera=camera, anonymize=anonymize)
    else:
        track_ax.set_axis_off()
        track_ax.set_title("no shopper tracks")
    plot_cart_timeline(run, ax=fig.add_subplot(grid[1, :]))
    weight_ax = fig.add_subplot(grid[2, :])
    if shelf is not None and run.recording is not None and run.recording.weights_path is not None:
        plot_weight(run, shelf, ax=weight_ax)
    else:
        weight_ax.set_axis_off()
        weight_ax.set_title("no weight log" if shelf is not None else "no shelf to show")
    fig.suptitle(f"walkout.inspect: {run.name}", fontsize=13)
    return fig


# ---------------------------------------------------------------------------------------------- truth run


def truth_hands(boxes: pd.DataFrame, zones: Sequence, min_visible: float = 0.35,
                min_visible_held: float = 0.05) -> pd.DataFrame:
    """Truth boxes of one camera (truth/boxes/<camera>.csv) -> the pipeline's hand table
    (``vision.events.HAND_COLUMNS``), as a perfect detector would see it: hands at least
    ``min_visible`` unhidden, with their true owner and the zone of their centre; each in-hand
    product (at least ``min_visible_held`` visible) is held by its owner's visible hand nearest to it
    (a hand holding several skus reports the most numerous). zones: ``vision.zones.ShelfZone``s.
    """
    from formats.tables import HAND_COLUMNS
    from vision.zones import zone_of_points

    visible = boxes[(boxes["object"] == "hand") & (boxes["visible"] >= min_visible)]
    hands = pd.DataFrame({
        "frame": visible["frame"].astype(int).to_numpy(), "owner": visible["track_id"].astype(int).to_numpy(),
        "x": ((visible["x1"] + visible["x2"]) / 2).to_numpy(), "y": ((visible["y1"] + visible["y2"]) / 2).to_numpy(),
    })
    hands["zone"] = zone_of_points(hands[["x", "y"]].to_numpy(float), tuple(zones))
    hands["sku"], hands["count"], hands["sku_confidence"] = "", 0, 0.0
    products = boxes[(boxes["object"] == "product_in_hand") & (boxes["visible"] >= min_visible_held)]
    products = pd.DataFrame({
        "frame": products["frame"].astype(int), "owner": products["track_id"].astype(int), "sku": products["sku"],
        "px": (products["x1"] + products["x2"]) / 2, "py": (products["y1"] + products["y2"]) / 2,
    })
    pairs = products.reset_index(names="product").merge(
        hands[["frame", "owner", "x", "y"]].reset_index(names="hand"), on=["frame", "owner"])
    if len(pairs):
        pairs["d"] = np.hypot(pairs["px"] - pairs["x"], pairs["py"] - pairs["y"])
        nearest = pairs.loc[pairs.groupby("product")["d"].idxmin()]
        counts = nearest.groupby(["hand", "sku"]).size().rename("count").reset_index()
        counts = counts.sort_values("count", kind="stable").drop_duplicates("hand", keep="last").set_index("hand")
        hands.loc[counts.index, "sku"] = counts["sku"]
        hands.loc[counts.index, "count"] = counts["count"]
        hands.loc[counts.index, "sku_confidence"] = 1.0
    return hands[list(HAND_COLUMNS)].sort_values("frame", kind="stable").reset_index(drop=True)


def write_truth_run(recording: str | Path, out_dir: str | Path, *, min_visible: float = 0.35) -> Path:
    """Write a run directory for a mock recording from its truth boxes (truth/boxes/<camera>.csv).

    As if detection and tracking were perfect: tracks are the truth shopper boxes at least
    ``min_visible`` unhidden (ids = truth shopper ids), hands and held items as :func:`truth_hands`,
    events by vision's own event stage with its default config. Writes events.csv, timeline.json,
    tracks.csv, hands.csv, reaches.csv, tracks/<camera>.txt and run.json (``model: "truth"``) into
    ``out_dir/<recording folder name>/``; returns that folder. For looking at the views, fusion or
    the event stage without a detector. Raises FormatError when a camera has no truth boxes.
    """
    from formats.tables import read_truth_boxes, write_csv_atomic, write_events, write_json_atomic
    from vision.events import EventConfig, PickEvent, decide_events, find_reaches
    from vision.timeline import build_timelines, timelines_document
    from vision.zones import ShelfZone

    rec = load_recording(Path(recording).resolve())
    out = Path(out_dir) / rec.path.name
    planogram = {}
    if rec.planogram is not None:
        planogram = {(s, int(p)): k for s, p, k in rec.planogram[["shelf", "plate", "sku"]].itertuples(index=False)}
    event_config = EventConfig()
    all_events: list[PickEvent] = []
    tracks_all, hands_all, reaches_all, cameras = [], [], [], {}
    for camera in rec.cameras:
        boxes_path = rec.path / "truth" / "boxes" / f"{camera.id}.csv"
        if not boxes_path.is_file():
            raise FormatError(boxes_path, "file not found (a truth run needs the mock store's truth boxes)")
        boxes = read_truth_boxes(boxes_path)
        info = probe_video(camera.video)
        zones = tuple(ShelfZone(z.shelf, z.plates, z.polygon) for z in camera.zones)
        shoppers = boxes[(boxes["object"] == "shopper") & (boxes["visible"] >= min_visible)]
        tracks = pd.DataFrame({
            "frame": shoppers["frame"], "track_id": shoppers["track_id"], "x1": shoppers["x1"],
            "y1": shoppers["y1"], "x2": shoppers["x2"], "y2": shoppers["y2"], "confidence": 1.0,
        })
        hands = truth_hands(boxes, zones, min_visible)
        events, _ = decide_events(hands, zones, camera=camera.id, start_timestamp=camera.start_timestamp,
                                  fps=info.fps, planogram=planogram, config=event_config)
        all_events += events
        reaches_all.append(find_reaches(hands, zones, camera=camera.id, start_timestamp=camera.start_timestamp,
                                        fps=info.fps, config=event_config))
        tracks_all.append(tracks.assign(camera=camera.id))
        hands_all.append(hands.assign(camera=camera.id))
        cameras[camera.id] = {"fps": info.fps, "frames": info.frames}
        mot = pd.DataFrame({
            "frame": tracks["frame"] + 1, "id": tracks["track_id"], "x": tracks["x1"], "y": tracks["y1"],
            "w": tracks["x2"] - tracks["x1"], "h": tracks["y2"] - tracks["y1"], "conf": 1, "a": -1, "b": -1, "c": -1,
        })
        write_text_atomic(mot.to_csv(header=False, index=False, float_format="%.2f"), out / "tracks" / f"{camera.id}.txt")
    all_events.sort(key=lambda e: e.timestamp)
    write_csv_atomic(pd.concat(tracks_all, ignore_index=True), out / "tracks.csv", float_format="%.2f")
    write_csv_atomic(pd.concat(hands_all, ignore_index=True), out / "hands.csv", float_format="%.3f")
    write_csv_atomic(pd.concat(reaches_all, ignore_index=True), out / "reaches.csv")
    frame = pd.DataFrame([e.to_dict() for e in all_events]).drop(columns=["version"], errors="ignore")
    write_events(frame.reindex(columns=list(EVENTS_SCHEMA)), out / "events.csv", predicted=True)
    write_json_atomic(timelines_document(rec.name, build_timelines(all_events)), out / "timeline.json")
    write_json_atomic({
        "version": 1, "recording": str(rec.path), "name": rec.name, "model": "truth",
        "config": {"events": {k: getattr(event_config, k) for k in event_config.__dataclass_fields__}},
        "cameras": cameras,
    }, out / "run.json")
    log.info("%s: truth run with %d event(s) -> %s", rec.name, len(all_events), out)
    return out


def floor_positions(run: Run) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(predicted, truth) floor positions: the run's shoppers.csv (``Run.positions``) and the
    recording's truth/shoppers.csv, each ``timestamp, t_s, shopper, x, y`` (+ ``cameras`` for the
    prediction); empty tables when a file is absent."""
    truth = run.recording.path / "truth" / "shoppers.csv" if run.recording is not None else None
    if truth is None or not truth.is_file():
        truth_table = pd.DataFrame(columns=["timestamp", "t_s", "shopper", "x", "y"])
    else:
        truth_table = tables.read_positions(truth)
        truth_table = truth_table.assign(t_s=truth_table["timestamp"] - run.t0)
    predicted = run.positions[["timestamp", "t_s", "shopper", "x", "y", "cameras"]]
    return predicted.reset_index(drop=True), truth_table


def plot_floor(run: Run, ax: Axes | None = None) -> Axes:
    """The store seen from above: shelves (store.json boxes, labelled), each store-level shopper's
    path over the floor (shoppers.csv, one colour per shopper, a dot where they were first seen) and,
    when the recording has it, the truth's paths beside them (thin grey dashes). Artists carry gids:
    shelf, shopper, truth."""
    from matplotlib.patches import Polygon

    ax = _axes(ax, (8.0, 6.0))
    predicted, truth = floor_positions(run)
    store = run.recording.store if run.recording is not None else None
    for shelf in (store.shelves if store is not None else ()):
        outline = shelf.box.footprint()
        ax.add_patch(Polygon(outline, closed=True, facecolor="0.85", edgecolor="0.4", lw=0.8, gid="shelf"))
    labelled: dict[tuple[float, float], list[str]] = {}
    for shelf in (store.shelves if store is not None else ()):
        centre = tuple(np.round(shelf.box.footprint().mean(axis=0), 2))
        labelled.setdefault(centre, []).append(shelf.shelf)
    for (x, y), names in labelled.items():
        ax.text(x, y, "\n".join(sorted(names)) if len(names) <= 2 else f"{min(names)}-{max(names)}",
                ha="center", va="center", fontsize=6, color="0.3")
    for _, path in truth.groupby("shopper", sort=True):
        ax.plot(path["x"], path["y"], color="0.5", lw=0.8, ls="--", gid="truth")
    colours = _colours()
    for k, (shopper, path) in enumerate(predicted.groupby("shopper", sort=True)):
        path = path.sort_values("timestamp")
        colour = colours[k % len(colours)]
        ax.plot(path["x"], path["y"], color=colour, lw=1.6, gid="shopper", label=f"shopper {shopper}")
        ax.plot(path["x"].iloc[:1], path["y"].iloc[:1], "o", color=colour, ms=5)
    if store is not None and store.floor is not None:
        (x0, y0), (x1, y1) = store.floor
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    if len(predicted):
        ax.legend(loc="upper right", fontsize=7, ncol=2)
    title = f"{run.name}: {predicted['shopper'].nunique()} shopper(s) on the floor"
    if len(truth):
        title += f", truth {truth['shopper'].nunique()} (grey dashes)"
    ax.set_title(title, fontsize=10)
    return ax


def _colours() -> list:
    import matplotlib.pyplot as plt

    return plt.rcParams["axes.prop_cycle"].by_key()["color"]

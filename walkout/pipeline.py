"""`walkout run`: store recordings in, per-shopper cart timelines out.

Per camera: decode -> detect (ultralytics) -> track shoppers (ByteTrack) -> attach hands -> what
each hand holds -> hand visits to shelf zones -> pick/return events. Per recording: merge cameras,
build timelines, write ``events.csv``, ``timeline.json``, ``tracks/<camera>.txt``, ``tracks.csv``,
``hands.csv`` and ``run.json`` (versions, model, config, timings). Every file is written to a
temporary name and renamed into place; a failed recording is reported and the others go on.
"""

from __future__ import annotations

import logging
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import supervision as sv

from fusion.errors import FormatError
from fusion.tables import write_csv_atomic, write_events, write_json_atomic
from vision.detector import ROLE_HAND, ROLE_PRODUCT, ROLE_SHOPPER, Detector
from vision.errors import InputError
from vision.events import HAND_COLUMNS, PickEvent, decide_events
from vision.hands import OWNER_KEY, HandAssociator
from vision.products import HeldItemClassifier, held_after_reach, held_from_boxes
from vision.timeline import build_timelines, timelines_document
from vision.tracking import ShopperTracker
from vision.zones import ShelfZone, check_zones, zone_of_points
from walkout.config import PipelineConfig
from walkout.recording import Camera, Recording, load_recording

log = logging.getLogger(__name__)
RUN_VERSION = 1
TRACK_COLUMNS = ("frame", "track_id", "x1", "y1", "x2", "y2", "confidence")


@dataclass
class CameraResult:
    camera: str
    events: list[PickEvent]
    tracks: pd.DataFrame
    hands: pd.DataFrame
    frames: int
    fps: float
    timing: dict


@dataclass
class RecordingResult:
    recording: Path
    out_dir: Path | None
    ok: bool
    error: str = ""
    events: int = 0
    shoppers: int = 0
    cameras: list[CameraResult] = field(default_factory=list)


class Models:
    """The detector (``[detector] backend``) and the held-item source (``[held] source``), loaded once
    for many recordings."""

    def __init__(self, config: PipelineConfig):
        if config.detector.backend == "mediapipe":
            from vision.mediapipe_hands import MediaPipeDetector

            self.detector = MediaPipeDetector(config.detector)
        else:
            self.detector = Detector(config.detector)
        source = config.held.source
        path = Path(config.held.classifier_path) if config.held.classifier_path else None
        if source == "classifier" and (path is None or not path.exists()):
            raise InputError(path or "held.classifier_path", "hand-crop classifier not found (held.source = 'classifier')")
        wants_classifier = source == "classifier" or (source == "auto" and path is not None and path.exists())
        self.classifier = HeldItemClassifier(config.held) if wants_classifier else None
        self.reach = source == "reach"
        if self.reach:
            log.info("held items: 'reach' source (every completed shelf reach counts as one unnamed item)")
        elif self.classifier is None:
            log.info("no hand-crop classifier: held items come from the detector's product boxes")


def read_frames(capture: cv2.VideoCapture, count: int) -> list[np.ndarray]:
    frames = []
    for _ in range(count):
        ok, frame = capture.read()
        if not ok or frame is None:
            break
        frames.append(frame)
    return frames


def _zones(camera: Camera) -> tuple[ShelfZone, ...]:
    return tuple(ShelfZone(z.shelf, z.plates, z.polygon) for z in camera.zones)


def process_camera(
    recording: Recording,
    camera: Camera,
    models: Models,
    config: PipelineConfig,
    planogram: dict[tuple[str, int], str],
) -> CameraResult:
    """Run the vision stages over one camera's video. Raises InputError for an unusable video or zones."""
    video = camera.video
    if not video.is_file():
        raise InputError(video, "video file not found")
    if video.stat().st_size == 0:
        raise InputError(video, "video file is empty (0 bytes)")
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise InputError(video, "cannot open video (corrupt file or unsupported codec)")
    fps = float(capture.get(cv2.CAP_PROP_FPS))
    claimed = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    if not fps > 0:
        raise InputError(video, f"video reports no frame rate ({fps})")
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    zones = _zones(camera)
    for problem in check_zones(zones, width, height):
        if "entirely outside" in problem:
            raise InputError(recording.path / "store.json", f"camera {camera.id}: {problem}")
        log.warning("%s: camera %s: %s", recording.path / "store.json", camera.id, problem)
    if not zones:
        log.warning("%s: camera %s has no shelf zones: no events can be seen", recording.path, camera.id)

    tracker = ShopperTracker(config.tracking, fps)
    associator = HandAssociator(config.hands)
    if hasattr(models.detector, "reset"):
        models.detector.reset()  # landmark trackers (MediaPipe) keep state across frames
    stages = {"decode": 0.0, "detect": 0.0, "track": 0.0, "events": 0.0}
    track_rows: list[np.ndarray] = []
    hand_rows: list[pd.DataFrame] = []
    index = 0
    started = time.perf_counter()
    try:
        while True:
            t0 = time.perf_counter()
            frames = read_frames(capture, config.batch_frames)
            t1 = time.perf_counter()
            stages["decode"] += t1 - t0
            if not frames:
                break
            detections = models.detector.detect(frames)
            t2 = time.perf_counter()
            stages["detect"] += t2 - t1
            owned_hands = []
            for offset, dets in enumerate(detections):
                frame_index = index + offset
                shoppers = dets[dets.data["role"] == ROLE_SHOPPER]
                shoppers.data["source"] = np.arange(len(shoppers))
                tracked = tracker.update(shoppers)
                hands = dets[dets.data["role"] == ROLE_HAND]
                if len(hands) and (hands.data["person"] >= 0).any():
                    hands.data[OWNER_KEY] = _pose_owners(hands.data["person"], tracked)
                hands = associator.associate(hands, tracked)
                hands = hands[hands.data[OWNER_KEY] >= 0]
                if len(tracked):
                    track_rows.append(np.column_stack([
                        np.full(len(tracked), frame_index), tracked.tracker_id, tracked.xyxy,
                        tracked.confidence if tracked.confidence is not None else np.ones(len(tracked)),
                    ]))
                owned_hands.append((frame_index, hands, dets[dets.data["role"] == ROLE_PRODUCT]))
            t3 = time.perf_counter()
            stages["track"] += t3 - t2
            hand_rows.append(_hand_table(frames, owned_hands, zones, models, config))
            stages["events"] += time.perf_counter() - t3
            index += len(frames)
    finally:
        capture.release()
    if index == 0:
        raise InputError(video, "video has no decodable frames")
    if claimed and index < claimed - 1:
        log.warning("%s: decoded %d frames but the header claims %d (truncated video?)", video, index, claimed)
    t4 = time.perf_counter()
    hands_table = pd.concat(hand_rows, ignore_index=True) if hand_rows else pd.DataFrame(columns=HAND_COLUMNS)
    if models.reach:
        hands_table = held_after_reach(hands_table, config.held.reach_min_frames)
    events, _ = decide_events(
        hands_table, zones, camera=camera.id, start_timestamp=camera.start_timestamp, fps=fps,
        planogram=planogram, config=config.events,
    )
    stages["events"] += time.perf_counter() - t4
    tracks = pd.DataFrame(np.vstack(track_rows) if track_rows else np.empty((0, 7)), columns=TRACK_COLUMNS)
    tracks = tracks.astype({"frame": int, "track_id": int})
    total = time.perf_counter() - started
    timing = {"frames": index, "video_s": index / fps, "total_s": total, "stages_s": stages}
    log.info("%s/%s: %d frames, %d shopper track(s), %d event(s), %.1f fps",
             recording.name, camera.id, index, tracks["track_id"].nunique(), len(events), index / max(total, 1e-9))
    return CameraResult(camera.id, events, tracks, hands_table, index, fps, timing)


def _pose_owners(person: np.ndarray, tracked: sv.Detections) -> np.ndarray:
    """Pose hands name their person by detection row; map that row to the person's tracker id."""
    owners = np.full(len(person), -1, dtype=int)
    if len(tracked):
        source = np.asarray(tracked.data["source"], dtype=int)
        lookup = dict(zip(source.tolist(), np.asarray(tracked.tracker_id).tolist(), strict=True))
        owners = np.array([lookup.get(int(p), -1) for p in person], dtype=int)
    return owners


def _hand_table(frames, owned_hands, zones, models: Models, config: PipelineConfig) -> pd.DataFrame:
    """One row per owned hand per frame: where it is, which zone, what it holds (HAND_COLUMNS)."""
    rows = []
    for (frame_index, hands, products), frame in zip(owned_hands, frames, strict=True):
        if not len(hands):
            continue
        centres = hands.get_anchors_coordinates(sv.Position.CENTER)
        if models.classifier is not None:
            sku, count, confidence = models.classifier.classify(frame, hands.xyxy)
        else:
            sku, count, confidence = held_from_boxes(hands, products, config.held.hand_box_scale)
        rows.append(pd.DataFrame({
            "frame": frame_index,
            "owner": hands.data[OWNER_KEY],
            "x": centres[:, 0],
            "y": centres[:, 1],
            "zone": zone_of_points(centres, zones),
            "sku": sku,
            "count": count,
            "sku_confidence": confidence,
        }))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=HAND_COLUMNS)


def merge_camera_events(per_camera: list[list[PickEvent]], window_s: float) -> list[PickEvent]:
    """Events of one sku and action seen by several cameras within ``window_s`` are one (the most confident)."""
    merged: list[PickEvent] = []
    for event in sorted((e for events in per_camera for e in events), key=lambda e: -e.confidence):
        duplicate = any(
            m.camera != event.camera and m.sku == event.sku and m.action == event.action
            and abs(m.timestamp - event.timestamp) <= window_s
            for m in merged
        )
        if not duplicate:
            merged.append(event)
    return sorted(merged, key=lambda e: e.timestamp)


def write_mot(tracks: pd.DataFrame, path: Path) -> Path:
    """MOTChallenge: frame (1-based), id, x, y, w, h, conf, -1, -1, -1."""
    mot = pd.DataFrame({
        "frame": tracks["frame"] + 1,
        "id": tracks["track_id"],
        "x": tracks["x1"].round(2),
        "y": tracks["y1"].round(2),
        "w": (tracks["x2"] - tracks["x1"]).round(2),
        "h": (tracks["y2"] - tracks["y1"]).round(2),
        "conf": tracks["confidence"].round(3),
        "a": -1, "b": -1, "c": -1,
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w") as stream:
        mot.to_csv(stream, header=False, index=False)
    os.replace(tmp, path)
    return path


def _versions() -> dict:
    import supervision
    import ultralytics

    from walkout import __version__

    return {
        "walkout": __version__,
        "python": platform.python_version(),
        "ultralytics": ultralytics.__version__,
        "supervision": supervision.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
    }


def process_recording(
    path: Path, out_root: Path, models: Models, config: PipelineConfig, *, baselines: bool = False
) -> RecordingResult:
    """Run every camera of one recording and write its outputs under ``out_root/<folder name>/``.

    With ``baselines``, also time decoding alone and ultralytics' plain ``model.track()`` loop on the
    same videos and weights, in this process, for the speed ratios of ``walkout bench``.
    """
    recording = load_recording(path)
    if not recording.cameras:
        raise InputError(recording.path / "store.json", "no cameras: nothing for vision to run on")
    planogram = {}
    if recording.planogram is not None:
        planogram = {(s, int(p)): k for s, p, k in recording.planogram[["shelf", "plate", "sku"]].itertuples(index=False)}
    results = [process_camera(recording, camera, models, config, planogram) for camera in recording.cameras]
    events = merge_camera_events([r.events for r in results], config.merge_window_s)
    out = out_root / recording.path.name
    for result in results:
        write_mot(result.tracks, out / "tracks" / f"{result.camera}.txt")
    tracks = pd.concat([r.tracks.assign(camera=r.camera) for r in results], ignore_index=True)
    hands = pd.concat([r.hands.assign(camera=r.camera) for r in results], ignore_index=True)
    write_csv_atomic(tracks, out / "tracks.csv", float_format="%.2f")
    write_csv_atomic(hands, out / "hands.csv", float_format="%.3f")
    events_frame = pd.DataFrame([e.to_dict() for e in events]).drop(columns=["version"], errors="ignore")
    if events_frame.empty:
        events_frame = pd.DataFrame(columns=["timestamp", "shopper", "action", "sku", "quantity", "shelf", "plates",
                                             "camera", "frame", "confidence"])
    write_events(events_frame, out / "events.csv", predicted=True)
    timelines = build_timelines(events)
    measured = _baselines(recording, config) if baselines else {}
    write_json_atomic(timelines_document(recording.name, timelines), out / "timeline.json")
    write_json_atomic({
        "version": RUN_VERSION,
        "recording": str(recording.path),
        "name": recording.name,
        "model": config.detector.model_path,
        "classifier": config.held.classifier_path if models.classifier is not None else None,
        "config": config.to_dict(),
        "versions": _versions(),
        "timings": {r.camera: r.timing for r in results},
        "cameras": {r.camera: {"frames": r.frames, "fps": r.fps} for r in results},
        "baselines": measured,
    }, out / "run.json")
    return RecordingResult(path, out, True, events=len(events), shoppers=len(timelines), cameras=results)


def _baselines(recording: Recording, config: PipelineConfig) -> dict:
    from walkout.baselines import decode_only, ultralytics_track

    result: dict[str, dict] = {"decode_only": {}, "ultralytics_track": {}}
    for camera in recording.cameras:
        result["decode_only"][camera.id] = decode_only(camera.video)
        result["ultralytics_track"][camera.id] = ultralytics_track(
            camera.video, config.detector.model_path, config.detector.imgsz, config.detector.confidence
        )
    return result


def run_recordings(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    config: PipelineConfig | None = None,
    *,
    fail_fast: bool = False,
    baselines: bool = False,
) -> list[RecordingResult]:
    """Run the pipeline over recordings (a folder holding recordings counts as all of them)."""
    config = config or PipelineConfig()
    recordings = expand_recordings(paths)
    models = Models(config)
    out_root = Path(out_dir)
    results = []
    for path in recordings:
        try:
            results.append(process_recording(path, out_root, models, config, baselines=baselines))
        except (InputError, FormatError) as exc:
            log.error("%s", exc)
            results.append(RecordingResult(path, None, False, str(exc)))
            if fail_fast:
                break
    return results


def expand_recordings(paths: Sequence[str | Path]) -> list[Path]:
    """A path with a store.json is a recording; a folder without one holds recordings (one level)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if (path / "store.json").is_file() or not path.is_dir():
            found.append(path)
        else:
            children = sorted(p for p in path.iterdir() if (p / "store.json").is_file())
            if not children:
                found.append(path)  # reported as a bad recording by the loader
            found.extend(children)
    return found

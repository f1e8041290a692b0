"""`walkout run`: store recordings in, per-shopper cart timelines out.

Per camera: decode -> detect (ultralytics) -> track shoppers (ByteTrack) -> attach hands -> what
each hand holds -> hand visits to shelf zones -> pick/return events. Per recording: merge cameras,
build timelines, write ``events.csv``, ``timeline.json``, ``tracks/<camera>.txt``, ``tracks.csv``,
``hands.csv`` and ``run.json`` (versions, model, config, timings). Every file is written to a
temporary name and renamed into place; a failed recording is reported and the others go on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import logging
import os
import platform
import re
import shutil
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import supervision as sv

from formats.errors import FormatError
from formats.tables import (
    HAND_COLUMNS,
    REACH_COLUMNS,
    TRACK_COLUMNS,
    write_csv_atomic,
    write_events,
    write_json_atomic,
)
from vision.detector import ROLE_HAND, ROLE_HELD, ROLE_PRODUCT, ROLE_SHOPPER, Detector, empty_detections
from vision.errors import InputError
from vision.events import PickEvent, decide_events, find_reaches
from vision.hand_detector import HandDetector
from vision.hands import OWNER_KEY, HandAssociator
from vision.motion import MotionGate
from vision.products import HeldItemClassifier, held_after_reach, held_from_boxes, held_near_hands
from vision.reaching import REACHING_KEY, ReachClassifier
from vision.reid import describe, repair_identities
from vision.runtime import RUNTIMES
from vision.runtime import resolve as resolve_runtime
from vision.shoppers import ShopperMap, shoppers_table, store_shoppers
from vision.timeline import build_timelines, timelines_document
from vision.tracking import ShopperTracker
from vision.zones import ShelfZone, check_zones, zone_of_points
from walkout.config import PipelineConfig
from walkout.manifest import (
    MANIFEST_NAME,
    STATUS_DONE,
    STATUS_FAILED,
    RecordingEntry,
    config_fingerprint,
    fingerprint_file,
    load_manifest,
    output_files,
    package_versions,
    recording_inputs,
    run_lock,
    write_manifest,
)
from walkout.parallel import (
    LocalPool,
    RayEngine,
    SerialEngine,
    WorkerSetup,
    auto_workers,
    limit_threads,
    threads_per_worker,
    torch_threads,
)
from walkout.recording import Camera, Recording, load_recording

log = logging.getLogger(__name__)
RUN_VERSION = 1


@dataclass
class CameraResult:
    camera: str
    events: list[PickEvent]
    tracks: pd.DataFrame
    hands: pd.DataFrame
    frames: int
    fps: float
    timing: dict
    reaches: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(REACH_COLUMNS)))
    id_repairs: list[dict] = field(default_factory=list)
    skipped: int = 0  # idle frames: the detectors did not run on them (vision.motion)


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
        config = with_runtime(config)
        # What runs the detector: "mediapipe", "onnx" (an ONNX export) or "torch"; written in run.json.
        self.runtime = ("mediapipe" if config.detector.backend == "mediapipe" else
                        "onnx" if config.detector.model_path.endswith(".onnx") else "torch")
        if config.detector.backend == "mediapipe":
            from vision.mediapipe_hands import MediaPipeDetector

            self.detector = MediaPipeDetector(config.detector)
        else:
            self.detector = Detector(config.detector)
        hand_model = Path(config.hand_detector.model_path) if config.hand_detector.model_path else None
        self.hand_detector = (
            HandDetector(config.hand_detector)
            if hand_model is not None and hand_model.exists() and config.detector.backend != "mediapipe"
            else None
        )
        source = config.held.source
        names_items = self.hand_detector is not None and self.hand_detector.names_held_items
        if source == "hand_model" and not names_items:
            raise InputError(config.hand_detector.model_path or "hand_detector.model_path",
                             "held.source = 'hand_model' needs a hand model with held_<sku> classes")
        path = Path(config.held.classifier_path) if config.held.classifier_path else None
        has_classifier = path is not None and path.exists()
        if source == "classifier" and not has_classifier:
            raise InputError(path or "held.classifier_path", "hand-crop classifier not found (held.source = 'classifier')")
        # auto: the classifier first (measured better on the mock store than item boxes, see models/README.md).
        self.held_items = source == "hand_model" or (source == "auto" and not has_classifier and names_items)
        wants_classifier = source == "classifier" or (source == "auto" and has_classifier)
        self.classifier = HeldItemClassifier(config.held) if wants_classifier else None
        self.held_from_reaches = source == "reach"
        self.reaching = ReachClassifier(config.reaching) if config.reaching.enabled else None
        if self.held_from_reaches:
            log.info("held items: 'reach' source (every completed shelf reach counts as one unnamed item)")
        elif self.held_items:
            log.info("held items: boxes of the hand model, each given to its nearest hand")
        elif self.classifier is None:
            log.info("no hand-crop classifier: held items come from the detector's product boxes")


def with_runtime(config: PipelineConfig) -> PipelineConfig:
    """``config`` with each model path replaced by the file ``config.runtime`` runs (vision.runtime: the
    .pt itself, or its ONNX export, made now when missing or stale)."""
    if config.runtime not in RUNTIMES:
        raise InputError("config", f"[pipeline] runtime must be one of {', '.join(RUNTIMES)}, got {config.runtime!r}")

    def resolve(section, key: str, imgsz: int):
        path = getattr(section, key)
        return replace(section, **{key: str(resolve_runtime(path, config.runtime, imgsz))}) if path else section

    detector = config.detector
    if detector.backend != "mediapipe":
        detector = resolve(detector, "model_path", detector.imgsz)
    return replace(config, detector=detector,
                   hand_detector=resolve(config.hand_detector, "model_path", config.hand_detector.imgsz),
                   held=resolve(config.held, "classifier_path", config.held.imgsz),
                   reaching=resolve(config.reaching, "model_path", config.reaching.imgsz))


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
    progress: Callable[[str, int, int], None] | None = None,
) -> CameraResult:
    """Run the vision stages over one camera's video. Raises InputError for an unusable video or zones.

    ``progress(camera_id, frames_done, frames_claimed_by_header)`` is called after each batch.
    """
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
    gate = MotionGate(config.motion) if config.motion.enabled else None
    last: sv.Detections | None = None  # detections of the last frame the detectors ran on
    skipped = 0
    stages = {"decode": 0.0, "motion": 0.0, "detect": 0.0, "track": 0.0, "events": 0.0}
    track_rows: list[np.ndarray] = []
    reaching_rows: list[np.ndarray] = []
    appearance: list[np.ndarray] = []
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
            active = gate.active(frames) if gate is not None else [True] * len(frames)
            t_motion = time.perf_counter()
            stages["motion"] += t_motion - t1
            detections, last = _detect_active(models, frames, active, last)
            skipped += active.count(False)
            t2 = time.perf_counter()
            stages["detect"] += t2 - t_motion
            owned_hands = []
            tracked_boxes = []
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
                    tracked_boxes.append((offset, tracked.xyxy))
                    if config.reid.enabled:
                        appearance.append(describe(frames[offset], tracked.xyxy, config.reid))
                products = dets[dets.data["role"] == (ROLE_HELD if models.held_items else ROLE_PRODUCT)]
                owned_hands.append((frame_index, hands, products))
            t3 = time.perf_counter()
            stages["track"] += t3 - t2
            if models.reaching is not None:  # a model: its own stage, like the classifier
                probabilities = models.reaching.classify([frames[o] for o, _ in tracked_boxes],
                                                         [b for _, b in tracked_boxes])
                reaching_rows.extend(probabilities)
                t4 = time.perf_counter()
                stages["reaching"] = stages.get("reaching", 0.0) + t4 - t3
                t3 = t4
            hand_rows.append(_hand_table(frames, owned_hands, zones, models, config))
            t4 = time.perf_counter()
            # The held-item classifier is a model: its time is its own stage, not the pipeline's logic.
            stages["classify"] = stages.get("classify", 0.0) + t4 - t3
            t3 = t4
            stages["events"] += time.perf_counter() - t3
            index += len(frames)
            if progress is not None:
                progress(camera.id, index, claimed)
    finally:
        capture.release()
    if index == 0:
        raise InputError(video, "video has no decodable frames")
    if index == 1 and claimed <= 1:  # FFmpeg opens an image as a one-frame "video" without a frame count
        raise InputError(video, "a single still image, not a video")
    if claimed and index < claimed - 1:
        log.warning("%s: decoded %d frames but the header claims %d (truncated video?)", video, index, claimed)
    t4 = time.perf_counter()
    hands_table = pd.concat(hand_rows, ignore_index=True) if hand_rows else pd.DataFrame(columns=HAND_COLUMNS)
    tracks = pd.DataFrame(np.vstack(track_rows) if track_rows else np.empty((0, 7)), columns=TRACK_COLUMNS)
    tracks = tracks.astype({"frame": int, "track_id": int})
    if models.reaching is not None:
        tracks[REACHING_KEY] = np.concatenate(reaching_rows) if reaching_rows else np.empty(0)
    repairs: list[dict] = []
    if appearance:
        tracks, hands_table, repairs = _repair_identities(tracks, hands_table, np.vstack(appearance), fps, config, video,
                                                          (width, height))
    stages["track"] += time.perf_counter() - t4
    t4 = time.perf_counter()
    if models.held_from_reaches:
        hands_table = held_after_reach(hands_table, config.held.reach_min_frames)
    events, _ = decide_events(
        hands_table, zones, camera=camera.id, start_timestamp=camera.start_timestamp, fps=fps,
        planogram=planogram, config=config.events, image_size_px=(width, height),
    )
    reaches = find_reaches(hands_table, zones, camera=camera.id, start_timestamp=camera.start_timestamp, fps=fps,
                           config=config.events)
    stages["events"] += time.perf_counter() - t4
    total = time.perf_counter() - started
    timing = {"frames": index, "video_s": index / fps, "total_s": total, "stages_s": stages, "skipped": skipped}
    log.info("%s/%s: %d frames (%d idle, detectors skipped), %d shopper track(s), %d event(s), %.1f fps",
             recording.name, camera.id, index, skipped, tracks["track_id"].nunique(), len(events),
             index / max(total, 1e-9))
    return CameraResult(camera.id, events, tracks, hands_table, index, fps, timing, reaches, repairs, skipped=skipped)


def _detect_active(models: Models, frames: list[np.ndarray], active: list[bool], last: sv.Detections | None
                   ) -> tuple[list[sv.Detections], sv.Detections | None]:
    """Detections of each frame: the detectors (and the hand model) run on the active frames only, in one
    call; an idle frame (nothing moved since the last detected frame, vision.motion) gets the last
    detected frame's detections again, so the tracker sees the boxes where they stand. Returns them and
    the detections of the last detected frame (for the next batch)."""
    picked = [frame for frame, moved in zip(frames, active, strict=True) if moved]
    found = models.detector.detect(picked) if picked else []
    if picked and models.hand_detector is not None:
        found = models.hand_detector.add_hands(picked, found)
    detections, fresh = [], iter(found)
    for moved in active:
        if moved or last is None:  # the first frame of a video is always active; `last is None` is a safeguard
            last = next(fresh) if moved else empty_detections()
        detections.append(last)
    return detections, last


def _repair_identities(
    tracks: pd.DataFrame, hands: pd.DataFrame, descriptors: np.ndarray, fps: float, config: PipelineConfig, video: Path,
    image_size: tuple[int, int] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """Repair track identities by colour (vision.reid: swaps at contacts, splits, relinks): renames
    track ids in ``tracks`` and hand owners in ``hands``; also returns the repairs made, for run.json
    ({frame, renamed: [[old, new], ...]}). ``image_size`` (width, height) marks boxes cut by the border."""
    frames, ids = tracks["frame"].to_numpy(int), tracks["track_id"].to_numpy(int)
    labels, swaps = repair_identities(frames, ids, tracks[["x1", "y1", "x2", "y2"]].to_numpy(float), descriptors,
                                      fps, config.reid, image_size)
    evidence = {"swap": "colour cost {:.3f} as tracked, {:.3f} repaired",
                "split": "colours changed by {:.3f} across the cut, {:.3f} before vs after",
                "relink": "colour distance {1:.3f} to the lost track"}
    for swap in swaps:
        log.info("%s: shopper ids renamed from frame %d (%s): %s (%s)", video, swap.frame, swap.kind,
                 ", ".join(f"{a}->{b}" for a, b in swap.renamed), evidence[swap.kind].format(swap.kept, swap.repaired))
    repairs = [{"frame": s.frame, "renamed": [list(pair) for pair in s.renamed]} for s in swaps]
    if not swaps:
        return tracks, hands, repairs
    renamed = pd.DataFrame({"frame": frames, "owner": ids, "new_owner": labels})
    if len(hands):
        hands = hands.merge(renamed, on=["frame", "owner"], how="left", sort=False)
        hands["owner"] = hands.pop("new_owner").fillna(hands["owner"]).astype(int)
    return tracks.assign(track_id=labels), hands, repairs


def _pose_owners(person: np.ndarray, tracked: sv.Detections) -> np.ndarray:
    """Pose hands name their person by detection row; map that row to the person's tracker id."""
    owners = np.full(len(person), -1, dtype=int)
    if len(tracked):
        source = np.asarray(tracked.data["source"], dtype=int)
        lookup = dict(zip(source.tolist(), np.asarray(tracked.tracker_id).tolist(), strict=True))
        owners = np.array([lookup.get(int(p), -1) for p in person], dtype=int)
    return owners


def _hand_table(frames, owned_hands, zones, models: Models, config: PipelineConfig) -> pd.DataFrame:
    """One row per owned hand per frame: where it is, which zone, what it holds (HAND_COLUMNS).

    With held-item boxes (``models.held_items``) a hand holding several products gets one row per
    sku (``_hand_table_from_items``)."""
    if models.held_items:
        return _hand_table_from_items(owned_hands, zones, config)
    if models.classifier is not None:
        held = models.classifier.classify_many(frames, [hands.xyxy for _, hands, _ in owned_hands])
    else:
        held = [held_from_boxes(hands, products, config.held.hand_box_scale) for _, hands, products in owned_hands]
    rows = []
    for (frame_index, hands, _), (sku, count, confidence) in zip(owned_hands, held, strict=True):
        if not len(hands):
            continue
        rows.append(_hand_rows(frame_index, hands, zones, sku, count, confidence))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=HAND_COLUMNS)


def _hand_rows(frame_index: int, hands: sv.Detections, zones, sku, count, confidence) -> pd.DataFrame:
    """One frame's hands as rows of HAND_COLUMNS."""
    centres = hands.get_anchors_coordinates(sv.Position.CENTER)
    return pd.DataFrame({
        "frame": frame_index,
        "owner": hands.data[OWNER_KEY],
        "x": centres[:, 0],
        "y": centres[:, 1],
        "zone": zone_of_points(centres, zones),
        "sku": sku,
        "count": count,
        "sku_confidence": confidence,
    })


def _hand_table_from_items(owned_hands, zones, config: PipelineConfig) -> pd.DataFrame:
    """Hand rows from held-item boxes: a hand holding nothing is one row with count 0; a hand holding
    products is one row per sku it holds (same position and zone), with that sku's item count."""
    rows = []
    for frame_index, hands, items in owned_hands:
        if not len(hands):
            continue
        table = _hand_rows(frame_index, hands, zones, np.full(len(hands), ""), np.zeros(len(hands), dtype=int),
                           np.zeros(len(hands)))
        held = held_near_hands(hands, items, config.held.max_hand_distance)
        holding = table.iloc[held["hand"].to_numpy(int)].assign(
            sku=held["sku"].to_numpy(str), count=held["count"].to_numpy(int),
            sku_confidence=held["sku_confidence"].to_numpy(float))
        empty = table.drop(index=table.index[np.unique(held["hand"].to_numpy(int))])
        rows.append(pd.concat([empty, holding]).sort_index(kind="stable"))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=HAND_COLUMNS)


def _with_store_shopper(event: PickEvent, shopper_map: ShopperMap) -> PickEvent:
    return replace(event, shopper=shopper_map.shopper(event.camera, int(event.shopper)))


def merge_camera_events(per_camera: list[list[PickEvent]], window_s: float, *, by_shopper: bool = True) -> list[PickEvent]:
    """One pick seen by several cameras is one event (the most confident): events of other cameras
    within ``window_s`` with the same action and sku, and (``by_shopper``, store-level shoppers) the
    same shopper and shelf. Without store-level shoppers (``by_shopper=False``) the shopper ids of two
    cameras cannot be compared, and any same-sku event is taken for the same one."""
    merged: list[PickEvent] = []
    for event in sorted((e for events in per_camera for e in events), key=lambda e: -e.confidence):
        duplicate = any(
            m.camera != event.camera and m.sku == event.sku and m.action == event.action
            and abs(m.timestamp - event.timestamp) <= window_s
            and (not by_shopper or (m.shopper == event.shopper and m.shelf == event.shelf))
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
    return write_csv_atomic(mot, path, header=False)


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
    path: Path, out_root: Path, models: Models, config: PipelineConfig, *, baselines: bool = False,
    out: Path | None = None, progress: Callable[[str, int, int], None] | None = None,
) -> RecordingResult:
    """Run every camera of one recording and write its outputs under ``out_root/<folder name>/``
    (or into ``out`` when given: the run loop writes into a temporary folder and renames it).

    With ``baselines``, also time decoding alone and ultralytics' plain ``model.track()`` loop on the
    same videos and weights, in this process, for the speed ratios of ``walkout bench``.
    ``progress`` is passed to :func:`process_camera`.
    """
    recording = load_recording(path)
    if not recording.cameras:
        raise InputError(recording.path / "store.json", "no cameras: nothing for vision to run on")
    planogram = {}
    if recording.planogram is not None:
        planogram = {(s, int(p)): k for s, p, k in recording.planogram[["shelf", "plate", "sku"]].itertuples(index=False)}
    results = [process_camera(recording, camera, models, config, planogram, progress) for camera in recording.cameras]
    started = time.perf_counter()
    shopper_map = store_shoppers({r.camera: r.tracks for r in results}, {c.id: c for c in recording.cameras},
                                 {r.camera: r.fps for r in results}, config.shoppers)
    grid_s = config.shoppers.grid_s or 1.0 / max(r.fps for r in results)
    shoppers = shoppers_table(shopper_map, grid_s)
    events = merge_camera_events([[_with_store_shopper(e, shopper_map) for e in r.events] for r in results],
                                 config.merge_window_s, by_shopper=shopper_map.identity == "store")
    association_s = time.perf_counter() - started
    out = out if out is not None else out_root / recording.path.name
    for result in results:
        write_mot(result.tracks, out / "tracks" / f"{result.camera}.txt")
    tracks = pd.concat([r.tracks.assign(camera=r.camera, shopper=[shopper_map.shopper(r.camera, t) for t in
                                                                   r.tracks["track_id"].to_numpy(int)])
                        for r in results], ignore_index=True)
    hands = pd.concat([r.hands.assign(camera=r.camera) for r in results], ignore_index=True)
    reaches = pd.concat([r.reaches.assign(shopper=[shopper_map.shopper(r.camera, int(s)) for s in r.reaches["shopper"]])
                         for r in results], ignore_index=True)
    write_csv_atomic(tracks, out / "tracks.csv", float_format="%.2f")
    write_csv_atomic(hands, out / "hands.csv", float_format="%.3f")
    write_csv_atomic(reaches, out / "reaches.csv")
    write_csv_atomic(shoppers, out / "shoppers.csv", float_format="%.3f")
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
        "hand_model": config.hand_detector.model_path if models.hand_detector is not None else None,
        "classifier": config.held.classifier_path if models.classifier is not None else None,
        "reach_model": config.reaching.model_path if models.reaching is not None else None,
        "held_source": _held_source(models),
        "runtime": getattr(models, "runtime", None),
        "config": config.to_dict(),
        "versions": _versions(),
        "timings": {r.camera: r.timing for r in results},
        "cameras": {r.camera: {"frames": r.frames, "fps": r.fps, "skipped_frames": r.skipped, "id_repairs": r.id_repairs}
                    for r in results},
        "shoppers": {**shopper_map.to_dict(), "association_s": round(association_s, 4)},
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
    options: RunOptions | None = None,
    process: Callable | None = None,
    load_models: Callable | None = None,
) -> list[RecordingResult]:
    """Run the pipeline over recordings (a folder holding recordings counts as all of them).

    Resumable: recordings the manifest of ``out_dir`` lists as complete (same inputs, model and
    config) are skipped; see :func:`run_batch` for the options and the guarantees. Returns one result
    per recording attempted or skipped (those not reached after ``fail_fast`` are left out).
    """
    options = dataclasses.replace(
        options or RunOptions(), fail_fast=fail_fast or (options is not None and options.fail_fast),
        baselines=baselines or (options is not None and options.baselines),
    )
    report = run_batch(paths, out_dir, config, options, process=process, load_models=load_models)
    return [r.to_result() for r in report.recordings if r.status != STATUS_CANCELLED]


def expand_recordings(paths: Sequence[str | Path]) -> list[Path]:
    """A path with a store.json is a recording; a folder without one holds recordings (one level).
    A recording named twice (directly and through its folder) is run once."""
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
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


# --- the batch run loop: tasks, workers, manifest -------------------------------------------------

STATUS_SKIPPED = "skipped"
STATUS_CANCELLED = "cancelled"
ENGINES = ("local", "ray")
# Leftovers of an interrupted run: a recording's folder being written, or an older one being replaced.
LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)$")


class RunError(ValueError):
    """The whole run cannot go on (the models do not load, another run holds the output folder)."""


@dataclass(frozen=True)
class RunOptions:
    """How a batch runs.

    workers: 1 runs in this process; N > 1 runs N worker processes (``engine="local"``) or N Ray
        actors; 0 chooses: locally min(cores, recordings to run, memory_gb / worker_memory_gb), on
        Ray one worker per cluster CPU.
    engine: ``local`` or ``ray``; address: the Ray cluster (None starts a local instance, ``auto``
        joins the one ``ray start`` made on this machine).
    max_tasks_per_worker: a worker process is replaced after this many recordings (bounds memory).
    retries: times a recording whose worker process died is retried in a fresh worker (input
        errors are not retried: they would fail again).
    fail_fast: stop at the first failed recording; force: redo recordings the manifest has as complete.
    baselines: also time decode-only and ultralytics' ``model.track()`` (for ``walkout bench``).
    annotate: call ``walkout.annotate.annotate_recording`` on each recording's outputs.
    anonymize: the annotated pictures hide faces (PRIVACY.md); False only for a store's own secured
        review: logged, and recorded in run.json (``pictures.anonymized``) and the manifest.
    progress: tqdm bars (overall and per recording); worker_memory_gb: memory one worker needs, GB.
    """

    workers: int = 1
    engine: str = "local"
    address: str | None = None
    max_tasks_per_worker: int = 8
    retries: int = 1
    fail_fast: bool = False
    force: bool = False
    baselines: bool = False
    annotate: bool = False
    anonymize: bool = True
    progress: bool = False
    worker_memory_gb: float = 2.0


@dataclass(frozen=True)
class RecordingTask:
    """One recording to run, as sent to a worker. ``process`` / ``load_models`` default (None) to
    :func:`process_recording` and :class:`Models`, looked up when the task runs."""

    recording: Path
    name: str
    out_root: Path
    config: PipelineConfig
    baselines: bool = False
    annotate: bool = False
    process: Callable | None = None
    load_models: Callable | None = None
    anonymize: bool = True


@dataclass(frozen=True)
class TaskOutcome:
    """What a worker reports back for one recording (small: the tables stay on disk).

    outputs: files of ``OUT/<name>/`` ({relative path: {"bytes", "mtime_ns"}}); started / finished:
    Unix s; seconds: wall time; fatal: the models did not load, so no recording can run.
    """

    name: str
    ok: bool
    error: str = ""
    shoppers: int = 0
    events: int = 0
    outputs: dict = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0
    seconds: float = 0.0
    host: str = ""
    pid: int = 0
    threads: int | None = None
    versions: dict = field(default_factory=dict)
    annotated: bool = False
    warnings: tuple[str, ...] = ()
    fatal: bool = False


@dataclass
class WorkerState:
    """A worker's models, loaded on its first task and kept for the next ones; ``threads``: its
    torch/OpenCV thread limit (None: the libraries' defaults)."""

    threads: int | None = None
    models: object | None = None


def new_worker_state(threads: int | None = None) -> WorkerState:
    return WorkerState(threads)


def _load_models(state: WorkerState, task: RecordingTask) -> None:
    """Load the models once per worker. With a thread limit, detect on one blank frame first:
    ultralytics sets torch's threads to (cores - 1) when it first predicts, and the limit must win."""
    state.models = (task.load_models or Models)(task.config)
    if state.threads is not None:
        with contextlib.suppress(Exception):
            state.models.detector.detect([np.zeros((32, 32, 3), dtype=np.uint8)])
        limit_threads(state.threads)


def execute_task(
    state: WorkerState, task: RecordingTask, progress: Callable[..., None] | None = None
) -> TaskOutcome:
    """Run one recording into ``OUT/.<name>.partial-<pid>/``, annotate it if asked, then swap it in as
    ``OUT/<name>/``. Never raises for a bad recording: the error is in the outcome."""
    started, clock = time.time(), time.perf_counter()
    where = {"host": socket.gethostname(), "pid": os.getpid(), "started": started, "versions": package_versions()}

    def outcome(ok: bool, **fields) -> TaskOutcome:
        return TaskOutcome(task.name, ok, finished=time.time(), seconds=time.perf_counter() - clock,
                           threads=torch_threads(), **where, **fields)

    try:
        if state.models is None:
            _load_models(state, task)
    except Exception as exc:  # noqa: BLE001 - any failure to load is fatal for the run, said once
        return outcome(False, error=f"cannot load the models: {exc}", fatal=True)
    partial = task.out_root / f".{task.name}.partial-{os.getpid()}"
    try:
        shutil.rmtree(partial, ignore_errors=True)
        result = (task.process or process_recording)(
            task.recording, task.out_root, state.models, task.config,
            baselines=task.baselines, out=partial, progress=progress,
        )
        annotated, warnings = _annotate(task.recording, partial, task.anonymize) if task.annotate else (False, ())
        outputs = output_files(partial)
        _swap_in(partial, task.out_root / task.name)
    except (InputError, FormatError) as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a bug or a library error fails this recording only
        log.error("%s: unexpected error", task.recording, exc_info=True)
        error = f"{type(exc).__name__}: {exc}"
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    else:
        return outcome(True, shoppers=result.shoppers, events=result.events, outputs=outputs,
                       annotated=annotated, warnings=warnings)
    shutil.rmtree(partial, ignore_errors=True)
    return outcome(False, error=error)


def _swap_in(partial: Path, final: Path) -> None:
    """Rename a finished folder into place; an older one is renamed away first and deleted after.
    Owner-only files (atomic writers make them with mkstemp) get the mode ``open()`` would give, so
    a shared output folder is readable by everyone the umask allows."""
    umask = os.umask(0o022)
    os.umask(umask)
    for path in partial.rglob("*"):
        if path.is_file() and not path.stat().st_mode & 0o077:
            path.chmod(0o666 & ~umask)
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.rename(final, old)
    os.rename(partial, final)
    shutil.rmtree(old, ignore_errors=True)


def _annotate(recording: Path, run_dir: Path, anonymize: bool = True) -> tuple[bool, tuple[str, ...]]:
    """The annotation hook (another module): (made, warnings). Its failure does not fail the recording.
    Whether the pictures hide faces is recorded in run.json: ``pictures: {anonymized, files}``."""
    try:
        from walkout.annotate import annotate_recording
    except ImportError as exc:
        if exc.name != "walkout.annotate":
            raise
        return False, ("annotation skipped: walkout.annotate is not available",)
    try:
        # Anonymised is annotate_recording's default: the flag is passed only to turn it off.
        extra = {} if anonymize else {"anonymize": False}
        made = annotate_recording(Path(recording), Path(run_dir), **extra)
    except Exception as exc:  # noqa: BLE001 - the vision outputs stand without the annotation
        log.warning("%s: annotation failed: %s: %s", recording, type(exc).__name__, exc)
        return False, (f"annotation failed: {type(exc).__name__}: {exc}",)
    log.info("%s: %d annotated file(s)", recording, len(made))
    info_path = Path(run_dir) / "run.json"
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        info["pictures"] = {"anonymized": anonymize, "files": [Path(p).relative_to(run_dir).as_posix() for p in made]}
        write_json_atomic(info, info_path)
    if not anonymize:
        return True, ("pictures NOT anonymised (--no-anonymize): faces are visible",)
    return True, ()


@dataclass(frozen=True)
class RecordingReport:
    """One recording's line of a batch: ``status`` is done, skipped (complete already), failed or
    cancelled (not reached after a failure with fail_fast); ``seconds``: wall time of this attempt."""

    name: str
    recording: Path
    status: str
    out_dir: Path | None = None
    error: str = ""
    shoppers: int = 0
    events: int = 0
    seconds: float = 0.0
    attempts: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status in (STATUS_DONE, STATUS_SKIPPED)

    def to_result(self) -> RecordingResult:
        return RecordingResult(self.recording, self.out_dir if self.ok else None, self.ok, self.error,
                               events=self.events, shoppers=self.shoppers)


@dataclass(frozen=True)
class BatchReport:
    """A whole run: every recording's report, in input order, and how it ran."""

    recordings: tuple[RecordingReport, ...]
    out_dir: Path
    seconds: float
    engine: str
    workers: int

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.recordings)

    @property
    def failed(self) -> list[RecordingReport]:
        return [r for r in self.recordings if r.status == STATUS_FAILED]


def run_batch(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    config: PipelineConfig | None = None,
    options: RunOptions | None = None,
    *,
    process: Callable | None = None,
    load_models: Callable | None = None,
) -> BatchReport:
    """Run recordings into ``out_dir``: resumable, atomic, in parallel, failures reported.

    - Each recording is written into ``OUT/.<name>.partial-<pid>/`` and renamed to ``OUT/<name>/``
      when all its files are there; then its entry in ``OUT/manifest.json`` (walkout.manifest) is
      written (atomically). A run killed at any moment leaves complete folders or none; leftovers of
      an interrupted run are removed (or an older complete folder restored) by the next run.
    - Recordings whose entry says done with unchanged inputs, model and config are skipped, unless
      ``options.force``. One run at a time per output folder (a lock file).
    - A failing recording gets its error in the manifest and the report; the others go on. Raises
      RunError if the models do not load (then nothing can run).

    ``process`` / ``load_models`` replace :func:`process_recording` / :class:`Models` (tests); for
    worker processes they must be importable module-level callables.
    """
    clock = time.perf_counter()
    config = config or PipelineConfig()
    options = options or RunOptions()
    if options.engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {options.engine!r}")
    out_root = Path(out_dir)
    out_root.mkdir(parents=True, exist_ok=True)
    recordings = expand_recordings(paths)
    busy = RunError(f"{out_root}: another walkout run is writing into this folder; "
                    "wait for it to finish or choose another --out")
    with run_lock(out_root, busy):
        _tidy_leftovers(out_root)
        manifest = load_manifest(out_root)
        annotate = options.annotate and _annotation_available()
        # Pictures made with --no-anonymize are redone when anonymised ones are asked for.
        wanted = {"baselines": options.baselines, "annotate": annotate, "anonymized": annotate and options.anonymize}
        model = _model_fingerprints(config)
        config_fp = config_fingerprint(_config_payload(config))
        reports: dict[int, RecordingReport] = {}
        tasks: list[RecordingTask] = []
        plan: list[tuple[int, Path, dict[str, str]]] = []
        names: dict[str, Path] = {}
        for position, path in enumerate(recordings):
            name = path.resolve().name
            if name in names:
                error = f"{path}: another recording has the folder name {name!r} ({names[name]}); outputs would collide"
                log.error("%s", error)
                reports[position] = RecordingReport(name, path, STATUS_FAILED, error=error)
                continue
            names[name] = path
            inputs = recording_inputs(path)
            entry = manifest.recordings.get(name)
            if options.force:
                reason = "forced"
            elif entry is None:
                reason = "new"
            else:
                reason = entry.stale_because(inputs, model, config_fp, wanted, out_root / name)
            if not reason:
                log.info("%s: complete in %s, skipped", name, out_root / name)
                reports[position] = RecordingReport(name, path, STATUS_SKIPPED, out_root / name,
                                                    shoppers=entry.shoppers, events=entry.events)
                continue
            log.info("%s: to run (%s)", name, reason)
            # Absolute paths: a Ray worker on another node does not share this process's directory.
            tasks.append(RecordingTask(path.resolve(), name, out_root.resolve(), config, options.baselines, annotate,
                                       process, load_models, anonymize=options.anonymize))
            plan.append((position, path, inputs))
        engine, workers = _engine(options, len(tasks))
        log.info("%d recording(s): %d to run, %d complete already; %s engine, %d worker(s)", len(recordings),
                 len(tasks), sum(r.status == STATUS_SKIPPED for r in reports.values()), options.engine, workers)
        bars = _Bars(options.progress, [t.name for t in tasks])
        outcomes = engine.run(tasks, execute_task, bars.note) if tasks else iter(())
        try:
            for finished in outcomes:
                position, path, inputs = plan[finished.index]
                task = tasks[finished.index]
                result = finished.result
                if result is None:  # the worker died, or execute_task itself failed
                    error = finished.error.strip().splitlines()[-1] if finished.error.strip() else "worker failed"
                    result = TaskOutcome(task.name, False, error=f"{error} (attempt {finished.attempts})")
                if result.fatal:
                    raise RunError(result.error)
                entry = RecordingEntry(
                    name=task.name, recording=str(path),
                    status=STATUS_DONE if result.ok else STATUS_FAILED, error=result.error,
                    inputs=inputs, model=model, config=config_fp,
                    options={"baselines": task.baselines, "annotate": result.annotated,
                             "anonymized": result.annotated and task.anonymize},
                    versions=result.versions, outputs=result.outputs,
                    timings={"started": result.started, "finished": result.finished,
                             "seconds": round(result.seconds, 3), "attempts": finished.attempts},
                    worker={"host": result.host, "pid": result.pid, "torch_threads": result.threads},
                    shoppers=result.shoppers, events=result.events, warnings=result.warnings,
                )
                manifest = manifest.with_entry(entry)
                write_manifest(out_root, manifest)
                bars.finish(finished.index)
                status = STATUS_DONE if result.ok else STATUS_FAILED
                reports[position] = RecordingReport(
                    task.name, path, status, out_root / task.name if result.ok else None,
                    result.error, result.shoppers, result.events, result.seconds, finished.attempts, result.warnings,
                )
                if result.ok:
                    log.info("%s: done in %.1f s (%d shopper(s), %d event(s))", task.name, result.seconds,
                             result.shoppers, result.events)
                else:
                    log.error("%s: failed: %s", task.name, result.error)
                    if options.fail_fast:
                        log.warning("stopping at the first failure (fail-fast)")
                        break
        finally:
            if hasattr(outcomes, "close"):
                outcomes.close()  # stops running tasks after a fail-fast break or an abort
            bars.close()
    for position, path in enumerate(recordings):
        if position not in reports:
            reports[position] = RecordingReport(path.resolve().name, path, STATUS_CANCELLED)
    ordered = tuple(reports[position] for position in range(len(recordings)))
    return BatchReport(ordered, out_root, time.perf_counter() - clock, options.engine, workers)


def _tidy_leftovers(out_root: Path) -> None:
    """Remove what an interrupted run left (we hold the lock, so no run is writing them): partial
    folders are deleted; an older complete folder renamed away but not yet replaced is restored."""
    for child in sorted(out_root.iterdir()):
        match = LEFTOVER.match(child.name)
        if child.name.startswith(f".{MANIFEST_NAME}.") and child.name.endswith(".tmp"):
            child.unlink(missing_ok=True)
        elif match is None:
            continue
        elif match["kind"] == "old" and not (out_root / match["name"]).exists():
            os.rename(child, out_root / match["name"])
            log.warning("%s: restored from %s (a run was stopped while replacing it)", out_root / match["name"], child.name)
        else:
            shutil.rmtree(child, ignore_errors=True)
            log.info("removed %s, left by an interrupted run", child)


def _annotation_available() -> bool:
    if importlib.util.find_spec("walkout.annotate") is None:
        log.warning("--annotate: walkout.annotate is not available; recordings are not annotated")
        return False
    return True


def _held_source(models: Models) -> str:
    """Which evidence of held products this run used (``HeldConfig.source`` with ``auto`` resolved)."""
    if models.held_from_reaches:
        return "reach"
    if models.held_items:
        return "hand_model"
    return "classifier" if models.classifier is not None else "boxes"


def _model_fingerprints(config: PipelineConfig) -> dict[str, str | None]:
    """Fingerprints of the detector, hand model and classifier files (None when none is configured)."""
    paths = {"detector": config.detector.model_path, "hand_model": config.hand_detector.model_path,
             "classifier": config.held.classifier_path,
             "reach_model": config.reaching.model_path}
    return {role: fingerprint_file(Path(path)) if path else None for role, path in paths.items()}


def _config_payload(config: PipelineConfig) -> dict:
    """The config as hashed for the manifest: model paths are left out (the model files are hashed)."""
    payload = config.to_dict()
    payload["detector"].pop("model_path", None)
    payload["held"].pop("classifier_path", None)
    payload["hand_detector"].pop("model_path", None)
    payload["reaching"].pop("model_path", None)
    return payload


def _engine(options: RunOptions, n_tasks: int) -> tuple[SerialEngine | LocalPool | RayEngine, int]:
    """The engine for ``n_tasks`` recordings and its number of workers."""
    level = logging.getLogger().getEffectiveLevel()
    level = max(level, logging.WARNING) if options.progress else level
    if options.engine == "ray":  # one CPU per actor (Ray's default), so one thread each
        setup = WorkerSetup(new_worker_state, 1, threads=1, log_level=level)
        return RayEngine(setup, options.workers or None, options.address, options.max_tasks_per_worker,
                         options.retries), options.workers
    workers = options.workers or auto_workers(n_tasks, options.worker_memory_gb)
    workers = max(1, min(workers, n_tasks))
    if workers == 1:
        return SerialEngine(WorkerSetup(new_worker_state, log_level=level)), 1
    threads = threads_per_worker(workers)
    setup = WorkerSetup(new_worker_state, threads, threads=threads, log_level=level)
    return LocalPool(setup, workers, options.max_tasks_per_worker, options.retries), workers


class _Bars:
    """tqdm bars: recordings done overall, and frames of each running recording (local engines)."""

    def __init__(self, enabled: bool, names: list[str]):
        from tqdm import tqdm

        self.enabled = enabled
        self.names = names
        self.tqdm = tqdm
        self.overall = tqdm(total=len(names), desc="recordings", unit="rec", disable=not enabled, dynamic_ncols=True)
        self.running: dict[int, tuple[str, object]] = {}
        self.redirect = contextlib.ExitStack()
        if enabled:
            from tqdm.contrib.logging import logging_redirect_tqdm

            self.redirect.enter_context(logging_redirect_tqdm())

    def note(self, index: int, payload: tuple) -> None:
        if not self.enabled:
            return
        camera, done, claimed = payload
        current = self.running.get(index)
        if current is None or current[0] != camera:
            if current is not None:
                current[1].close()
            bar = self.tqdm(total=claimed or None, desc=f"{self.names[index]}/{camera}", unit="frame",
                            leave=False, dynamic_ncols=True)
            self.running[index] = current = (camera, bar)
        current[1].update(done - current[1].n)

    def finish(self, index: int) -> None:
        current = self.running.pop(index, None)
        if current is not None:
            current[1].close()
        self.overall.update(1)

    def close(self) -> None:
        for _, bar in self.running.values():
            bar.close()
        self.overall.close()
        self.redirect.close()

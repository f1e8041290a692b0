"""The vision stages of one camera: decode -> skip idle frames -> detect -> track shoppers -> attach
hands -> what each hand holds -> hand visits to shelf zones -> pick/return events (process_camera)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import pandas as pd
import supervision as sv

from formats.tables import HAND_COLUMNS, REACH_COLUMNS, TRACK_COLUMNS
from vision.detector import ROLE_HAND, ROLE_HELD, ROLE_PRODUCT, ROLE_SHOPPER, empty_detections
from vision.embedding import Embedder, sample_every, track_embeddings
from vision.errors import InputError
from vision.events import PickEvent, decide_events, find_reaches, seconds_to_frames
from vision.hands import OWNER_KEY, HandAssociator
from vision.motion import MotionGate
from vision.products import held_after_reach, held_from_boxes, held_near_hands
from vision.reaching import REACHING_KEY
from vision.reid import cut_by_border, describe, repair_identities, track_looks
from vision.tracking import EMBEDDING_KEY, LOOK_KEY, ShopperTracker
from vision.zones import ShelfZone, check_zones, zone_of_points
from walkout.config import PipelineConfig
from walkout.models import Models
from walkout.recording import Camera, Recording

log = logging.getLogger(__name__)


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
    # track id -> its look (vision.reid.track_looks): in memory only, for the store-level shoppers; never written
    looks: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    # each row of ``tracks``: its box's colour histogram (vision.reid.describe), None without the identity repair;
    # in memory only (benchmarks/rejoin.py keeps them for experiments on the join), never written
    descriptors: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CameraTables:
    """One camera's tables after its last frame, as the optional stages pass them on: tracks
    (TRACK_COLUMNS, + ``reaching``), hands (HAND_COLUMNS) and the identity repairs made (for run.json)."""

    tracks: pd.DataFrame
    hands: pd.DataFrame
    repairs: tuple[dict, ...] = ()
    looks: dict[int, np.ndarray] = field(default_factory=dict, repr=False)  # track id -> look (never written)
    descriptors: np.ndarray | None = field(default=None, repr=False)  # per tracks row (never written)


class CameraStage(Protocol):
    """An optional stage of one camera. ``name`` is its key in run.json's ``stages_s`` (its time);
    ``batch`` sees each batch of frames with the tracked shoppers ((offset in the batch, the tracker's
    sv.Detections) per frame with shoppers); ``finish`` returns the camera's tables, changed or not, after
    the last frame. A new optional model is one class here and one line in :func:`optional_stages`."""

    name: str

    def batch(self, frames: list[np.ndarray], tracked: list[tuple[int, sv.Detections]]) -> None: ...

    def finish(self, tables: CameraTables) -> CameraTables: ...


class ReachingStage:
    """The reach classifier (vision.reaching): each tracked box's probability of reaching, a
    ``reaching`` column of tracks."""

    name = "reaching"

    def __init__(self, classifier):
        self.classifier = classifier
        self.rows: list[np.ndarray] = []

    def batch(self, frames, tracked) -> None:
        self.rows.extend(self.classifier.classify([frames[o] for o, _ in tracked], [t.xyxy for _, t in tracked]))

    def finish(self, tables: CameraTables) -> CameraTables:
        tracks = tables.tracks.copy()
        tracks[REACHING_KEY] = np.concatenate(self.rows) if self.rows else np.empty(0)
        return replace(tables, tracks=tracks)


class IdentityRepairStage:
    """Identity repair by colour (vision.reid): each tracked box described in memory, then track ids
    renamed at swaps, splits and relinks (:func:`_repair_identities`), and each repaired track's look
    (its mean colours, in memory only) for joining shoppers across cameras."""

    name = "reid"

    def __init__(self, config: PipelineConfig, fps: float, video: Path, image_size: tuple[int, int],
                 embedder: Embedder | None = None):
        self.config, self.fps, self.video, self.image_size = config, fps, video, image_size
        self.appearance: list[np.ndarray] = []
        # With an appearance model (``[shoppers] look = "embedding"``), the boxes of every ``every``-th
        # frame are embedded too (rows of other frames stay zeros), for the tracks' looks.
        self.embedder, self.embedded = embedder, []
        self.every = sample_every(fps, config.shoppers.look_sample_s)
        self.frame = 0

    def batch(self, frames, tracked) -> None:
        # A tracker that weighs colours has described every box already (vision.tracking.LOOK_KEY).
        self.appearance.extend(t.data[LOOK_KEY] if LOOK_KEY in t.data else describe(frames[o], t.xyxy, self.config.reid)
                               for o, t in tracked)
        if self.embedder is not None:
            self.embedded.extend(self.embedder.embed(frames[o], t.xyxy) if (self.frame + o) % self.every == 0
                                 else np.zeros((len(t), self.embedder.dim), np.float32) for o, t in tracked)
        self.frame += len(frames)

    def finish(self, tables: CameraTables) -> CameraTables:
        if not self.appearance:
            return tables
        appearance = np.vstack(self.appearance)
        tracks, hands, repairs = _repair_identities(tables.tracks, tables.hands, appearance, self.fps,
                                                    self.config, self.video, self.image_size)
        frames, ids = tracks["frame"].to_numpy(int), tracks["track_id"].to_numpy(int)
        xyxy = tracks[["x1", "y1", "x2", "y2"]].to_numpy(float)
        if self.embedder is not None:  # repairs rename rows, never reorder them
            looks = track_embeddings(frames, ids, xyxy, np.vstack(self.embedded))
        else:
            looks = track_looks(frames, ids, xyxy, appearance)
        return CameraTables(tracks, hands, tuple(repairs), looks, appearance)


class HeldAfterReachStage:
    """``[held] source = "reach"``: a hand that stayed in a shelf zone and left holds one unnamed item
    (vision.products.held_after_reach)."""

    name = "held"

    def __init__(self, min_frames: int):
        self.min_frames = min_frames

    def batch(self, frames, tracked) -> None:
        pass

    def finish(self, tables: CameraTables) -> CameraTables:
        return replace(tables, hands=held_after_reach(tables.hands, self.min_frames))


def optional_stages(models: Models, config: PipelineConfig, fps: float, video: Path,
                    image_size: tuple[int, int], embed: bool = True) -> list[CameraStage]:
    """The optional stages this run's models and config turn on, in the order they run; ``embed``: the
    identity repair also embeds boxes for the tracks' looks when the models have an appearance model."""
    stages: list[CameraStage] = []
    if models.reaching is not None:
        stages.append(ReachingStage(models.reaching))
    if config.reid.enabled:
        # The repair embeds boxes for the tracks' looks only (the tracker's gate embeds its own boxes).
        wanted = embed and config.shoppers.look == "embedding"
        stages.append(IdentityRepairStage(config, fps, video, image_size, models.embedder if wanted else None))
    if models.held_from_reaches:
        stages.append(HeldAfterReachStage(seconds_to_frames(config.held.reach_min_s, fps)))
    return stages


class StageClock:
    """Charges the time since the previous tick to the stage named, so the stages add up to the total."""

    def __init__(self):
        self.seconds = dict.fromkeys(("decode", "motion", "detect", "track", "hands", "events"), 0.0)
        self.last = time.perf_counter()

    def tick(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self.last
        self.last = now


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
    # Embeddings are for stores (the join's looks, the tracker's gate): a recording whose cameras cannot be
    # joined computes none.
    joined = len(recording.cameras) > 1 and all(c.placed for c in recording.cameras)
    optional = optional_stages(models, config, fps, video, (width, height), embed=joined)
    last: sv.Detections | None = None  # detections of the last frame the detectors ran on
    skipped = 0
    track_rows: list[np.ndarray] = []
    hand_rows: list[pd.DataFrame] = []
    index = 0
    started = time.perf_counter()
    clock = StageClock()
    try:
        while True:
            frames = read_frames(capture, config.batch_frames)
            clock.tick("decode")
            if not frames:
                break
            active = gate.active(frames) if gate is not None else [True] * len(frames)
            clock.tick("motion")
            detections, last = _detect_active(models, frames, active, last, clock)
            skipped += active.count(False)
            owned_hands = []
            tracked_shoppers = []
            for offset, dets in enumerate(detections):
                frame_index = index + offset
                shoppers = dets[dets.data["role"] == ROLE_SHOPPER]
                shoppers.data["source"] = np.arange(len(shoppers))
                if tracker.uses_looks:  # colours in the tracker's matching (in memory only)
                    shoppers.data[LOOK_KEY] = describe(frames[offset], shoppers.xyxy, config.reid)
                if tracker.uses_embeddings and joined and models.embedder is not None and len(shoppers):
                    # the tracker's embedding gate (in memory only); a box cut by the border shows part of a person
                    embedded = models.embedder.embed(frames[offset], shoppers.xyxy)
                    embedded[cut_by_border(shoppers.xyxy, (width, height))] = 0.0
                    shoppers.data[EMBEDDING_KEY] = embedded
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
                    tracked_shoppers.append((offset, tracked))
                products = dets[dets.data["role"] == (ROLE_HELD if models.held_items else ROLE_PRODUCT)]
                owned_hands.append((frame_index, hands, products))
            clock.tick("track")
            for stage in optional:
                stage.batch(frames, tracked_shoppers)
                clock.tick(stage.name)
            held = None
            if models.classifier is not None and not models.held_items:
                held = models.classifier.classify_many(frames, [hands.xyxy for _, hands, _ in owned_hands])
                clock.tick("classify")
            hand_rows.append(_hand_table(owned_hands, zones, models, config, held))
            clock.tick("hands")  # zone lookup and the hand table (and held items from boxes)
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
    hands_table = pd.concat(hand_rows, ignore_index=True) if hand_rows else pd.DataFrame(columns=HAND_COLUMNS)
    tracks = pd.DataFrame(np.vstack(track_rows) if track_rows else np.empty((0, 7)), columns=TRACK_COLUMNS)
    tables = CameraTables(tracks.astype({"frame": int, "track_id": int}), hands_table)
    clock.tick("track")
    for stage in optional:
        tables = stage.finish(tables)
        clock.tick(stage.name)
    tracks, hands_table, repairs = tables.tracks, tables.hands, list(tables.repairs)
    events, _ = decide_events(
        hands_table, zones, camera=camera.id, start_timestamp=camera.start_timestamp, fps=fps,
        planogram=planogram, config=config.events, image_size_px=(width, height),
    )
    reaches = find_reaches(hands_table, zones, camera=camera.id, start_timestamp=camera.start_timestamp, fps=fps,
                           config=config.events)
    clock.tick("events")
    stages = clock.seconds
    total = time.perf_counter() - started
    timing = {"frames": index, "video_s": index / fps, "total_s": total, "stages_s": stages, "skipped": skipped}
    log.info("%s/%s: %d frames (%d idle, detectors skipped), %d shopper track(s), %d event(s), %.1f fps",
             recording.name, camera.id, index, skipped, tracks["track_id"].nunique(), len(events),
             index / max(total, 1e-9))
    return CameraResult(camera.id, events, tracks, hands_table, index, fps, timing, reaches, repairs, skipped=skipped,
                        looks=tables.looks, descriptors=tables.descriptors)


def _detect_active(models: Models, frames: list[np.ndarray], active: list[bool], last: sv.Detections | None,
                   clock: StageClock) -> tuple[list[sv.Detections], sv.Detections | None]:
    """Detections of each frame: the detectors (and the hand model) run on the active frames only, in one
    call; an idle frame (nothing moved since the last detected frame, vision.motion) gets the last
    detected frame's detections again, so the tracker sees the boxes where they stand. Returns them and
    the detections of the last detected frame (for the next batch). ``clock`` gets the full-frame
    detector's time as ``detect`` and the hand model's (one crop per shopper) as ``hand_model``."""
    picked = [frame for frame, moved in zip(frames, active, strict=True) if moved]
    found = models.detector.detect(picked) if picked else []
    clock.tick("detect")
    if models.hand_detector is not None:
        if picked:
            found = models.hand_detector.add_hands(picked, found)
        clock.tick("hand_model")
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


def _hand_table(owned_hands, zones, models: Models, config: PipelineConfig, held: list | None = None) -> pd.DataFrame:
    """One row per owned hand per frame: where it is, which zone, what it holds (HAND_COLUMNS).

    What a hand holds: ``held`` (the classifier's (sku, count, confidence) per frame) when given, else
    the product boxes near it. With held-item boxes (``models.held_items``) a hand holding several
    products gets one row per sku (``_hand_table_from_items``)."""
    if models.held_items:
        return _hand_table_from_items(owned_hands, zones, config)
    if held is None:
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


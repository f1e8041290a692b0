"""Shopper tracking: ByteTrack (or OC-SORT, C-BIoU) from the `trackers` package over `supervision.Detections`,
and ByteTrack whose matching also weighs each box's colours against each track's (``look_weight``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import supervision as sv
from scipy.optimize import linear_sum_assignment
from trackers import ByteTrackTracker
from trackers.core.bytetrack.tracklet import ByteTrackTracklet
from trackers.core.bytetrack.utils import _get_alive_tracklets
from trackers.utils.detections import default_confidences

from vision.events import seconds_to_frames
from vision.reid import bhattacharyya_rows, overlap_fraction

TRACKING_METHODS = ("bytetrack", "ocsort", "cbiou")
LOOK_KEY = "look"  # sv.Detections.data key of each box's colour histogram (vision.reid.describe), in memory only
# A track's look is a running mean of its boxes' colours, each new clear box weighing 1 - LOOK_MOMENTUM; a box
# that overlaps another by CLEAR_OVERLAP of the smaller box (a mixture of two people) does not change it.
LOOK_MOMENTUM = 0.9
CLEAR_OVERLAP = 0.3
# sv.Detections.data key of each box's learnt appearance embedding (vision.embedding; all zeros: none), in memory only
EMBEDDING_KEY = "embedding"


@dataclass(frozen=True)
class TrackingConfig:
    """Tracker settings. Durations are seconds so they hold at any frame rate.

    method: ``bytetrack`` (default) or ``ocsort`` (observation-centric SORT: re-updates a track lost
        behind another shopper from its own detections, and weighs direction consistency; it has no
        low-score second pass, so ``track_activation_threshold`` is unused by it) or ``cbiou``
        (C-BIoU: ByteTrack's two passes matched on boxes enlarged by a buffer, small then larger, for
        shoppers that move more between frames than their boxes overlap; it uses its own IoU
        thresholds, so ``minimum_iou_threshold`` is unused by it).
    look_weight, look_gate: colours in matching boxes to tracks (``bytetrack`` only, the other methods
        ignore them; 0 and 1: by overlap alone). Each box's colours (vision.reid.describe, in memory only)
        are compared with the track's running look: a pair's score is its IoU minus ``look_weight`` x their
        colour distance (Bhattacharyya, 0..1), and a confident box further than ``look_gate`` from a track's
        look is never matched to it (BoT-SORT's appearance gate). Pairs still need ``minimum_iou_threshold``
        of overlap. 1 and 0.7 were chosen on development stores and tested on held-out ones (their figures:
        models/README.md, docs/RESULTS.md).
    reid_gate: a learnt appearance embedding in the same gate (``bytetrack`` only; 1: off, the default): a
        box that overlaps no other (``CLEAR_OVERLAP``) and is not cut by the image border, whose embedding
        (vision.embedding, ``[shoppers] look_model``; every box, every frame; in memory only) is further than
        this ((1 - cosine) / 2) from the track's running embedding is never matched to it, in both passes:
        an id does not slide onto another shopper who walks into its box. Only in stores whose cameras can be
        joined (one-camera runs embed nothing). Off: at 0.11 it left a third fewer boxes on the wrong person
        on development stores, but the join could not put the extra pieces together (models/README.md).
    """

    method: str = "bytetrack"
    lost_track_buffer_s: float = 3.0
    track_activation_threshold: float = 0.6
    high_conf_det_threshold: float = 0.6
    minimum_iou_threshold: float = 0.1
    minimum_consecutive_s: float = 0.2
    look_weight: float = 1.0
    look_gate: float = 0.7
    reid_gate: float = 1.0

    def __post_init__(self):
        if self.method not in TRACKING_METHODS:
            raise ValueError(f"unknown tracking method {self.method!r} ({' or '.join(TRACKING_METHODS)})")
        if not self.look_weight >= 0:
            raise ValueError(f"tracking.look_weight must be >= 0, got {self.look_weight}")
        if not 0 < self.look_gate <= 1:
            raise ValueError(f"tracking.look_gate must be in (0, 1], got {self.look_gate}")
        if not 0 < self.reid_gate <= 1:
            raise ValueError(f"tracking.reid_gate must be in (0, 1], got {self.reid_gate}")

    @property
    def uses_looks(self) -> bool:
        """Whether boxes must carry their colours (``LOOK_KEY``) to be tracked."""
        return self.method == "bytetrack" and (self.look_weight > 0 or self.look_gate < 1 or self.reid_gate < 1)

    @property
    def uses_embeddings(self) -> bool:
        """Whether boxes may carry a learnt embedding (``EMBEDDING_KEY``) for the tracker's gate."""
        return self.method == "bytetrack" and self.reid_gate < 1


class ShopperTracker:
    """A fresh tracker per video (``TrackingConfig.method``). ``update`` returns the confirmed tracks of one frame."""

    def __init__(self, config: TrackingConfig, fps: float):
        from trackers import CBIoUTracker, OCSORTTracker

        self.config = config
        # trackers counts the lost buffer in 30 fps frames and rescales it by frame_rate itself.
        common = dict(
            lost_track_buffer=max(1, round(config.lost_track_buffer_s * 30)),
            frame_rate=fps,
            high_conf_det_threshold=config.high_conf_det_threshold,
            minimum_consecutive_frames=max(1, seconds_to_frames(config.minimum_consecutive_s, fps)),
        )
        if config.method == "ocsort":
            self._tracker = OCSORTTracker(minimum_iou_threshold=config.minimum_iou_threshold, **common)
        elif config.method == "cbiou":  # its own IoU thresholds, on buffered boxes
            self._tracker = CBIoUTracker(track_activation_threshold=config.track_activation_threshold, **common)
        elif config.uses_looks:
            self._tracker = LookByteTrack(config.look_weight, config.look_gate, config.reid_gate,
                                          track_activation_threshold=config.track_activation_threshold,
                                          minimum_iou_threshold=config.minimum_iou_threshold, **common)
        else:
            self._tracker = ByteTrackTracker(track_activation_threshold=config.track_activation_threshold,
                                             minimum_iou_threshold=config.minimum_iou_threshold, **common)

    @property
    def uses_looks(self) -> bool:
        """Whether ``update`` needs each box's colours in ``shoppers.data[LOOK_KEY]``."""
        return self.config.uses_looks

    @property
    def uses_embeddings(self) -> bool:
        """Whether ``update`` gates by ``shoppers.data[EMBEDDING_KEY]`` when the boxes carry it."""
        return self.config.uses_embeddings

    def update(self, shoppers: sv.Detections) -> sv.Detections:
        """shoppers: detections of one frame (with ``data[LOOK_KEY]`` when :attr:`uses_looks`). Returns
        only rows with a confirmed ``tracker_id`` (> 0)."""
        tracked = self._tracker.update(shoppers)
        if tracked.tracker_id is None or not len(tracked):
            return sv.Detections.empty()
        # trackers numbers confirmed tracks from 0 (unconfirmed: -1); ours start at 1, like MOTChallenge.
        tracked = tracked[np.asarray(tracked.tracker_id) >= 0]
        tracked.tracker_id = np.asarray(tracked.tracker_id, dtype=int) + 1
        return tracked


_REFUSED = -1e9  # a pair's score when colours rule it out


class LookByteTrack(ByteTrackTracker):
    """ByteTrack (the `trackers` package's: its Kalman tracklets, two passes, lifecycle) whose matching of boxes
    to tracks subtracts ``look_weight`` x colour distance from IoU and refuses confident pairs further apart
    than ``look_gate`` (TrackingConfig). Each track keeps a running look (``LOOK_MOMENTUM``) of its clear boxes.
    It reuses the package's internals (tracklets, timing and pruning helpers): written against the trackers
    version pinned in requirements/lock.txt; tests/vision/test_vision_tracking.py checks it behaves."""

    tracker_id = None  # not registered in the `trackers` command-line registry
    search_space: dict = {}

    def __init__(self, look_weight: float, look_gate: float, reid_gate: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.look_weight, self.look_gate, self.reid_gate = look_weight, look_gate, reid_gate

    def _match(self, tracks: list, boxes: np.ndarray, looks: np.ndarray, gate: float,
               embeddings: np.ndarray | None = None):
        """Optimal matching of ``tracks`` to ``boxes``: ([(track, box)], unmatched tracks, unmatched boxes).
        ``embeddings``: the boxes' (zeros: none), gated by ``reid_gate`` against the tracks'."""
        if not tracks or not len(boxes):
            return [], list(range(len(tracks))), list(range(len(boxes)))
        iou = self.iou.compute(np.array([t.get_state_bbox() for t in tracks]), boxes)
        track_looks = np.stack([t.look for t in tracks])
        distance = bhattacharyya_rows(track_looks[:, None, :], looks[None, :, :])
        refused = distance > gate
        if embeddings is not None:
            track_embeddings = np.stack([_unit(t.embedding, embeddings.shape[1]) for t in tracks])
            far = (1.0 - track_embeddings @ embeddings.T) / 2 > self.reid_gate
            refused |= far & track_embeddings.any(axis=1)[:, None] & embeddings.any(axis=1)[None, :]
        score = np.where(refused, _REFUSED, iou - self.look_weight * distance)
        rows, cols = linear_sum_assignment(score, maximize=True)
        matched = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)
                   if score[r, c] > _REFUSED / 2 and iou[r, c] >= self.minimum_iou_threshold]
        used_rows, used_cols = {r for r, _ in matched}, {c for _, c in matched}
        return (matched, [r for r in range(len(tracks)) if r not in used_rows],
                [c for c in range(len(boxes)) if c not in used_cols])

    def update(self, detections: sv.Detections, frame=None, timestamp=None) -> sv.Detections:
        if len(detections) and LOOK_KEY not in (detections.data or {}):
            raise ValueError(f"colour-aware tracking needs each box's colours in detections.data[{LOOK_KEY!r}]")
        timing = self._predict_timing(timestamp)
        if timing.skip_update:
            return self._detections_for_skipped_update(detections)
        self._predict_tracklets(self.tracks, timing)
        budget = self._lost_track_time_budget(timing, self.maximum_time_without_update)
        self._prune_lost_tracks(timing)
        boxes = detections.xyxy
        looks = np.asarray(detections.data[LOOK_KEY], dtype=float) if len(boxes) else np.empty((0, 1))
        confidence = default_confidences(detections)
        clear = np.ones(len(boxes), dtype=bool)
        if len(boxes) > 1:
            clear = overlap_fraction(boxes).max(axis=1) < CLEAR_OVERLAP
        embeddings = None
        if self.reid_gate < 1 and len(boxes) and EMBEDDING_KEY in detections.data:
            # Only a clear box's embedding describes one person: the others neither gate nor update.
            embeddings = np.asarray(detections.data[EMBEDDING_KEY], dtype=float) * clear[:, None]
        high = np.flatnonzero(confidence >= self.high_conf_det_threshold)
        low = np.flatnonzero(confidence < self.high_conf_det_threshold)
        indices: list[int] = []
        ids: list[int] = []

        def assign(track: ByteTrackTracklet, box: int) -> None:
            track.update(boxes[box])
            if clear[box]:
                track.look = LOOK_MOMENTUM * track.look + (1 - LOOK_MOMENTUM) * looks[box]
            if embeddings is not None and embeddings[box].any():
                before = track.embedding
                track.embedding = embeddings[box].copy() if before is None or not before.any() else \
                    LOOK_MOMENTUM * before + (1 - LOOK_MOMENTUM) * embeddings[box]
            if (track.number_of_successful_consecutive_updates >= self.minimum_consecutive_frames
                    and track.tracker_id == -1):
                track.tracker_id = self._allocate_tracker_id()
            indices.append(int(box))
            ids.append(track.tracker_id)

        # First pass: confident boxes, colours gated; second: the other boxes to the tracks left, colours not
        # gated (a partly hidden shopper's colours are a mixture). The embedding gate (clear boxes only) in both.
        matched, left, new = self._match(self.tracks, boxes[high], looks[high], self.look_gate,
                                         None if embeddings is None else embeddings[high])
        for row, col in matched:
            assign(self.tracks[row], high[col])
        remaining = [self.tracks[i] for i in left]
        matched, _, unmatched_low = self._match(remaining, boxes[low], looks[low], 1.0,
                                                None if embeddings is None else embeddings[low])
        for row, col in matched:
            assign(remaining[row], low[col])
        for col in unmatched_low:
            indices.append(int(low[col]))
            ids.append(-1)
        for col in new:
            box = int(high[col])
            indices.append(box)
            ids.append(-1)
            if confidence[box] >= self.track_activation_threshold:
                track = ByteTrackTracklet(initial_bbox=boxes[box], state_estimator_class=self.state_estimator_class)
                track.look = looks[box].copy()
                track.embedding = embeddings[box].copy() if embeddings is not None else None
                self.tracks.append(track)
        self.tracks = _get_alive_tracklets(tracklets=self.tracks,
                                           minimum_consecutive_frames=self.minimum_consecutive_frames,
                                           maximum_frames_without_update=self.maximum_frames_without_update,
                                           maximum_time_without_update=budget)
        if not indices:
            result = sv.Detections.empty()
            result.tracker_id = np.array([], dtype=int)
            return result
        result = detections[np.array(indices)]
        result.tracker_id = np.array(ids, dtype=int)
        return result


def _unit(vector: np.ndarray | None, dim: int) -> np.ndarray:
    """``vector`` made unit length; ``dim`` zeros for none (a track with no clear embedded box yet)."""
    norm = float(np.linalg.norm(vector)) if vector is not None and len(vector) == dim else 0.0
    return vector / norm if norm > 0 else np.zeros(dim)

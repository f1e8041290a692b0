"""Shopper tracking: ByteTrack (or OC-SORT) from the `trackers` package over `supervision.Detections`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import supervision as sv

from vision.events import seconds_to_frames

TRACKING_METHODS = ("bytetrack", "ocsort", "cbiou")


@dataclass(frozen=True)
class TrackingConfig:
    """Tracker settings. Durations are seconds so they hold at any frame rate.

    method: ``bytetrack`` (default) or ``ocsort`` (observation-centric SORT: re-updates a track lost
        behind another shopper from its own detections, and weighs direction consistency; it has no
        low-score second pass, so ``track_activation_threshold`` is unused by it) or ``cbiou``
        (C-BIoU: ByteTrack's two passes matched on boxes enlarged by a buffer, small then larger, for
        shoppers that move more between frames than their boxes overlap; it uses its own IoU
        thresholds, so ``minimum_iou_threshold`` is unused by it).
    """

    method: str = "bytetrack"
    lost_track_buffer_s: float = 3.0
    track_activation_threshold: float = 0.6
    high_conf_det_threshold: float = 0.6
    minimum_iou_threshold: float = 0.1
    minimum_consecutive_s: float = 0.2

    def __post_init__(self):
        if self.method not in TRACKING_METHODS:
            raise ValueError(f"unknown tracking method {self.method!r} ({' or '.join(TRACKING_METHODS)})")


class ShopperTracker:
    """A fresh tracker per video (``TrackingConfig.method``). ``update`` returns the confirmed tracks of one frame."""

    def __init__(self, config: TrackingConfig, fps: float):
        from trackers import ByteTrackTracker, CBIoUTracker, OCSORTTracker

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
        else:
            self._tracker = ByteTrackTracker(track_activation_threshold=config.track_activation_threshold,
                                             minimum_iou_threshold=config.minimum_iou_threshold, **common)

    def update(self, shoppers: sv.Detections) -> sv.Detections:
        """shoppers: detections of one frame. Returns only rows with a confirmed ``tracker_id`` (> 0)."""
        tracked = self._tracker.update(shoppers)
        if tracked.tracker_id is None or not len(tracked):
            return sv.Detections.empty()
        # trackers numbers confirmed tracks from 0 (unconfirmed: -1); ours start at 1, like MOTChallenge.
        tracked = tracked[np.asarray(tracked.tracker_id) >= 0]
        tracked.tracker_id = np.asarray(tracked.tracker_id, dtype=int) + 1
        return tracked

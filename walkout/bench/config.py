"""Settings of the benchmark: one frozen dataclass, every threshold with its unit."""

from __future__ import annotations

from dataclasses import dataclass

REPORT_VERSION = 1


@dataclass(frozen=True)
class BenchConfig:
    """Thresholds of `walkout bench`.

    tolerance_s: a predicted event matches a truth event only if their timestamps differ by at
        most this many seconds (inclusive).
    time_epsilon_s: slack added to ``tolerance_s`` so that a difference of exactly the tolerance
        survives float rounding of Unix timestamps (about 2.4e-7 s of resolution near 1.7e9).
    iou_threshold: a predicted box overlaps a truth box when IoU >= this (unitless); used both by
        the CLEAR / Identity metrics and to map predicted track ids to truth shopper ids.
    floor_radius_m: a predicted floor position (shoppers.csv) matches a truth one within this many
        metres (WILDTRACK's ground-plane scoring).
    min_visibility: ``visible_hota`` / ``visible_idf1`` score only the truth boxes at least this visible
        (MOT17 ground truth's 9th column: the share of the person not hidden and not cut off by the
        image border, 0-1); predictions on the others are left out too (MOTChallenge's ignore rule).
    """

    tolerance_s: float = 1.5
    time_epsilon_s: float = 1e-6
    iou_threshold: float = 0.5
    floor_radius_m: float = 0.5
    min_visibility: float = 0.5

    def __post_init__(self) -> None:
        if not self.tolerance_s >= 0:
            raise ValueError(f"tolerance_s must be >= 0 seconds, got {self.tolerance_s}")
        if not 0 < self.iou_threshold <= 1:
            raise ValueError(f"iou_threshold must be in (0, 1], got {self.iou_threshold}")
        if not 0 <= self.min_visibility <= 1:
            raise ValueError(f"min_visibility must be in [0, 1], got {self.min_visibility}")

"""Identity repair: undo track id swaps between shoppers who touched, by their colours.

ByteTrack associates boxes by overlap alone. When two shoppers stand together at a shelf their boxes
overlap, and the tracker can leave with the ids exchanged (each id now follows the other shopper), or
let one id slide onto the other shopper when the first is hidden. Every pick after that is billed to
the wrong person.

After a video is tracked, each tracked box has a colour descriptor (a hue x saturation histogram of
the middle of the box: the shirt, mostly). For every *contact* (two tracks whose boxes overlap, frames
merged into one episode), the appearance of both tracks just before the contact is compared with their
appearance just after it. If the exchanged pairing explains the colours better than the kept pairing,
by a margin, the two ids are swapped for the rest of the video. If only one of the two tracks goes on
after the contact and it looks like the other one, it takes the other one's id from the frame after
the other ended. A swap of two ids from one frame on never gives one id two boxes in a frame.

The comparison is relative (kept vs exchanged), so lighting, pose and background shifts that change
both pairings alike do not trigger it; the margin keeps ties as the tracker had them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ReidConfig:
    """enabled: repair id swaps at contacts (off: tracker ids as they are).

    contact_overlap: two boxes are in contact when their intersection covers this fraction of the
        smaller box. merge_gap_s: contact frames of one pair closer than this are one episode.
    window_s: appearance before / after a contact is averaged over this long.
    margin: mean Bhattacharyya distance the exchanged pairing must win by (0..1 scale).
    hue_bins, saturation_bins: the colour histogram of the box middle (``centre_fraction`` of its
        width and height).
    """

    enabled: bool = True
    contact_overlap: float = 0.3
    merge_gap_s: float = 1.0
    window_s: float = 1.0
    margin: float = 0.05
    hue_bins: int = 16
    saturation_bins: int = 4
    centre_fraction: float = 0.6

    def __post_init__(self):
        if not 0 < self.centre_fraction <= 1:
            raise ValueError(f"reid.centre_fraction must be in (0, 1], got {self.centre_fraction}")
        if self.hue_bins < 1 or self.saturation_bins < 1:
            raise ValueError("reid.hue_bins and reid.saturation_bins must be >= 1")


@dataclass(frozen=True)
class IdSwap:
    """Ids ``a`` and ``b`` exchanged from ``frame`` on (``kept`` / ``swapped``: the two pairings' costs)."""

    frame: int
    a: int
    b: int
    kept: float
    swapped: float


def describe(frame: np.ndarray, xyxy: np.ndarray, config: ReidConfig) -> np.ndarray:
    """(n, hue_bins * saturation_bins) colour histograms (each sums to 1) of the middle of each box."""
    bins = config.hue_bins * config.saturation_bins
    out = np.full((len(xyxy), bins), 1.0 / bins, dtype=np.float32)
    if not len(xyxy):
        return out
    height, width = frame.shape[:2]
    boxes = np.asarray(xyxy, dtype=float)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * config.centre_fraction / 2
    lo = np.floor(centre - half).astype(int)
    hi = np.ceil(centre + half).astype(int)
    lo = np.clip(lo, 0, [width, height])
    hi = np.clip(hi, 0, [width, height])
    for i, ((ax, ay), (bx, by)) in enumerate(zip(lo, hi, strict=True)):
        if bx <= ax or by <= ay:
            continue
        hsv = cv2.cvtColor(frame[ay:by, ax:bx], cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [config.hue_bins, config.saturation_bins], [0, 180, 0, 256])
        total = float(hist.sum())
        if total > 0:
            out[i] = hist.ravel() / total
    return out


def bhattacharyya(p: np.ndarray, q: np.ndarray) -> float:
    """Bhattacharyya distance of two histograms that sum to 1: 0 identical, 1 disjoint."""
    return float(np.sqrt(max(0.0, 1.0 - float(np.sqrt(np.clip(p, 0, None) * np.clip(q, 0, None)).sum()))))


def _overlap_fraction(boxes: np.ndarray) -> np.ndarray:
    """(n, n) intersection area over the smaller box's area (diagonal 0)."""
    x1 = np.maximum(boxes[:, None, 0], boxes[None, :, 0])
    y1 = np.maximum(boxes[:, None, 1], boxes[None, :, 1])
    x2 = np.minimum(boxes[:, None, 2], boxes[None, :, 2])
    y2 = np.minimum(boxes[:, None, 3], boxes[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    smaller = np.minimum(area[:, None], area[None, :])
    fraction = np.where(smaller > 0, inter / np.maximum(smaller, 1e-9), 0.0)
    np.fill_diagonal(fraction, 0.0)
    return fraction


def _contacts(frames: np.ndarray, ids: np.ndarray, xyxy: np.ndarray, config: ReidConfig, fps: float):
    """Contact episodes [(start, end, a, b)] sorted by start, and each row's crowding (max overlap).

    Two tracks touch in a frame when their boxes overlap (``contact_overlap``), and also in the last
    frame of one of them when the other is within one box diagonal of it: a track that ends next to
    another is where the other may have taken over its shopper."""
    crowding = np.zeros(len(frames))
    touching: list[tuple[int, int, int]] = []
    order = np.argsort(frames, kind="stable")
    bounds = np.flatnonzero(np.diff(frames[order])) + 1
    last_frame = {int(t): int(frames[ids == t].max()) for t in np.unique(ids)}
    video_end = int(frames.max())
    for rows in np.split(order, bounds):
        if len(rows) < 2:
            continue
        boxes = xyxy[rows]
        fraction = _overlap_fraction(boxes)
        crowding[rows] = fraction.max(axis=1)
        near = fraction >= config.contact_overlap
        frame = int(frames[rows[0]])
        ending = np.array([last_frame[int(t)] == frame < video_end for t in ids[rows]])
        if ending.any():
            centre = (boxes[:, :2] + boxes[:, 2:]) / 2
            diagonal = np.hypot(*(boxes[:, 2:] - boxes[:, :2]).T)
            close = np.linalg.norm(centre[:, None] - centre[None], axis=2) <= diagonal[:, None]
            near |= (ending[:, None] | ending[None, :]) & close
        for i, j in zip(*np.nonzero(np.triu(near, 1)), strict=True):
            a, b = sorted((int(ids[rows[i]]), int(ids[rows[j]])))
            touching.append((a, b, frame))
    gap = max(1, round(config.merge_gap_s * fps))
    episodes = []
    for (a, b), group in pd.DataFrame(touching, columns=["a", "b", "frame"]).groupby(["a", "b"]):
        contact = np.sort(group["frame"].to_numpy())
        breaks = np.flatnonzero(np.diff(contact) > gap) + 1
        for run in np.split(contact, breaks):
            episodes.append((int(run[0]), int(run[-1]), a, b))
    episodes.sort()
    return episodes, crowding


def _model(rows: np.ndarray, descriptors: np.ndarray, crowding: np.ndarray) -> np.ndarray | None:
    """Mean descriptor of ``rows``, weighted towards boxes that overlap no one."""
    if not len(rows):
        return None
    weight = (1.0 - np.clip(crowding[rows], 0, 1)) ** 2 + 1e-3
    return (descriptors[rows] * weight[:, None]).sum(axis=0) / weight.sum()


def repair_identities(
    frames: np.ndarray, ids: np.ndarray, xyxy: np.ndarray, descriptors: np.ndarray, fps: float, config: ReidConfig
) -> tuple[np.ndarray, list[IdSwap]]:
    """New track ids for rows (frame, id, box, descriptor) of one video, and the swaps made (module doc)."""
    frames = np.asarray(frames, dtype=int)
    labels = np.asarray(ids, dtype=int).copy()
    if not config.enabled or len(frames) == 0:
        return labels, []
    xyxy = np.asarray(xyxy, dtype=float)
    raw = labels.copy()
    episodes, crowding = _contacts(frames, raw, xyxy, config, fps)
    window = max(1, round(config.window_s * fps))
    swaps: list[IdSwap] = []
    for start, end, a, b in episodes:
        middle = (start + end) // 2

        def rows_of(track: int, lo: int, hi: int) -> np.ndarray:
            return np.flatnonzero((raw == track) & (frames >= lo) & (frames <= hi))

        before, after = {}, {}
        for track in (a, b):
            rows = rows_of(track, start - window, start - 1)
            before[track] = _model(rows if len(rows) else rows_of(track, start, middle), descriptors, crowding)
            after[track] = _model(rows_of(track, end + 1, end + window), descriptors, crowding)
        if before[a] is None or before[b] is None:
            continue
        # A track that ends within half a window of the contact did not go on: the other may have its shopper.
        going_on = [t for t in (a, b) if after[t] is not None and frames[raw == t].max() > end + window // 2]
        if len(going_on) == 2:
            kept = (bhattacharyya(before[a], after[a]) + bhattacharyya(before[b], after[b])) / 2
            swapped = (bhattacharyya(before[a], after[b]) + bhattacharyya(before[b], after[a])) / 2
            pivot = middle + 1
        elif len(going_on) == 1:
            stays = going_on[0]
            ended = b if stays == a else a
            kept = bhattacharyya(before[stays], after[stays])
            swapped = bhattacharyya(before[ended], after[stays])
            pivot = int(frames[raw == ended].max()) + 1
        else:
            continue
        if swapped >= kept - config.margin:
            continue
        # Exchange the ids these two tracks carry now (earlier swaps may have renamed them) from pivot on.
        label_a = _label_at(labels, raw, frames, a, pivot)
        label_b = _label_at(labels, raw, frames, b, pivot)
        if label_a == label_b:
            continue
        later = frames >= pivot
        is_a, is_b = later & (labels == label_a), later & (labels == label_b)
        labels[is_a], labels[is_b] = label_b, label_a
        swaps.append(IdSwap(pivot, label_a, label_b, round(kept, 3), round(swapped, 3)))
    return labels, swaps


def _label_at(labels: np.ndarray, raw: np.ndarray, frames: np.ndarray, track: int, pivot: int) -> int:
    """The id raw track ``track`` carries at its last row before ``pivot`` (or its first row after)."""
    rows = np.flatnonzero(raw == track)
    earlier = rows[frames[rows] < pivot]
    row = earlier[np.argmax(frames[earlier])] if len(earlier) else rows[np.argmin(frames[rows])]
    return int(labels[row])

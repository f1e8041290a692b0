"""Identity repair: undo track id swaps between shoppers who touched, by their colours.

ByteTrack associates boxes by overlap alone. When two shoppers stand together at a shelf their boxes
overlap, and the tracker can leave with the ids exchanged (each id now follows the other shopper), or
let one id slide onto the other shopper when the first is hidden. Every pick after that is billed to
the wrong person.

After a video is tracked, each tracked box has a colour descriptor (a hue x saturation histogram of
the middle of the box: the shirt, mostly). Tracks whose boxes overlap are in *contact*; contacts
that share a track and follow each other closely are one group (three shoppers bunched at a shelf
are one contact). Each track's appearance just before the contact says who its shopper is. Through
the contact and a window after it, every frame, each assignment of the group's tracks to those
shoppers (a permutation) costs the colour distance of each box to the shopper it is given; the
cheapest sequence of assignments, each change of assignment costing ``switch_cost``, is decoded
(Viterbi, starting from the ids as the tracker had them). Shoppers who stand together can be
exchanged by the tracker more than once, and a track that ends in the contact may have had its
shopper taken over by another: the decoded sequence gives each box back to its shopper, frame by
frame, and the last assignment holds for the rest of the video. Every assignment is a permutation
of the group's ids, so no id ever gets two boxes in a frame.

Two more mistakes meet no other track. An id can slide onto a shopper who walks past and was
never tracked on their own (the first shopper leaves or is hidden): the track's colours change for
good, so the track is split there and the rest gets a new id. And a shopper hidden for a moment
comes back under a new id: a track that starts shortly after another ended, where it ended, and
looks like it, takes the earlier id (relink). Boxes that overlap another or are cut by the image
border show a mixture or part of a shopper and count little in these comparisons.

The comparison is relative (each box against every shopper), so lighting, pose and background shifts
that change all shoppers alike do not trigger a rename; the switch cost keeps ties as the tracker had them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

FORBIDDEN = 1e6


@dataclass(frozen=True)
class ReidConfig:
    """enabled: repair identities (swaps at contacts, splits, relinks; off: tracker ids as they are).
        Off also leaves tracks without looks: store shoppers are then joined across cameras by
        position and time alone.

    contact_overlap: two boxes are in contact when their intersection covers this fraction of the
        smaller box. merge_gap_s: contacts closer in time than this (of one pair, or sharing a
        track) are one episode.
    window_s: appearance before a contact is averaged over this long; the decoding runs on this long
        after it (boxes that overlap no one there show who is who best).
    switch_cost: what one change of assignment costs in the decoding, in box-weights of colour distance
        (a box that overlaps no one weighs 1; Bhattacharyya 0..1): it takes a few clear frames of
        evidence to rename. 1.5 against 0.75 and 3.0 on 84 development and 224 held-out recordings'
        tracks (crowded IDF1 within 0.005 of each other, 1.5 best on both).
    max_decoded: a contact of more tracks decodes the ones with most boxes in it (the others keep
        their ids): the assignments of n tracks are n! states per frame.
    break_local, break_whole: a track whose colours change for good is split in two (a new id from
        the change on): the window before and the window after the change must differ by
        ``break_local``, and the whole track before and after it by ``break_whole`` (Bhattacharyya).
        A shopper's id that slid onto another shopper who walked past, never tracked on their own,
        meets no other track: only the change of colours shows it. 1.0 or more: never split.
        ``break_local`` 0.5 (0.6 until session 28): in stores a track cut in two is joined again across
        cameras when it should be, and an id that slid is left less often; on 48 development stores global
        IDF1 0.456 -> 0.464, on 16 held-out stores 0.445 -> 0.452 (fused attributed F1 0.889 -> 0.899), one-
        camera tracks the same (docs/RESULTS.md).
    break_window_s: the windows compared for a split are this long: an id sliding onto a shopper
        flickers between the two for a second or so, and 1 s windows see a mixture on one side (2 s
        against 1 s: IDF1 +0.004 / +0.005 on development / held-out dumped tracks, two shoppers and
        crowded alike or better).
    relink_gap_s, relink_distance, relink_reach: a track that starts at most ``relink_gap_s`` after
        another ended, within ``relink_reach`` box diagonals of where it ended, and looks like it
        (colour distance of the last / first window at most ``relink_distance``) continues it: the
        shopper was lost for a moment (hidden, or their id split off by a colour change above).
        relink_gap_s 0: never relink. relink_whole: the two tracks' whole colours must be this alike
        too: a track that starts as the lost shopper but turns into another one (a change the split
        above missed, in a crowd) is not the lost shopper's continuation. A shopper in a crowd can be
        hidden for seconds and reappear a step away: 5 s, 2 diagonals, 0.4 and 0.5 relinked more of
        them than 3 s, 1, 0.3 and 0.4 (crowded IDF1 +0.014 on 84 development recordings' tracks, two
        shoppers unchanged; two shoppers +0.008 on held-out tracks).
    hue_bins, saturation_bins: the colour histogram of the box middle (``centre_fraction`` of its
        width and height).
    """

    enabled: bool = True
    contact_overlap: float = 0.3
    merge_gap_s: float = 1.0
    window_s: float = 1.0
    switch_cost: float = 1.5
    max_decoded: int = 5
    break_local: float = 0.5
    break_whole: float = 0.5
    break_window_s: float = 2.0
    relink_gap_s: float = 5.0
    relink_distance: float = 0.4
    relink_reach: float = 2.0
    relink_whole: float = 0.5
    hue_bins: int = 16
    saturation_bins: int = 4
    centre_fraction: float = 0.6

    def __post_init__(self):
        if not 0 < self.centre_fraction <= 1:
            raise ValueError(f"reid.centre_fraction must be in (0, 1], got {self.centre_fraction}")
        if not 2 <= self.max_decoded <= 7:
            raise ValueError(f"reid.max_decoded must be 2..7 (n! assignments per frame), got {self.max_decoded}")
        if self.hue_bins < 1 or self.saturation_bins < 1:
            raise ValueError("reid.hue_bins and reid.saturation_bins must be >= 1")


@dataclass(frozen=True)
class IdSwap:
    """From ``frame`` on, each id ``old`` of ``renamed`` ((old, new), ...) became ``new``.

    kind ``swap`` (a contact): ``frame`` is the first frame renamed, ``renamed`` the assignment after
    the contact (empty when the ids were exchanged and given back within it); kept / repaired are the
    decoding's costs (box-weighted colour distances to the shoppers as they looked before the contact)
    with the ids as the tracker left them and as repaired.
    kind ``split``: kept / repaired are the colour change across the cut (windows) and between the
    whole track before and after it. kind ``relink``: repaired is the colour distance of the lost
    track's last window to the new track's first (kept 0)."""

    frame: int
    renamed: tuple[tuple[int, int], ...]
    kept: float
    repaired: float
    kind: str = "swap"


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
    return float(bhattacharyya_rows(p, q))


def bhattacharyya_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """:func:`bhattacharyya` over the last axis (histograms in rows)."""
    overlap = np.sqrt(np.clip(p, 0, None) * np.clip(q, 0, None)).sum(axis=-1)
    return np.sqrt(np.clip(1.0 - overlap, 0.0, None))


def track_looks(frames: np.ndarray, ids: np.ndarray, xyxy: np.ndarray, descriptors: np.ndarray) -> dict[int, np.ndarray]:
    """Each track's look: the mean of its boxes' colour histograms (rows of ``descriptors``, one per
    box), weighted towards boxes that overlap no other box of their frame. Kept in memory only, for
    telling shoppers apart across cameras (vision.shoppers); never written."""
    ids = np.asarray(ids, int)
    crowding = box_crowding(frames, xyxy)
    return {int(track): _model(np.flatnonzero(ids == track), descriptors, crowding) for track in np.unique(ids)}


def box_crowding(frames: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    """Per box, the largest share of it (or of the smaller box) another box of its frame covers."""
    frames, xyxy = np.asarray(frames, int), np.asarray(xyxy, float)
    crowding = np.zeros(len(frames))
    order = np.argsort(frames, kind="stable")
    for rows in np.split(order, np.flatnonzero(np.diff(frames[order])) + 1):
        if len(rows) > 1:
            crowding[rows] = overlap_fraction(xyxy[rows]).max(axis=1)
    return crowding


def cut_by_border(xyxy: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Per box (x1, y1, x2, y2), whether it touches the border of an image of ``image_size`` (width,
    height), within a pixel: the box shows part of a person."""
    width, height = image_size
    xyxy = np.asarray(xyxy, float)
    return (xyxy[:, 0] <= 1) | (xyxy[:, 1] <= 1) | (xyxy[:, 2] >= width - 1) | (xyxy[:, 3] >= height - 1)


def clear_weight(crowding: np.ndarray) -> np.ndarray:
    """How much a box's appearance counts: little when it overlaps another (a mixture), never zero."""
    return (1.0 - np.clip(crowding, 0, 1)) ** 2 + 1e-3


def overlap_fraction(boxes: np.ndarray) -> np.ndarray:
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


def _contacts(frames: np.ndarray, ids: np.ndarray, xyxy: np.ndarray, config: ReidConfig, last_frame: dict[int, int],
              gap: int):
    """Contact episodes [(start, end, a, b)] sorted by start, and each row's crowding (max overlap).

    Two tracks touch in a frame when their boxes overlap (``contact_overlap``), and also in the last
    frame of one of them (``last_frame``: track -> its last frame) when the other is within one box
    diagonal of it: a track that ends next to another is where the other may have taken over its
    shopper. Contacts of one pair at most ``gap`` frames apart are one episode."""
    crowding = np.zeros(len(frames))
    touching: list[tuple[int, int, int]] = []
    order = np.argsort(frames, kind="stable")
    bounds = np.flatnonzero(np.diff(frames[order])) + 1
    video_end = int(frames.max())
    for rows in np.split(order, bounds):
        if len(rows) < 2:
            continue
        boxes = xyxy[rows]
        fraction = overlap_fraction(boxes)
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
    episodes = []
    for (a, b), group in pd.DataFrame(touching, columns=["a", "b", "frame"]).groupby(["a", "b"]):
        contact = np.sort(group["frame"].to_numpy())
        breaks = np.flatnonzero(np.diff(contact) > gap) + 1
        for run in np.split(contact, breaks):
            episodes.append((int(run[0]), int(run[-1]), a, b))
    episodes.sort()
    return episodes, crowding


def contact_groups(frames: np.ndarray, ids: np.ndarray, xyxy: np.ndarray, fps: float,
                   config: ReidConfig) -> list[tuple[int, int, tuple[int, ...]]]:
    """The contacts :func:`repair_identities` decodes, for rows (frame, track id, box) of one video:
    [(first frame, last frame, tracks)] sorted by start (benchmarks/switches.py sorts the tracks' changes of
    person by them)."""
    frames, ids = np.asarray(frames, dtype=int), np.asarray(ids, dtype=int)
    if not len(frames):
        return []
    gap = max(1, round(config.merge_gap_s * fps))
    last = {int(t): int(frames[ids == t].max()) for t in np.unique(ids)}
    episodes, _ = _contacts(frames, ids, np.asarray(xyxy, dtype=float), config, last, gap)
    return _group_contacts(episodes, gap)


def _model(rows: np.ndarray, descriptors: np.ndarray, crowding: np.ndarray) -> np.ndarray | None:
    """Mean descriptor of ``rows``, weighted towards boxes that overlap no one."""
    if not len(rows):
        return None
    weight = clear_weight(crowding[rows])
    return (descriptors[rows] * weight[:, None]).sum(axis=0) / weight.sum()


def _group_contacts(episodes: list[tuple[int, int, int, int]], gap: int) -> list[tuple[int, int, tuple[int, ...]]]:
    """Pair episodes that share a track and overlap in time (within ``gap`` frames) are one group:
    [(start, end, tracks)] sorted by start. Three shoppers bunched at a shelf are one contact."""
    parent = list(range(len(episodes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (s1, e1, a1, b1) in enumerate(episodes):
        for j in range(i + 1, len(episodes)):
            s2, e2, a2, b2 = episodes[j]
            if {a1, b1} & {a2, b2} and s2 <= e1 + gap and s1 <= e2 + gap:
                parent[root(j)] = root(i)
    members: dict[int, list[int]] = {}
    for i in range(len(episodes)):
        members.setdefault(root(i), []).append(i)
    groups = []
    for rows in members.values():
        tracks = sorted({t for i in rows for t in episodes[i][2:]})
        groups.append((min(episodes[i][0] for i in rows), max(episodes[i][1] for i in rows), tuple(tracks)))
    return sorted(groups)


def repair_identities(
    frames: np.ndarray, ids: np.ndarray, xyxy: np.ndarray, descriptors: np.ndarray, fps: float, config: ReidConfig,
    image_size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, list[IdSwap]]:
    """New track ids for rows (frame, id, box, descriptor) of one video, and the swaps made (module doc).

    ``image_size`` (width, height): boxes cut by the image border show part of a shopper, so they
    count as little as crowded ones when a track's colours are compared along it (splits, relinks)."""
    frames = np.asarray(frames, dtype=int)
    labels = np.asarray(ids, dtype=int).copy()
    if not config.enabled or len(frames) == 0:
        return labels, []
    xyxy = np.asarray(xyxy, dtype=float)
    window = max(1, round(config.window_s * fps))
    gap = max(1, round(config.merge_gap_s * fps))
    raw = labels.copy()
    last = {int(t): int(frames[raw == t].max()) for t in np.unique(raw)}
    episodes, crowding = _contacts(frames, raw, xyxy, config, last, gap)
    swaps: list[IdSwap] = []

    def rows_of(track: int, lo: int, hi: int) -> np.ndarray:
        return np.flatnonzero((raw == track) & (frames >= lo) & (frames <= hi))

    for start, end, tracks in _group_contacts(episodes, gap):
        middle = (start + end) // 2
        before = {}
        for track in tracks:
            rows = rows_of(track, start - window, start - 1)
            before[track] = _model(rows if len(rows) else rows_of(track, start, middle), descriptors, crowding)
        known = [t for t in tracks if before[t] is not None]
        if len(known) > config.max_decoded:  # permutations grow as n!: decode the tracks most in the contact
            busy = {t: len(rows_of(t, start, end)) for t in known}
            known = sorted(sorted(known, key=lambda t: -busy[t])[:config.max_decoded])
        if len(known) >= 2:
            rows = [rows_of(t, start, end + window) for t in known]  # the contact and a window after it
            swap = _decode_contact(labels, raw, frames, descriptors, crowding, known, rows, before, start,
                                   end + window, config.switch_cost)
            if swap is not None:
                swaps.append(swap)
    unclear = crowding
    if image_size is not None:
        unclear = np.where(cut_by_border(xyxy, image_size), 1.0, crowding)
    labels, splits = _split_at_breaks(frames, labels, descriptors, unclear,
                                      max(1, round(config.break_window_s * fps)), config)
    labels, relinked = _relink(frames, labels, xyxy, descriptors, unclear, window, fps, config)
    return labels, swaps + splits + relinked


def _relink(frames: np.ndarray, labels: np.ndarray, xyxy: np.ndarray, descriptors: np.ndarray, crowding: np.ndarray,
            window: int, fps: float, config: ReidConfig) -> tuple[np.ndarray, list[IdSwap]]:
    """Give a track that continues one that ended shortly before, nearby and alike, the earlier id
    (``relink_*``). One optimal matching of ends to starts; chains (a -> b -> c) follow."""
    gap = round(config.relink_gap_s * fps)
    if gap <= 0:
        return labels, []
    tracks = np.unique(labels)
    rows = {int(t): np.flatnonzero(labels == t) for t in tracks}
    first = {t: r[np.argmin(frames[r])] for t, r in rows.items()}
    last = {t: r[np.argmax(frames[r])] for t, r in rows.items()}
    video_start = int(frames.min())
    ends = [t for t in rows if int(frames[last[t]]) < int(frames.max())]
    starts = [t for t in rows if int(frames[first[t]]) > video_start]
    if not ends or not starts:
        return labels, []

    ordered = {t: r[np.argsort(frames[r], kind="stable")] for t, r in rows.items()}
    last_window = {t: _model(ordered[t][-window:], descriptors, crowding) for t in ends}
    first_window = {t: _model(ordered[t][:window], descriptors, crowding) for t in starts}
    whole = {t: _model(rows[t], descriptors, crowding) for t in {*ends, *starts}}

    def centre_diagonal(row: int) -> tuple[np.ndarray, float]:
        box = xyxy[row]
        return (box[:2] + box[2:]) / 2, float(np.hypot(*(box[2:] - box[:2])))

    cost = np.full((len(ends), len(starts)), FORBIDDEN)
    for i, a in enumerate(ends):
        end_frame = int(frames[last[a]])
        a_centre, a_diagonal = centre_diagonal(last[a])
        for j, b in enumerate(starts):
            start_frame = int(frames[first[b]])
            if not end_frame < start_frame <= end_frame + gap:
                continue
            b_centre, _ = centre_diagonal(first[b])
            if np.linalg.norm(b_centre - a_centre) > config.relink_reach * a_diagonal:
                continue
            distance = bhattacharyya(last_window[a], first_window[b])
            if distance <= config.relink_distance and bhattacharyya(whole[a], whole[b]) <= config.relink_whole:
                cost[i, j] = distance
    pre, post = linear_sum_assignment(cost)
    links = {starts[j]: ends[i] for i, j in zip(pre, post, strict=True) if cost[i, j] < FORBIDDEN}
    labels = labels.copy()
    relinked = []
    for b in sorted(links, key=lambda t: frames[first[t]]):
        a = links[b]
        new = int(labels[rows[a][0]])  # a may itself have been relinked to an earlier track
        labels[rows[b]] = new
        distance = round(float(cost[ends.index(a), starts.index(b)]), 3)
        relinked.append(IdSwap(int(frames[first[b]]), ((b, new),), 0.0, distance, "relink"))
    return labels, relinked


def _split_at_breaks(frames: np.ndarray, labels: np.ndarray, descriptors: np.ndarray, crowding: np.ndarray,
                     window: int, config: ReidConfig) -> tuple[np.ndarray, list[IdSwap]]:
    """Split tracks whose colours change for good (``break_local`` / ``break_whole``): the rows from the
    change on get a new id. Boxes overlapping another count little (their colours are a mixture, as
    in :func:`_model`). Returns the new ids and one IdSwap (old -> new) per split."""
    labels = labels.copy()
    splits: list[IdSwap] = []
    next_id = int(labels.max()) + 1
    weight = clear_weight(crowding)
    pending = [np.flatnonzero(labels == t) for t in np.unique(labels)]
    while pending:
        rows = pending.pop()
        rows = rows[np.argsort(frames[rows], kind="stable")]
        if len(rows) < 2 * window:
            continue
        mass = np.concatenate([[0.0], np.cumsum(weight[rows])])
        total = np.vstack([np.zeros(descriptors.shape[1]), np.cumsum(descriptors[rows] * weight[rows, None], axis=0)])
        cuts = np.arange(window, len(rows) - window + 1)
        before = (total[cuts] - total[cuts - window]) / (mass[cuts] - mass[cuts - window])[:, None]
        after = (total[cuts + window] - total[cuts]) / (mass[cuts + window] - mass[cuts])[:, None]
        local = bhattacharyya_rows(before, after)
        # Both windows must show the shopper clearly (a quarter of their boxes' worth at least).
        clear = np.minimum(mass[cuts] - mass[cuts - window], mass[cuts + window] - mass[cuts]) >= window / 4
        local = np.where(clear, local, 0.0)
        best = int(np.argmax(local))
        cut = int(cuts[best])
        whole = bhattacharyya(total[cut] / mass[cut], (total[-1] - total[cut]) / (mass[-1] - mass[cut]))
        if local[best] < config.break_local or whole < config.break_whole:
            continue
        old = int(labels[rows[0]])
        labels[rows[cut:]] = next_id
        splits.append(IdSwap(int(frames[rows[cut]]), ((old, next_id),), round(float(local[best]), 3),
                             round(whole, 3), "split"))
        next_id += 1
        pending += [rows[:cut], rows[cut:]]
    return labels, splits


def _decode_contact(labels: np.ndarray, raw: np.ndarray, frames: np.ndarray, descriptors: np.ndarray,
                    crowding: np.ndarray, known: list[int], group_rows: list[np.ndarray], before: dict, lo: int,
                    hi: int, switch_cost: float) -> IdSwap | None:
    """Who is who, frame by frame, through one contact ([lo, hi]: the contact and a window after it;
    ``group_rows``: each of ``known``'s rows there): the sequence of assignments (tracks -> shoppers as
    they looked before the contact) that best explains the boxes' colours (weighted towards boxes that
    overlap no one), each change of assignment costing ``switch_cost``. Renames ``labels`` in place (the contact's rows frame by frame, later rows by the
    last assignment); None when the tracker's ids stand throughout."""
    perms = np.array(list(itertools.permutations(range(len(known)))))  # perms[0]: as tracked
    span = hi - lo + 1
    emit = np.zeros((span, len(perms)))  # per frame and assignment: weighted colour distances
    for k, rows in enumerate(group_rows):
        if not len(rows):
            continue
        weight = clear_weight(crowding[rows])
        dist = np.stack([bhattacharyya_rows(descriptors[rows], before[t][None]) for t in known], axis=1)
        for n, perm in enumerate(perms):
            np.add.at(emit[:, n], frames[rows] - lo, dist[:, perm[k]] * weight)
    cost = np.full(len(perms), switch_cost)
    cost[0] = 0.0
    back = np.zeros((span, len(perms)), dtype=int)
    for f in range(span):
        move = cost.min() + switch_cost
        back[f] = np.where(cost <= move, np.arange(len(perms)), int(np.argmin(cost)))
        cost = np.minimum(cost, move) + emit[f]
    path = np.zeros(span, dtype=int)
    path[-1] = int(np.argmin(cost))
    for f in range(span - 1, 0, -1):
        path[f - 1] = back[f, path[f]]
    if not path.any():
        return None
    # Ids the tracks carry as the contact starts (earlier repairs may have renamed them).
    now = np.array([_label_at(labels, raw, frames, t, lo) for t in known])
    if len(set(now.tolist())) < len(now):
        return None
    for k, rows in enumerate(group_rows):
        labels[rows] = now[perms[path[frames[rows] - lo], k]]
    rename = {int(now[k]): int(now[perms[path[-1], k]]) for k in range(len(known))}
    later = np.flatnonzero(frames > hi)
    labels[later] = [rename.get(int(v), int(v)) for v in labels[later]]
    kept = float(emit[:, 0].sum())
    repaired = float(emit[np.arange(span), path].sum() + switch_cost * np.count_nonzero(np.diff(path)))
    changed = tuple(sorted((a, b) for a, b in rename.items() if a != b))
    return IdSwap(lo + int(np.flatnonzero(path)[0]), changed, round(kept, 3), round(repaired, 3))


def _label_at(labels: np.ndarray, raw: np.ndarray, frames: np.ndarray, track: int, pivot: int) -> int:
    """The id raw track ``track`` carries at its last row before ``pivot`` (or its first row after)."""
    rows = np.flatnonzero(raw == track)
    earlier = rows[frames[rows] < pivot]
    row = earlier[np.argmax(frames[earlier])] if len(earlier) else rows[np.argmin(frames[rows])]
    return int(labels[row])

"""Settled weight changes on shelves: a weight log -> :class:`WeightEvent` records.

Per plate (vectorised over its samples): a rolling median kills short spikes; windows of
``settle_s`` whose standard deviation is within a noise-relative bound are *quiet*; samples covered
by quiet windows form stable segments; the level at the end of one stable segment is compared with
the level at the start of the next. A difference larger than both ``min_delta_g`` and
``delta_noise_k`` times the plate's own noise is a plate change. Slow drift never shows as a step
between neighbouring segments; a hand pressing or vibration on a neighbouring plate makes the plate
unstable for a while but returns it to the same level. Shoppers at one plate within a second leave
it no time to settle, yet its level holds for a moment between two hands: such a brief plateau
splits the change when the steps go both ways (a pick and a return, whose sum would hide both).

Per shelf: plate changes that overlap in time on adjacent plates (or plates of one product) are one
event whose delta is their sum, so a product spanning plates, or a hand shifting weight to the next
plate, gives one event. A group with both a real gain and a real loss (``split_min_g``) is a pick
and a return side by side: two events, even when they cancel (then only on different plates, each
at least ``cancel_split_g``); each side is linked again on its own, so picks chained only through a
return between them stay apart. Otherwise a group whose summed delta
is below ``min_delta_g`` (weight only shifted between plates) is dropped.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
from scipy.ndimage import median_filter

from formats.weight_events import WeightEvent
from fusion.weights import WeightLog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeightEventConfig:
    """Thresholds of weight-event detection (units in the names).

    spike_s: rolling-median length; shorter spikes (a tap, a sensor glitch) vanish.
    settle_s: a plate is stable when the readings of a window this long stay within the quiet bound.
    noise_g: floor of the quiet bound (load cells with quantised, near-silent output).
    quiet_noise_k: quiet bound = max(noise_g, quiet_noise_k x the plate's typical window std).
    level_s: the level of a stable segment's end/start is the median over this long.
    min_delta_g: smallest change reported, per plate and per event (the absolute floor).
    delta_noise_k: a plate change must also exceed this many times the plate's typical window std.
    merge_gap_s: plate changes whose unstable intervals are this close are one hand movement.
    adjacent_plates: plates this far apart (in plate numbers) on one shelf can be merged.
    split_min_g: merged changes whose gains and losses both exceed this (and twice the threshold)
        are a pick and a return side by side: two events, not a hand leaning on the next plate.
    cancel_split_g: a gain and a loss on different plates that cancel out are a return and a pick
        (two events) only when each is at least this heavy; lighter, it is an item nudged between plates.
    max_gap_s: a pause between readings longer than this breaks a stable segment.
    plateau_s, plateau_min_g, plateau_spread: several shoppers at one plate within a second leave it
        no time to settle between them, but its level holds for a moment between two hands: a
        stretch of ``plateau_s`` inside an unstable interval whose spread (std) is at most
        ``plateau_spread`` x its distance to the level before and to the level after, both at least
        ``plateau_min_g`` (and the change threshold), splits the change there when the steps go both
        ways (a return and a pick: their sum would hide both). Steps all one way stay one change
        (shared among the shoppers there, see reconcile). 0 plateau_s: never.
    """

    spike_s: float = 0.3
    settle_s: float = 0.5
    noise_g: float = 2.0
    quiet_noise_k: float = 3.0
    level_s: float = 0.5
    min_delta_g: float = 10.0
    delta_noise_k: float = 6.0
    merge_gap_s: float = 1.0
    adjacent_plates: int = 1
    split_min_g: float = 25.0
    cancel_split_g: float = 40.0
    max_gap_s: float = 1.0
    plateau_s: float = 0.2
    """a level held this long inside an unstable interval splits a change made both ways (a return
    and a pick by two hands) there; 0: never (see the class docstring)"""
    plateau_min_g: float = 40.0
    """such a level must differ by at least this from the levels before and after it"""
    plateau_spread: float = 0.05
    """such a level's spread (std) is at most this times its distance to the levels before and after"""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PlateChange:
    """A settled change of one plate: level after minus level before (grams) over an unstable interval."""

    shelf: str
    plate: int
    start_s: float
    end_s: float
    delta_g: float
    noise_g: float
    threshold_g: float
    chained: bool = False  # one of several changes of this plate split at brief plateaus (kept apart)
    steps: tuple[tuple[float, float], ...] = ()  # (lift time, grams) of each hand's step within it


def _window_std(values: np.ndarray, width: int) -> np.ndarray:
    """Std of every window ``values[j:j + width]``: shape (N - width + 1,), via cumulative sums."""
    centred = values - np.median(values)
    c1 = np.concatenate(([0.0], np.cumsum(centred)))
    c2 = np.concatenate(([0.0], np.cumsum(centred * centred)))
    s1 = c1[width:] - c1[:-width]
    s2 = c2[width:] - c2[:-width]
    var = s2 / width - (s1 / width) ** 2
    return np.sqrt(np.maximum(var, 0.0))


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (exclusive) indices of the True runs of a boolean array (N,)."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.diff(padded)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def plate_changes(
    shelf: str, plate: int, timestamps: np.ndarray, grams: np.ndarray, config: WeightEventConfig
) -> list[PlateChange]:
    """Settled changes of one plate. timestamps (N,) Unix s increasing; grams (N,) raw readings."""
    n = len(timestamps)
    if n < 4:
        return []
    period_s = float(np.median(np.diff(timestamps)))
    if not period_s > 0:
        return []
    spike = max(1, int(round(config.spike_s / period_s))) | 1
    width = max(2, int(round(config.settle_s / period_s)))
    level_n = max(1, int(round(config.level_s / period_s)))
    if n < width + 1:
        return []
    smooth = median_filter(grams, size=spike, mode="nearest") if spike > 1 else grams
    std = _window_std(smooth, width)
    plate_noise = float(np.median(std))
    quiet_bound = max(config.noise_g, config.quiet_noise_k * plate_noise)
    quiet = std <= quiet_bound
    gaps = np.diff(timestamps) > config.max_gap_s
    if gaps.any():
        # A window containing a gap is never quiet: gap index k lies between samples k and k+1.
        c = np.concatenate(([0], np.cumsum(gaps)))
        quiet &= (c[width - 1:] - c[: len(c) - width + 1]) == 0
    # Runs of quiet window starts are stable segments; segment k covers samples [a_k, b_k - 1 + width).
    # (Dilating to samples would bridge a step shorter than a window: it must stay a break.)
    seg_start, seg_stop = _runs(quiet)
    seg_stop = seg_stop - 1 + width
    if len(seg_start) < 2:
        return []
    threshold = max(config.min_delta_g, config.delta_noise_k * plate_noise)
    changes: list[PlateChange] = []
    prev_stop = int(seg_stop[0])
    prev_level = float(np.median(smooth[max(int(seg_start[0]), prev_stop - level_n): prev_stop]))
    short = max(2, int(round(config.plateau_s / period_s))) if config.plateau_s > 0 else 0
    short_std = _window_std(smooth, short) if short and n > short else None
    for a, b in zip(seg_start[1:].tolist(), seg_stop[1:].tolist(), strict=True):
        level_in = float(np.median(smooth[a: min(b, a + level_n)]))
        # Levels in order: (held from, held until, grams); the change between two is their difference.
        levels = [(float("nan"), float(timestamps[min(prev_stop - 1, a)]), prev_level)]
        if short_std is not None:
            levels += _plateaus(smooth, timestamps, short_std, prev_stop, a, short, prev_level, level_in,
                                max(threshold, config.plateau_min_g), config.plateau_spread)
        levels.append((float(timestamps[a]), float("nan"), level_in))
        steps = [(_lift_time(timestamps, smooth, t0, t1), after - before)
                 for (_, t0, before), (t1, _, after) in zip(levels[:-1], levels[1:], strict=True)]
        signs = {np.sign(delta) for _, delta in steps}
        if len(signs) < 2:  # steps all one way (one shopper taking twice, or a slow grab): one change, as before
            levels = [levels[0], levels[-1]]
        chained = len(levels) > 2
        for (_, t0, before), (t1, _, after) in zip(levels[:-1], levels[1:], strict=True):
            delta = after - before
            if abs(delta) >= threshold:
                own = [(t, g) for t, g in steps if t0 <= t <= t1] if chained else steps
                changes.append(PlateChange(shelf, plate, t0, t1, delta, plate_noise, threshold, chained,
                                           tuple((round(t, 3), round(g, 3)) for t, g in own)))
        # Compare neighbouring segments only, so slow drift never accumulates into a step.
        prev_stop = b
        prev_level = float(np.median(smooth[max(a, b - level_n): b]))
    return changes


def _lift_time(timestamps: np.ndarray, smooth: np.ndarray, t0: float, t1: float) -> float:
    """The steepest moment of the smoothed signal between two held levels (t0, t1): when the item
    left the plate (or met it), not when the hand began to press."""
    i0, i1 = np.searchsorted(timestamps, [t0, t1])
    i1 = min(int(i1), len(timestamps) - 1)
    if i1 - int(i0) < 1:
        return float(timestamps[i1])
    k = int(i0) + int(np.argmax(np.abs(np.diff(smooth[i0: i1 + 1]))))
    return float(timestamps[k + 1])


def _plateaus(smooth: np.ndarray, timestamps: np.ndarray, short_std: np.ndarray, lo: int, hi: int, short: int,
              before: float, after: float, min_step: float, spread: float) -> list[tuple[float, float, float]]:
    """Brief levels held inside the unstable samples [lo, hi): [(from, until, grams)] in time order, each
    at least ``min_step`` from the level before it and from ``after``, with a spread (std over
    ``short`` samples) of at most ``spread`` x those distances."""
    found: list[tuple[float, float, float]] = []
    j = lo
    while j + short <= hi:
        level = float(np.median(smooth[j: j + short]))
        step_in, step_out = abs(level - before), abs(after - level)
        if min(step_in, step_out) >= min_step and short_std[j] <= spread * min(step_in, step_out):
            start = j
            j += short
            while j + short <= hi and abs(float(np.median(smooth[j: j + short])) - level) < min_step:
                j += 1  # the rest of this plateau
            found.append((float(timestamps[start]), float(timestamps[min(j + short // 2, hi - 1)]), level))
            before = level
            continue
        j += 1
    return found


def detect_plate_changes(weights: WeightLog, config: WeightEventConfig | None = None) -> list[PlateChange]:
    """Settled changes of every plate of a log, plate by plate (memory: one plate at a time)."""
    config = config or WeightEventConfig()
    changes: list[PlateChange] = []
    for shelf, plate, t, g in weights.plates():
        changes.extend(plate_changes(shelf, plate, t, g, config))
    return changes


def _find(parent: list[int], i: int) -> int:
    """Union-find root of ``i`` (with path halving)."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _linked(changes: list[PlateChange], config: WeightEventConfig,
            sku_of: dict[tuple[str, int], str]) -> list[list[PlateChange]]:
    """Plate changes of one shelf grouped: linked when their unstable intervals are within
    ``merge_gap_s`` on adjacent plates (or plates of one product); groups in order of their first."""
    items = sorted(changes, key=lambda c: (c.start_s, c.plate))
    parent = list(range(len(items)))
    for i, a in enumerate(items):
        for j in range(i + 1, len(items)):
            b = items[j]
            if b.start_s > a.end_s + config.merge_gap_s:
                break
            if b.end_s < a.start_s - config.merge_gap_s:
                continue
            if a.plate == b.plate and a.chained and b.chained:
                continue  # one plate's changes split at a plateau: separate hands
            near = abs(a.plate - b.plate) <= config.adjacent_plates
            product = sku_of.get((a.shelf, a.plate))
            if near or (product is not None and product == sku_of.get((b.shelf, b.plate))):
                parent[_find(parent, j)] = _find(parent, i)
    groups: dict[int, list[PlateChange]] = {}
    for i in range(len(items)):
        groups.setdefault(_find(parent, i), []).append(items[i])
    return list(groups.values())


def group_changes(
    changes: list[PlateChange],
    config: WeightEventConfig | None = None,
    planogram: pd.DataFrame | None = None,
) -> list[WeightEvent]:
    """Merge plate changes of one shelf that overlap in time on adjacent plates (or one product's plates)."""
    config = config or WeightEventConfig()
    sku_of: dict[tuple[str, int], str] = {}
    if planogram is not None:
        sku_of = {
            (str(s), int(p)): str(k)
            for s, p, k in zip(planogram["shelf"], planogram["plate"], planogram["sku"], strict=True)
        }
    events: list[WeightEvent] = []
    by_shelf: dict[str, list[PlateChange]] = {}
    for change in changes:
        by_shelf.setdefault(change.shelf, []).append(change)
    for shelf in sorted(by_shelf):
        parts: list[list[PlateChange]] = []
        for members in _linked(by_shelf[shelf], config, sku_of):
            threshold = max(config.min_delta_g, max(c.threshold_g for c in members))
            gained = [c for c in members if c.delta_g > 0]
            lost = [c for c in members if c.delta_g < 0]
            split_g = max(config.split_min_g, 2.0 * threshold)
            total = float(sum(c.delta_g for c in members))
            cancelling = abs(total) < threshold
            if cancelling:
                # Cancelling: a return and a pick side by side only if on different plates and heavy
                # enough (one shopper puts a box back as another takes one next to it); otherwise a
                # press that came back, or an item nudged between plates.
                split_g = max(split_g, config.cancel_split_g)
                if {c.plate for c in gained} & {c.plate for c in lost}:
                    split_g = float("inf")
            if sum(c.delta_g for c in gained) >= split_g and -sum(c.delta_g for c in lost) >= split_g:
                # Both a real gain and a real loss: a pick and a return side by side, not a lean.
                # Each side is linked again on its own: picks chained only through a return between
                # them (crowded shelves) are separate changes.
                parts.extend([*_linked(gained, config, sku_of), *_linked(lost, config, sku_of)])
                continue
            if cancelling:
                log.debug("dropped %s plates %s: net %.1f g (weight moved between plates)", shelf,
                          [c.plate for c in members], total)
                continue
            parts.append(members)
        for members in parts:
            total = float(sum(c.delta_g for c in members))
            threshold = max(config.min_delta_g, max(c.threshold_g for c in members))
            per_plate: dict[int, float] = {}
            for c in members:
                per_plate[c.plate] = per_plate.get(c.plate, 0.0) + c.delta_g
            plates = tuple(sorted(per_plate))
            events.append(
                WeightEvent(
                    id="",
                    shelf=shelf,
                    plates=plates,
                    start=min(c.start_s for c in members),
                    end=max(c.end_s for c in members),
                    delta_g=round(total, 3),
                    plate_deltas_g=tuple(round(per_plate[p], 3) for p in plates),
                    confidence=round(abs(total) / (abs(total) + threshold), 4),
                    steps=tuple(sorted(step for c in members for step in c.steps)),
                )
            )
    events.sort(key=lambda e: (e.start, e.shelf, e.plates))
    return [replace(e, id=f"w{i + 1:04d}") for i, e in enumerate(events)]


def detect_weight_events(
    weights: WeightLog, config: WeightEventConfig | None = None, planogram: pd.DataFrame | None = None
) -> list[WeightEvent]:
    """A weight log -> settled weight events per shelf, sorted by start time, ids ``w0001``, ``w0002``, ..."""
    config = config or WeightEventConfig()
    events = group_changes(detect_plate_changes(weights, config), config, planogram)
    log.info("%d weight event(s) from %d plates", len(events), len(weights.bounds))
    return events

"""Store-level shoppers: one id per shopper per visit across every camera, from floor positions.

Each camera's tracks become tracklets on the store floor: with a calibration, where the top of the
box (the head, seen from the ceiling over shelves and other shoppers) meets ``head_height_m``; with a
floor homography only, the box's foot point. Tracklets are then joined into shoppers by a greedy
correlation clustering of the association model's evidence:

- every pair of tracklets that could be one person is scored by the association model
  (:mod:`vision.association`, fitted on mock-store truth): pairs seen at the same time by two cameras
  by how far apart they are on the floor, pairs one after the other by the gap, the step and the
  speed it needs. A pair's evidence is its log-odds of one person less those of the model's link
  threshold for its kind (fitted with the model, out of fold, for the best association): positive
  above the threshold, negative below it for pairs seen together (two people), never negative for
  pairs one after the other (an unlikely continuation says nothing against one person who went on
  in another tracklet);
- two tracklets of one camera that overlap in time, and two seen at the same time that the model
  calls different people (P(same) below its apart threshold), must stay apart; except one camera's two
  tracks seen together only briefly, at one place (``handover_s``, ``handover_m``): the camera's tracker
  began a new track on a person before it let the old one go, and that pair is scored like any other;
- the two shoppers whose tracklets' summed evidence is largest are joined while it is positive, then
  single tracklets move to the shopper their evidence favours. Every pair counts, so one confident
  link cannot chain two people together when their other pairs say otherwise (the first model-based
  design took links most probable first, one at a time: more wrong joins, docs/RESULTS.md).

``model = "rules"`` uses the first design's thresholds instead (``link_m``, ``apart_m``,
``max_gap_s``), kept as the baseline the model is measured against.

Appearance bridges what position cannot: each tracklet may carry its track's look (``[shoppers] look``:
mean colours, vision.reid.track_looks, or a mean learnt embedding, vision.embedding), and every pair the
model scores also gets the distance of the two looks, so a shopper out of every view for seconds is
picked out from the others by their appearance when they come back, while two shoppers dressed alike
are still told apart by where they are.
Looks live in memory during a run only: nothing that describes a person's look is written.

A one-camera recording keeps its track ids as shoppers (as before; a placed camera still gets its
shoppers' floor positions). Several cameras not all placed (no calibration, no homography) get
``<camera>-<track id>`` ids, never passed off as store-level shoppers (:attr:`ShopperMap.identity`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from formats.store import Camera, frame_timestamp
from formats.tables import SHOPPER_COLUMNS
from vision.embedding import embedding_distance
from vision.errors import InputError
from vision.reid import bhattacharyya

log = logging.getLogger(__name__)

# A calibrated camera places a shopper by the top of their head at ``head_height_m``; two cameras
# seeing one person agree on the floor only at that person's real height. Tracklets also carry their
# floor points at these offsets from it, and a pair seen at once is compared at the height where they
# agree best (people are 1.4-1.85 m tall, not all 1.7 m).
HEIGHT_OFFSETS_M = (-0.3, -0.15, 0.0, 0.15)
LOOKS = ("colours", "embedding")


@dataclass(frozen=True)
class ShopperConfig:
    """How camera tracks become store-level shoppers (metres, seconds).

    model: the association model file ('' = the shipped models/association.json; "rules" = the
        first design's thresholds below).
    candidate_gap_s: tracklets further apart in time than this are never compared.
    max_speed_m_s, gap_slack_m: a tracklet cannot continue another from further than
        ``gap_slack_m + max_speed_m_s * gap`` away (nobody walks faster).
    min_shared_s: tracklets must be seen together at least this long to be compared as "together".
    link_m, apart_m, max_gap_s: ``model = "rules"`` only: seen at once within ``link_m`` (median) is
        one shopper, further than ``apart_m`` two; a tracklet starting at most ``max_gap_s`` after
        another ended, near enough, continues it.
    head_height_m: with a calibration, a shopper is placed where the top of their box (the top of the
        head, seen from the ceiling over shelves and other shoppers that hide the feet) meets this
        height; with a floor homography only, by the foot point (the box's bottom centre).
    edge_margin_px: a box this close to an edge of the image is cut off there (its top, its sides,
        or for a foot point its bottom): it is not used.
    grid_s: shoppers.csv has one row per shopper per ``grid_s`` (0: the fastest camera's frame period).
    handover_s, handover_m: one camera's two tracks seen at once are two people by construction, unless they
        are seen together for at most ``handover_s`` (first to last common frame) no more than ``handover_m``
        apart on the floor (median, at the height where they agree best): one person seen twice while a new
        track began; such a pair is scored like any other. 0 s: always two people. 2 s and 0.6 m against
        0 s on held-out stores 10768-10799: split receipts 8.6 -> 6.7 %, receipts with a split shopper wrong
        0.515 -> 0.528 (docs/RESULTS.md, models/README.md session 42).
    look: how a track's look is made and compared: ``colours`` (the mean hue-saturation histogram of its
        boxes, Bhattacharyya distance; vision.reid.track_looks) or ``embedding`` (the mean of its clear
        boxes' learnt appearance embeddings, ``look_model``; vision.embedding). The association model
        must have been fitted on the same kind (its ``look``). ``embedding`` is not the default: on 48
        development stores it split more shoppers than colours (models/README.md, session 39), and its
        weights are not shipped (``walkout train --only reid`` makes them).
    look_model: ``look = "embedding"``: the appearance model ('' = models/walkout-reid.pt, which
        ``walkout train --only reid`` makes; not shipped).
    look_sample_s: ``look = "embedding"``: boxes are embedded every this many seconds (a look is a
        mean; a box costs about 8 ms on one CPU thread). 0.2 against 0.5 on the association model's
        training stores (out-of-fold association IDF1 of vision tracklets 0.890 vs 0.882).
    link_bias: log-odds added to the association model's evidence that two tracklets are one shopper
        (0: its thresholds, chosen for association IDF1 on the training stores; positive joins more,
        negative splits more). It does not loosen the model's "two people for sure"; ``model =
        "rules"`` ignores it.
    """

    model: str = ""
    candidate_gap_s: float = 30.0
    head_height_m: float = 1.7
    link_m: float = 0.6
    apart_m: float = 1.2
    min_shared_s: float = 0.3
    max_gap_s: float = 6.0
    max_speed_m_s: float = 1.5
    gap_slack_m: float = 0.5
    edge_margin_px: float = 2.0
    grid_s: float = 0.0
    link_bias: float = 0.0
    handover_s: float = 2.0
    handover_m: float = 0.6
    look: str = "colours"
    look_model: str = ""
    look_sample_s: float = 0.2

    def __post_init__(self):
        if self.look not in LOOKS:
            raise ValueError(f"shoppers.look must be one of {', '.join(LOOKS)}, got {self.look!r}")
        if self.look_sample_s <= 0:
            raise ValueError(f"shoppers.look_sample_s must be > 0, got {self.look_sample_s}")


@dataclass(frozen=True)
class Tracklet:
    """One camera's track on the floor: times (Unix s) and floor points (metres), (N,) and (N, 2)."""

    camera: str
    track_id: int
    t: np.ndarray = field(repr=False)
    xy: np.ndarray = field(repr=False)
    # (len(HEIGHT_OFFSETS_M), N, 2): the floor points were the shopper that much taller or shorter
    # than ``head_height_m`` (a foot point does not depend on height: xy repeated). None: xy only.
    xy_heights: np.ndarray | None = field(default=None, repr=False)
    # The track's look (a colour histogram summing to 1, vision.reid.track_looks); None: not described.
    look: np.ndarray | None = field(default=None, repr=False)

    def at_heights(self) -> np.ndarray:
        return self.xy_heights if self.xy_heights is not None else self.xy[None]

    @property
    def start(self) -> float:
        return float(self.t[0])

    @property
    def end(self) -> float:
        return float(self.t[-1])


@dataclass(frozen=True)
class ShopperMap:
    """Each camera's track -> its store-level shopper id. ``identity`` is ``store`` (joined across
    cameras on the floor), ``camera`` (one uncalibrated camera: the track id is the shopper) or
    ``per-camera`` (several cameras, not placed: ids are ``<camera>-<track>`` and cannot be shared)."""

    identity: str
    shopper_of: dict[tuple[str, int], str]
    tracklets: tuple[Tracklet, ...] = ()

    def shopper(self, camera: str, track_id: int) -> str:
        default = str(int(track_id)) if self.identity == "camera" else f"{camera}-{int(track_id)}"
        return self.shopper_of.get((camera, int(track_id)), default)

    def to_dict(self) -> dict:
        """run.json's ``shoppers``: the identity mode and, per camera, track id -> shopper."""
        by_camera: dict[str, dict[str, str]] = {}
        for (camera, track), shopper in sorted(self.shopper_of.items()):
            by_camera.setdefault(camera, {})[str(track)] = shopper
        return {"identity": self.identity, "tracks": by_camera}


def floor_tracklets(tracks: pd.DataFrame, camera: Camera, fps: float,
                    config: ShopperConfig | None = None, looks: dict[int, np.ndarray] | None = None) -> list[Tracklet]:
    """A placed camera's tracks (``frame, track_id, x1, y1, x2, y2``) -> tracklets on the floor:
    with a calibration the head point (top centre) at ``head_height_m``, boxes cut off at the image's
    top or sides left out; with a floor homography the foot point, boxes cut off at the bottom left out.
    ``looks``: track id -> look, carried by the tracklets."""
    config = config or ShopperConfig()
    if tracks.empty:
        return []
    x1, y1, x2, y2 = (tracks[c].to_numpy(float) for c in ("x1", "y1", "x2", "y2"))
    centre = (x1 + x2) / 2
    margin = config.edge_margin_px
    if camera.calibration is not None:
        width, _ = camera.calibration.image_size_px
        keep = (y1 > margin) & (x1 > margin) & (x2 < width - margin)
        tops = np.column_stack([centre, y1])
        heights = np.stack([camera.calibration.pixels_to_plane(tops, config.head_height_m + dz)
                            for dz in HEIGHT_OFFSETS_M])
    else:
        keep = np.ones(len(tracks), dtype=bool)
        heights = np.repeat(camera.pixels_to_floor(np.column_stack([centre, y2]))[None], len(HEIGHT_OFFSETS_M), axis=0)
    floor = heights[HEIGHT_OFFSETS_M.index(0.0)]
    keep &= np.isfinite(heights).all(axis=(0, 2))
    times = frame_timestamp(camera.start_timestamp, tracks["frame"].to_numpy(float), fps)
    ids = tracks["track_id"].to_numpy(int)
    out = []
    for track_id in np.unique(ids):
        rows = np.flatnonzero((ids == track_id) & keep)
        if len(rows) == 0:
            continue
        order = rows[np.argsort(times[rows], kind="stable")]
        out.append(Tracklet(camera.id, int(track_id), times[order], floor[order], heights[:, order],
                            (looks or {}).get(int(track_id))))
    return out


def look_distance(a: Tracklet, b: Tracklet, look: str = "colours") -> float:
    """Distance of two tracklets' looks, 0 alike .. 1 apart: Bhattacharyya of colour histograms, or
    (1 - cosine) / 2 of appearance embeddings (``look = "embedding"``); NaN when either has none (the
    association model then leaves this evidence out)."""
    if a.look is None or b.look is None:
        return float("nan")
    return embedding_distance(a.look, b.look) if look == "embedding" else bhattacharyya(a.look, b.look)


def shared_distances(a: Tracklet, b: Tracklet) -> np.ndarray:
    """Floor distances (m) between two tracklets over the time both are seen, per height offset
    (rows of :data:`HEIGHT_OFFSETS_M`, or one row for tracklets without them): each one's points
    against the other interpolated at their times. No columns when they do not overlap."""
    lo, hi = max(a.start, b.start), min(a.end, b.end)
    pa, pb = a.at_heights(), b.at_heights()
    if len(pa) != len(pb):
        pa, pb = a.xy[None], b.xy[None]
    out = []
    for p, q, tp, tq in ((pa, pb, a.t, b.t), (pb, pa, b.t, a.t)):
        inside = (tp >= lo) & (tp <= hi)
        if inside.any():
            out.append(np.stack([np.hypot(p[h, inside, 0] - np.interp(tp[inside], tq, q[h, :, 0]),
                                          p[h, inside, 1] - np.interp(tp[inside], tq, q[h, :, 1]))
                                 for h in range(len(p))]))
    return np.concatenate(out, axis=1) if out else np.empty((len(pa), 0))


def best_shared_distances(a: Tracklet, b: Tracklet) -> np.ndarray:
    """:func:`shared_distances` at the height offset where the two tracklets agree best (the lowest median);
    empty when they do not overlap."""
    distances = shared_distances(a, b)
    if distances.shape[1] == 0:
        return np.empty(0)
    return distances[int(np.argmin(np.median(distances, axis=1)))]


def _together(a: Tracklet, b: Tracklet, overlap: float, look: str) -> np.ndarray | None:
    best = best_shared_distances(a, b)
    if len(best) == 0:
        return None
    return np.array([np.median(best), np.quantile(best, 0.9), np.log1p(overlap), look_distance(a, b, look)])


def shared_s(a: Tracklet, b: Tracklet) -> float:
    """Seconds two tracklets overlap in time (negative: the gap between them)."""
    return min(a.end, b.end) - max(a.start, b.start)


def one_camera_at_once(a: Tracklet, b: Tracklet, config: ShopperConfig | None = None) -> bool:
    """Two tracklets of one camera that overlap in time: two people, by construction, unless they have boxes
    at common times over at most ``config.handover_s`` and their floor points over the time both are seen are
    at most ``config.handover_m`` apart (one person boxed twice while a new track began). Spans that overlap
    with no frame in common stay two people; without ``config`` (the rules), every overlap does."""
    if a.camera != b.camera or shared_s(a, b) < 0:
        return False
    if config is None or config.handover_s <= 0:
        return True
    together_s = seen_together_s(a, b)
    return together_s is None or together_s > config.handover_s or not floor_distance_m(a, b) <= config.handover_m


def seen_together_s(a: Tracklet, b: Tracklet) -> float | None:
    """Seconds from the first to the last moment both tracklets have a box (one camera's frames); None when
    they never do."""
    common = np.intersect1d(np.round(a.t, 3), np.round(b.t, 3))
    return float(common[-1] - common[0]) if len(common) else None


def floor_distance_m(a: Tracklet, b: Tracklet) -> float:
    """Median floor distance of two tracklets over the time both are seen, at the height where they agree
    best (:func:`best_shared_distances`); NaN when they do not overlap."""
    best = best_shared_distances(a, b)
    return float(np.median(best)) if len(best) else float("nan")


def scored_pairs(tracklets: list[Tracklet], config: ShopperConfig) -> tuple[set[tuple[int, int]], dict]:
    """Every pair the association model scores, and the pairs that are two people by construction
    (one camera, seen at once). Returns (those, {kind: (list of (i, j), (N, F) features)}) with
    features in :data:`vision.association.FEATURES` order.

    together: seen by two cameras at once for at least ``min_shared_s``: median and 90th percentile
    of their floor distance at the height where they agree best, log(1 + shared seconds).
    gap: one starts after the other ends (or overlaps it briefly), no further than a walk can take:
    log(1 + gap), the step (m), the share of the farthest walkable step it uses, one camera or two,
    and whether each is the other's nearest such continuation (by that share).
    Both kinds end with the distance of the two looks (:func:`look_distance`, of ``config.look``)."""
    n = len(tracklets)
    apart: set[tuple[int, int]] = set()
    together: list[tuple[int, int, np.ndarray]] = []
    gaps: list[tuple[int, int, float, float, float, float]] = []  # first, then, gap, step, share, same camera
    for i in range(n):
        a = tracklets[i]
        for j in range(i + 1, n):
            b = tracklets[j]
            if one_camera_at_once(a, b, config):
                apart.add((i, j))
                continue
            overlap = shared_s(a, b)
            if overlap >= config.min_shared_s:
                features = _together(a, b, overlap, config.look)
                if features is not None:
                    together.append((i, j, features))
                continue
            first, then = (i, j) if a.end <= b.end else (j, i)
            gap = max(tracklets[then].start - tracklets[first].end, 0.0)
            if gap > config.candidate_gap_s:
                continue
            step = float(np.hypot(*(tracklets[then].xy[0] - tracklets[first].xy[-1])))
            reach = config.gap_slack_m + config.max_speed_m_s * gap
            if step <= reach:
                gaps.append((first, then, gap, step, step / reach, float(a.camera == b.camera)))
    best_next: dict[int, float] = {}
    best_before: dict[int, float] = {}
    for first, then, _, _, share, _ in gaps:
        best_next[first] = min(best_next.get(first, np.inf), share)
        best_before[then] = min(best_before.get(then, np.inf), share)
    scored = {
        "together": ([(i, j) for i, j, _ in together],
                     np.array([f for _, _, f in together]).reshape(-1, 4)),
        "gap": ([(min(f, t), max(f, t)) for f, t, *_ in gaps],
                np.array([[np.log1p(gap), step, share, same, float(share <= best_next[f]), float(share <= best_before[t]),
                           look_distance(tracklets[f], tracklets[t], config.look)]
                          for f, t, gap, step, share, same in gaps]).reshape(-1, 7)),
    }
    return apart, scored


def _rules_pair(a: Tracklet, b: Tracklet, config: ShopperConfig) -> tuple[float | None, bool]:
    """The first design's thresholds: (link cost or None, must stay apart)."""
    lo, hi = max(a.start, b.start), min(a.end, b.end)
    overlap = hi - lo
    inside = (a.t >= lo) & (a.t <= hi)
    if overlap >= config.min_shared_s and inside.any():
        bx, by = (np.interp(a.t[inside], b.t, b.xy[:, k]) for k in (0, 1))
        shared = float(np.median(np.hypot(a.xy[inside, 0] - bx, a.xy[inside, 1] - by)))
        if shared > config.apart_m:
            return None, True
        return (shared, False) if shared <= config.link_m else (None, False)
    if overlap > 0:  # seen together only briefly: nothing either way
        return None, False
    first, then = (a, b) if a.end <= b.start else (b, a)
    gap = then.start - first.end
    if gap > config.max_gap_s:
        return None, False
    step = float(np.hypot(*(then.xy[0] - first.xy[-1])))
    if step <= config.gap_slack_m + config.max_speed_m_s * gap:
        return 10.0 + step, False  # ranked after every link seen at once (those are surer)
    return None, False


def resolve_model(config: ShopperConfig):
    """The association model the config names: None for "rules", else the file ('' = shipped)."""
    if config.model == "rules":
        return None
    from vision.association import DEFAULT_MODEL, load_model

    path = Path(config.model or DEFAULT_MODEL)
    model = load_model(path)
    if model.look != config.look:
        raise InputError(path, f"look: the model was fitted on {model.look} looks, [shoppers] look is {config.look!r} "
                         "(set it to match, or fit a model for it with `walkout train --only association`)")
    return model


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(np.asarray(p, float), 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def model_evidence(n: int, apart: set[tuple[int, int]], scored: dict, probabilities: dict[str, np.ndarray],
                   thresholds: dict[str, float], bias: float = 0.0) -> np.ndarray:
    """(n, n) evidence that two tracklets are one shopper, from the association model's P(same): its
    log-odds minus those of the kind's link threshold (``thresholds[kind]``: 0 at the threshold,
    positive above it), plus ``bias``. A together pair counts either way (seen at once and apart is
    evidence of two people); a gap pair only above its threshold (an unlikely continuation is no
    evidence of two people: a shopper may go on in another tracklet). ``-inf``: two people for sure
    (one camera at once, ``apart``, or a together pair below ``thresholds["apart"]``). Pairs never
    scored: 0."""
    evidence = np.zeros((n, n))
    for kind, (pairs, _) in scored.items():
        if not pairs:
            continue
        i, j = np.asarray(pairs, dtype=int).T
        p = np.asarray(probabilities[kind], float)
        weight = _logit(p) - _logit(thresholds[kind]) + bias
        if kind == "gap":
            weight = np.maximum(weight, 0.0)
        else:
            weight = np.where(p < thresholds["apart"], -np.inf, weight)
        evidence[i, j] += weight
        evidence[j, i] += weight
    for i, j in apart:
        evidence[i, j] = evidence[j, i] = -np.inf
    return evidence


def evidence_clusters(tracklets: list[Tracklet], evidence: np.ndarray, max_rounds: int = 10) -> list[list[int]]:
    """Group tracklets so that the evidence within shoppers is as large as it can be made (correlation
    clustering, greedily): join the two shoppers whose tracklets' summed evidence is largest while it is
    positive, then move single tracklets to the shopper (or to a shopper of their own) their evidence
    favours until none moves. Every pair in a shopper counts, not only the strongest link, so one
    confident link cannot chain two people together when the rest of their pairs say otherwise.
    Groups of indices in order of first sight."""
    n = len(tracklets)
    if n == 0:
        return []
    between = evidence.copy()  # between shoppers (by their first tracklet); -inf once joined into another
    np.fill_diagonal(between, -np.inf)
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    while True:
        a, b = divmod(int(np.argmax(between)), n)
        if not between[a, b] > 0:
            break
        between[a, :] += between[b, :]
        between[:, a] += between[:, b]
        between[a, a] = -np.inf
        between[b, :] = between[:, b] = -np.inf
        members[a] += members.pop(b)
    label = np.empty(n, dtype=int)
    for k, group in enumerate(members.values()):
        label[group] = k
    pairwise = evidence.copy()
    np.fill_diagonal(pairwise, 0.0)
    for _ in range(max_rounds):
        moved = False
        for t in range(n):
            labels = np.unique(label)
            score = np.array([pairwise[t, label == k].sum() for k in labels])
            here = score[labels == label[t]][0]
            best = int(np.argmax(score))
            if max(score[best], 0.0) > here + 1e-9:
                label[t] = labels[best] if score[best] >= 0.0 else label.max() + 1
                moved = True
        if not moved:
            break
    groups = [np.flatnonzero(label == k).tolist() for k in np.unique(label)]
    return sorted(groups, key=lambda g: min(tracklets[k].start for k in g))


def cluster(tracklets: list[Tracklet], links: list[tuple[float, int, int]], apart: set[tuple[int, int]]) -> list[list[int]]:
    """``model = "rules"``: join tracklets along ``links`` (lowest first), skipping a join that would put
    a must-stay-apart pair into one shopper; groups of indices in order of first sight."""
    n = len(tracklets)
    cluster_of = list(range(n))
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    for _, i, j in sorted(links):
        ci, cj = cluster_of[i], cluster_of[j]
        if ci == cj:
            continue
        if any((min(p, q), max(p, q)) in apart for p in members[ci] for q in members[cj]):
            continue
        for k in members[cj]:
            cluster_of[k] = ci
        members[ci] += members.pop(cj)
    groups = sorted(members.values(), key=lambda g: min(tracklets[k].start for k in g))
    return [sorted(g) for g in groups]


def associate(tracklets: list[Tracklet], config: ShopperConfig | None = None, model=None) -> list[list[int]]:
    """Group tracklets into shoppers: lists of indices into ``tracklets``, in order of first sight.
    ``model``: an :class:`vision.association.AssociationModel` (None: the rules)."""
    config = config or ShopperConfig()
    if model is None:
        return cluster(tracklets, *_rules_links(tracklets, config))
    apart, scored = scored_pairs(tracklets, config)
    probabilities = {kind: model.probability(kind, features) for kind, (_, features) in scored.items()}
    return evidence_clusters(tracklets, model_evidence(len(tracklets), apart, scored, probabilities, model.thresholds,
                                                       config.link_bias))


def _rules_links(tracklets: list[Tracklet], config: ShopperConfig) -> tuple[list, set]:
    links, apart = [], set()
    for i in range(len(tracklets)):
        for j in range(i + 1, len(tracklets)):
            a, b = tracklets[i], tracklets[j]
            if one_camera_at_once(a, b):
                apart.add((i, j))
                continue
            cost, stay_apart = _rules_pair(a, b, config)
            if stay_apart:
                apart.add((i, j))
            elif cost is not None:
                links.append((cost, i, j))
    return links, apart


def store_shoppers(tracks_by_camera: dict[str, pd.DataFrame], cameras: dict[str, Camera], fps: dict[str, float],
                   config: ShopperConfig | None = None,
                   looks: dict[str, dict[int, np.ndarray]] | None = None) -> ShopperMap:
    """Every camera's tracks -> one store-level shopper id per person per visit (``"1"``, ``"2"``...
    in order of first sight), or per-camera ids when the cameras are not placed. ``looks``: per
    camera, track id -> look (in memory only; tracks without one are placed by position alone)."""
    config = config or ShopperConfig()
    looks = looks or {}
    placed = [c for c in tracks_by_camera if cameras[c].placed]
    tracklets = [t for c in placed
                 for t in floor_tracklets(tracks_by_camera[c], cameras[c], fps[c], config, looks.get(c))]
    all_tracks = [(c, int(t)) for c, table in tracks_by_camera.items() for t in np.unique(table["track_id"].to_numpy(int))]
    if len(tracks_by_camera) == 1:  # one camera: its track ids are the shoppers, as always
        return ShopperMap("camera", {key: str(key[1]) for key in all_tracks}, tuple(tracklets))
    if len(placed) < len(tracks_by_camera):
        log.warning("%d cameras, %s placed in the store (calibration or floor homography): identities cannot be "
                    "shared across cameras; shoppers are <camera>-<track>", len(tracks_by_camera),
                    "none" if not placed else f"only {len(placed)}")
        return ShopperMap("per-camera", {key: f"{key[0]}-{key[1]}" for key in all_tracks})
    groups = associate(tracklets, config, resolve_model(config))
    shopper_of = {(tracklets[k].camera, tracklets[k].track_id): str(n) for n, group in enumerate(groups, start=1)
                  for k in group}
    for key in all_tracks:  # no usable foot point (always cut off, off the floor): a per-camera id
        shopper_of.setdefault(key, f"{key[0]}-{key[1]}")
    return ShopperMap("store", shopper_of, tuple(tracklets))


def shoppers_table(shopper_map: ShopperMap, grid_s: float) -> pd.DataFrame:
    """shoppers.csv: per shopper, per ``grid_s`` step, the mean floor point of the cameras that saw
    them then (``cameras`` ';'-joined). Empty (header only) without store-level identities."""
    rows = []
    for tracklet in shopper_map.tracklets:
        shopper = shopper_map.shopper(tracklet.camera, tracklet.track_id)
        rows.append(pd.DataFrame({"step": np.round(tracklet.t / grid_s).astype(np.int64), "shopper": shopper,
                                  "x": tracklet.xy[:, 0], "y": tracklet.xy[:, 1], "camera": tracklet.camera}))
    if not rows:
        return pd.DataFrame(columns=list(SHOPPER_COLUMNS))
    table = pd.concat(rows, ignore_index=True)
    grouped = table.groupby(["shopper", "step"], sort=False).agg(
        x=("x", "mean"), y=("y", "mean"), cameras=("camera", lambda c: ";".join(sorted(set(c)))))
    grouped = grouped.reset_index()
    grouped["timestamp"] = grouped["step"] * grid_s
    grouped = grouped.sort_values(["timestamp", "shopper"], kind="stable")
    return grouped[list(SHOPPER_COLUMNS)].reset_index(drop=True)

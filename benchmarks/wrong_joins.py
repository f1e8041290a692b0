"""Which camera tracks the store join put into another person's shopper, and which pair of tracklets
brought each one in.

``identity_wrong_join`` (the bench) says how many boxes the join gave to someone else's shopper; this
says why. For every recording of a group run by ``benchmarks/rejoin.py record`` (its kept camera
results hold the tracks and their looks, as the join saw them), each camera track gets its truth person
(the one it overlaps most, as association training labels vision tracks), each store-level shopper its
*main* person (the one most of its boxes are on), and every tracklet of a shopper whose person is not
the main one is a *wrong join*. For each, the strongest pair the association model scored between it
and a tracklet of the main person in the same shopper says how it came in:

- ``together``: seen at the same time by two cameras, close enough on the floor (the pair's median
  distance is listed) for the model to call them one shopper;
- ``gap``: one after the other, a walkable step apart (the gap and step are listed);
- ``chained``: no scored pair with the main person's tracklets at all: it came in through tracklets of
  other people.

Each wrong join also says how pure it is (the share of its boxes on its own person: a tracklet that carries
two people, because its camera switched, is linked by the part on the main person) and how many boxes
the linking main-person tracklet spent on this one's person.

The other way round (``identity_split_join``): each truth person's *own* shopper is the one most of their
boxes are in, and a tracklet of theirs left in another shopper that is theirs too (a piece, not a wrong
join) is a *split piece*. For each, the strongest pair scored with a tracklet of their own shopper says
why the join left them apart: ``together`` or ``gap`` (scored, and the model's P(same) too low), or
``unscored`` (no pair at all: too long a gap, too far a step for the time, or one camera at once).

And every *brief pair*: two tracklets of one camera with boxes at common times over at most ``--brief-s``
(``[shoppers] handover_s`` lets the join weigh such a pair, within ``handover_m``, instead of holding it apart:
one person boxed twice while their camera began a new track, or two people side by side), with whether they are
one truth person, their floor distance and whether the join put them together; counted by distance.

Prints per kind the wrong joins and the split pieces with their boxes (wrong joins: the pure ones and the
long ones, ``--min-boxes`` or more, apart), and with ``--list`` every one with its pair's P(same).

    python benchmarks/rejoin.py record runs/acc/store --cache /tmp/cams --predictions kept
    python benchmarks/wrong_joins.py runs/acc/store --cache /tmp/cams --predictions kept

Nothing is written; mock-store renders only (it reads truth/boxes).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rejoin import kept_cameras
from switches import truth_person

from formats.store import parse_store
from formats.tables import read_truth_boxes
from vision.shoppers import (
    ShopperConfig,
    Tracklet,
    floor_distance_m,
    floor_tracklets,
    resolve_model,
    scored_pairs,
    seen_together_s,
    shared_s,
)
from walkout.bench.config import BenchConfig
from walkout.bench.inputs import read_json
from walkout.config import load_config

log = logging.getLogger("wrong_joins")
KINDS = ("together", "gap", "chained")
SPLIT_KINDS = ("together", "gap", "unscored")
PURE = 0.9  # a tracklet at least this share one person is pure (its camera did not switch people)
BRIEF_BINS_M = (0.2, 0.4, 0.6)  # brief pairs are counted by floor distance up to each of these, and beyond


@dataclass(frozen=True)
class WrongJoin:
    """One tracklet in a shopper whose main person is someone else, and the pair that linked it."""

    recording: str
    shopper: str
    camera: str
    track: int
    boxes: int
    person: str  # its truth person (the one most of its matched boxes are on)
    main: str  # the shopper's main truth person
    purity: float  # the share of its matched boxes on ``person``
    kind: str  # together, gap or chained (:data:`KINDS`)
    probability: float  # the linking pair's P(same shopper); NaN when chained
    distance_m: float  # together: median floor distance; gap: the step; NaN when chained
    gap_s: float  # gap: seconds between them; NaN otherwise
    partner_carried: int  # boxes the linking main-person tracklet itself spent on ``person`` (its camera switched)


@dataclass(frozen=True)
class SplitPiece:
    """One tracklet of a person left in a shopper of its own, and the closest the join came to joining it."""

    recording: str
    shopper: str
    camera: str
    track: int
    boxes: int
    person: str
    own_shopper: str  # the shopper most of the person's boxes are in
    kind: str  # together, gap or unscored (:data:`SPLIT_KINDS`)
    probability: float  # the strongest pair's P(same shopper) with a tracklet of ``own_shopper``; NaN: unscored
    distance_m: float  # together: median floor distance; gap: the step; NaN when unscored
    gap_s: float  # gap: seconds between them; NaN otherwise


@dataclass(frozen=True)
class BriefPair:
    """Two tracklets of one camera seen together briefly, and what the join made of them."""

    recording: str
    camera: str
    tracks: str  # "<track>+<track>"
    one_person: bool  # both tracklets' truth person is the same
    distance_m: float  # median floor distance over the time both are seen (vision.shoppers.floor_distance_m)
    together_s: float  # first to last common frame (vision.shoppers.seen_together_s)
    joined: bool  # the join put them into one shopper


def _measures(kind: str, features: np.ndarray | None) -> tuple[float, float]:
    """(metres, seconds) of a scored pair: together, its median floor distance; gap, the step and the gap
    (its features in vision.association.FEATURES order); NaN for what a kind does not have."""
    if kind == "together":
        return float(features[0]), float("nan")
    if kind == "gap":
        return float(features[1]), float(np.expm1(features[0]))
    return float("nan"), float("nan")


def _person(carried: dict[str, int]) -> str | None:
    return max(carried, key=lambda p: (carried[p], p)) if carried else None


def _tallies(carried: list[dict[str, int]], shoppers: list[str]) -> tuple[dict, dict]:
    """(shopper -> person -> boxes, person -> shopper -> boxes) over every tracklet."""
    by_shopper: dict[str, dict[str, int]] = {}
    by_person: dict[str, dict[str, int]] = {}
    for counts, shopper in zip(carried, shoppers, strict=True):
        for person, n in counts.items():
            by_shopper.setdefault(shopper, {}).setdefault(person, 0)
            by_shopper[shopper][person] += n
            by_person.setdefault(person, {}).setdefault(shopper, 0)
            by_person[person][shopper] += n
    return by_shopper, by_person


def _strongest(scored: dict, probabilities: dict[str, np.ndarray], wanted) -> dict[int, tuple[str, float, np.ndarray, int]]:
    """Tracklet k -> (kind, P(same), features, m) of its most probable scored pair with a tracklet m for which
    ``wanted(k, m)``."""
    best: dict[int, tuple[str, float, np.ndarray, int]] = {}
    for kind, (pairs, features) in scored.items():
        for (i, j), x, p in zip(pairs, features, probabilities[kind], strict=True):
            for k, m in ((i, j), (j, i)):
                if wanted(k, m) and p > best.get(k, ("", -1.0))[1]:
                    best[k] = (kind, float(p), x, m)
    return best


def wrong_joins(recording: str, tracklets: list[Tracklet], carried: list[dict[str, int]], shoppers: list[str],
                scored: dict, probabilities: dict[str, np.ndarray]) -> list[WrongJoin]:
    """The wrong joins of one recording. Per tracklet: ``carried``, truth person -> its boxes matched to
    them (empty: never matched), and ``shoppers``, its store-level shopper; ``scored`` / ``probabilities``
    the association model's pairs (:func:`vision.shoppers.scored_pairs`) and their P(same)."""
    persons = [_person(c) for c in carried]
    main = {shopper: _person(counts) for shopper, counts in _tallies(carried, shoppers)[0].items()}
    links = _strongest(scored, probabilities, lambda k, m: (
        persons[k] is not None and shoppers[k] == shoppers[m] and persons[k] != main[shoppers[k]]
        and persons[m] == main[shoppers[m]]))
    out = []
    for k, tracklet in enumerate(tracklets):
        person, shopper = persons[k], shoppers[k]
        if person is None or person == main[shopper]:
            continue
        kind, p, x, m = links.get(k, ("chained", float("nan"), None, None))
        distance, gap = _measures(kind, x)
        out.append(WrongJoin(recording, shopper, tracklet.camera, tracklet.track_id, len(tracklet.t), person,
                             main[shopper], carried[k][person] / sum(carried[k].values()), kind, p, distance, gap,
                             carried[m].get(person, 0) if m is not None else 0))
    return out


def split_pieces(recording: str, tracklets: list[Tracklet], carried: list[dict[str, int]], shoppers: list[str],
                 scored: dict, probabilities: dict[str, np.ndarray]) -> list[SplitPiece]:
    """The split pieces of one recording (arguments as :func:`wrong_joins`)."""
    persons = [_person(c) for c in carried]
    by_shopper, by_person = _tallies(carried, shoppers)
    own = {person: _person(counts) for person, counts in by_person.items()}
    main = {shopper: _person(counts) for shopper, counts in by_shopper.items()}
    pieces = [k for k, person in enumerate(persons)
              if person is not None and shoppers[k] != own[person] and main[shoppers[k]] == person]
    best = _strongest(scored, probabilities, lambda k, m: (
        persons[k] is not None and shoppers[m] == own[persons[k]] and persons[m] == persons[k]
        and shoppers[k] != shoppers[m]))
    out = []
    for k in pieces:
        kind, p, x, _ = best.get(k, ("unscored", float("nan"), None, None))
        distance, gap = _measures(kind, x)
        out.append(SplitPiece(recording, shoppers[k], tracklets[k].camera, tracklets[k].track_id, len(tracklets[k].t),
                              persons[k], own[persons[k]], kind, p, distance, gap))
    return out


def brief_pairs(recording: str, tracklets: list[Tracklet], carried: list[dict[str, int]], shoppers: list[str],
                brief_s: float) -> list[BriefPair]:
    """One recording's pairs of one camera's tracklets with boxes at common times over at most ``brief_s``,
    both matched to a truth person (arguments as :func:`wrong_joins`)."""
    persons = [_person(c) for c in carried]
    out = []
    for i, a in enumerate(tracklets):
        for j in range(i + 1, len(tracklets)):
            b = tracklets[j]
            if a.camera != b.camera or persons[i] is None or persons[j] is None or shared_s(a, b) < 0:
                continue
            together = seen_together_s(a, b)
            if together is None or together > brief_s:
                continue
            out.append(BriefPair(recording, a.camera, f"{a.track_id}+{b.track_id}", persons[i] == persons[j],
                                 floor_distance_m(a, b), together, shoppers[i] == shoppers[j]))
    return out


def brief_summary(found: pd.DataFrame) -> pd.DataFrame:
    """Brief pairs by floor distance: of one person and of two, and how many of each the join put together."""
    edges = (0.0, *BRIEF_BINS_M, np.inf)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mine = found[(found["distance_m"] > lo) & (found["distance_m"] <= hi)] if lo else found[found["distance_m"] <= hi]
        one, two = mine[mine["one_person"].astype(bool)], mine[~mine["one_person"].astype(bool)]
        rows.append({"distance (m)": f"{lo:g}-{hi:g}" if np.isfinite(hi) else f"> {lo:g}",
                     "one person": len(one), "one person, joined": int(one["joined"].sum()),
                     "two people": len(two), "two people, joined": int(two["joined"].sum())})
    return pd.DataFrame(rows)


def recording_wrong_joins(recording: Path, run: Path, cache: Path, config,
                          brief_s: float = 2.0) -> tuple[list[WrongJoin], list[SplitPiece], list[BriefPair], int]:
    """One recording's wrong joins, split pieces and brief pairs (:func:`brief_pairs`), its tracklets made from
    the kept camera results as the join makes them, and how many boxes its cameras kept."""
    shoppers_config: ShopperConfig = config.shoppers
    store = parse_store(recording / "store.json", recording)
    cameras = {c.id: c for c in store.cameras}
    run_map = (read_json(run / "run.json").get("shoppers") or {}).get("tracks") or {}
    tracklets, carried, shoppers = [], [], []
    kept = kept_cameras(cache, recording)
    for result in kept:
        camera = cameras[result.camera]
        if not camera.placed:
            continue
        tracks = result.tracks.reset_index(drop=True)
        truth = read_truth_boxes(recording / "truth" / "boxes" / f"{camera.id}.csv")
        who = truth_person(tracks, truth, BenchConfig().iou_threshold)
        ids = tracks["track_id"].to_numpy(int)
        for tracklet in floor_tracklets(tracks, camera, result.fps, shoppers_config, result.looks):
            persons, counts = np.unique(who[(ids == tracklet.track_id) & (who >= 0)], return_counts=True)
            tracklets.append(tracklet)
            carried.append({str(p): int(n) for p, n in zip(persons, counts, strict=True)})
            shoppers.append(str(run_map.get(camera.id, {}).get(str(tracklet.track_id),
                                                                f"{camera.id}-{tracklet.track_id}")))
    model = resolve_model(shoppers_config)
    if model is None:
        raise SystemExit("wrong_joins.py scores the association model's pairs: [shoppers] model must not be \"rules\"")
    _, scored = scored_pairs(tracklets, shoppers_config)
    probabilities = {kind: model.probability(kind, features) for kind, (_, features) in scored.items()}
    return (wrong_joins(recording.name, tracklets, carried, shoppers, scored, probabilities),
            split_pieces(recording.name, tracklets, carried, shoppers, scored, probabilities),
            brief_pairs(recording.name, tracklets, carried, shoppers, brief_s),
            sum(len(result.tracks) for result in kept))


def summary(found: pd.DataFrame, total_boxes: int, min_boxes: int) -> pd.DataFrame:
    """Per kind: wrong joins and their boxes, the share of every kept box, those of tracklets at least
    ``PURE`` one person (the join's own mistakes; the others carry two people, their camera switched), the
    long ones (``min_boxes`` or more), and the linking pairs' median P(same)."""
    rows = []
    for kind in KINDS:
        mine = found[found["kind"] == kind]
        pure = mine[mine["purity"] >= PURE]
        long = mine[mine["boxes"] >= min_boxes]
        rows.append({"kind": kind, "tracklets": len(mine), "boxes": int(mine["boxes"].sum()),
                     "share of boxes": mine["boxes"].sum() / max(total_boxes, 1),
                     f"pure (>= {PURE:g})": len(pure), "pure boxes": int(pure["boxes"].sum()),
                     f">= {min_boxes} boxes": len(long), "long boxes": int(long["boxes"].sum()),
                     "median P(same)": float(mine["probability"].median()) if len(mine) else float("nan")})
    return pd.DataFrame(rows)


def split_summary(found: pd.DataFrame, total_boxes: int) -> pd.DataFrame:
    """Per kind: split pieces, their boxes, the share of every kept box, and the strongest pairs' median P(same)."""
    rows = []
    for kind in SPLIT_KINDS:
        mine = found[found["kind"] == kind]
        rows.append({"kind": kind, "pieces": len(mine), "boxes": int(mine["boxes"].sum()),
                     "share of boxes": mine["boxes"].sum() / max(total_boxes, 1),
                     "median P(same)": float(mine["probability"].median()) if len(mine) else float("nan")})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("group", type=Path, help="a group folder of benchmarks/accuracy.py (GROUP/recordings)")
    parser.add_argument("--cache", type=Path, required=True, help="the camera results rejoin.py record kept")
    parser.add_argument("--predictions", default="kept", help="the run's folder name in the group")
    parser.add_argument("--config", type=Path, default=None, help="the config the run was joined with")
    parser.add_argument("--min-boxes", type=int, default=30, help="a wrong join this long or longer is long")
    parser.add_argument("--brief-s", type=float, default=2.0,
                        help="one camera's two tracklets seen together at most this long are a brief pair")
    parser.add_argument("--list", action="store_true", help="print every wrong join, split piece and brief pair")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    config = load_config(args.config)
    cache = args.cache / args.group.parent.name / args.group.name
    found, splits, briefs, total = [], [], [], 0
    for run in sorted(p for p in (args.group / args.predictions).iterdir() if (p / "run.json").is_file()):
        recording = args.group / "recordings" / run.name
        if not (cache / f"{run.name}.pkl").is_file():
            log.warning("%s: no kept cameras (rejoin.py record keeps them): left out", cache / f"{run.name}.pkl")
            continue
        joins, pieces, brief, boxes = recording_wrong_joins(recording, run, cache, config, args.brief_s)
        found += joins
        splits += pieces
        briefs += brief
        total += boxes
    table = pd.DataFrame([j.__dict__ for j in found], columns=list(WrongJoin.__dataclass_fields__))
    split_table = pd.DataFrame([p.__dict__ for p in splits], columns=list(SplitPiece.__dataclass_fields__))
    print("Wrong joins (another person's tracklets in a shopper):")
    print(summary(table, total, args.min_boxes).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\nSplit pieces (a person's tracklets left in a shopper of their own):")
    print(split_summary(split_table, total).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    brief_table = pd.DataFrame([b.__dict__ for b in briefs], columns=list(BriefPair.__dataclass_fields__))
    print(f"\nBrief pairs (one camera's two tracklets seen together at most {args.brief_s:g} s):")
    print(brief_summary(brief_table).to_string(index=False))
    if args.list:
        for name, listed in (("wrong joins", table), ("split pieces", split_table), ("brief pairs", brief_table)):
            if len(listed):
                print(f"\n{name}:")
                print(listed.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()

"""Training data and fitting for the cross-camera association model (:mod:`vision.association`).

Tracklets come from multi-camera mock-store recordings in two ways:

- **truth boxes** (``truth/boxes/<camera>.csv``): each shopper's boxes at least ``min_visible`` seen,
  cut into a new tracklet wherever the shopper is out of that camera's view longer than
  ``split_gap_s`` (as a tracker loses and re-finds someone); their truth shopper is known;
- **vision runs** (``tracks.csv`` of ``walkout run``), when given: each track's truth shopper is the
  one whose truth box it overlaps most (IoU >= ``iou``, most frames); unmatched tracks are left out.

Either way each tracklet gets its look as ``walkout run`` makes it (vision.reid.track_looks of its
boxes' colours), from the camera's video: :func:`video_looks`.

Every pair :func:`vision.shoppers.scored_pairs` scores becomes a row labelled "same shopper" or
not; a gap pair of one shopper seen (by another tracklet) in between is left out, as it is no
continuation. Each kind (together, gap) gets a logistic regression. The card scores the fitted model against
the first design's rules out of fold (each recording associated by a model fitted without it), as
an association IDF1: tracklet seconds given the right shopper under a one-to-one shopper match.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from formats.store import parse_store
from formats.tables import read_truth_boxes
from vision.association import (
    DEFAULT_THRESHOLDS,
    FEATURES,
    KINDS,
    WITHOUT_LOOK,
    AssociationModel,
    fit_pair_model,
)
from vision.embedding import DEFAULT_EMBEDDING, Embedder, load_embedder, sample_every, track_embeddings
from vision.reid import ReidConfig, describe, track_looks
from vision.shoppers import (
    ShopperConfig,
    Tracklet,
    associate,
    evidence_clusters,
    floor_tracklets,
    model_evidence,
    scored_pairs,
)
from walkout.recording import frames_at

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AssociationTrainingConfig:
    """min_visible: share of a truth box in view to count as seen; split_gap_s: out of view longer
    than this starts a new truth tracklet; iou: a vision box matches a truth box at this IoU; c: the
    logistic regressions' inverse L2 strength (scikit-learn's C)."""

    min_visible: float = 0.2
    split_gap_s: float = 1.0
    iou: float = 0.5
    c: float = 1.0
    look: str = "colours"
    look_model: str = ""

    @property
    def shoppers(self) -> ShopperConfig:
        """The store join's settings the pairs are scored with (the shipped defaults, this ``look``)."""
        return ShopperConfig(look=self.look, look_model=self.look_model)


@dataclass(frozen=True)
class Source:
    """One recording's tracklets, with each one's truth shopper."""

    recording: str
    origin: str  # "truth boxes" or "vision"
    tracklets: tuple[Tracklet, ...]
    truth: tuple[str, ...]


def _cameras(recording: Path) -> dict:
    store = parse_store(recording / "store.json", recording)
    return {c.id: c for c in store.cameras if c.placed}


def _fps(recording: Path, camera) -> float:
    if not camera.fps:
        raise ValueError(f"{recording / 'store.json'}: cameras.{camera.id}.fps: missing (the mock store writes it)")
    return float(camera.fps)


def read_truth_shopper_boxes(recording: Path, camera_id: str) -> pd.DataFrame:
    """One camera's truth shopper boxes (truth/boxes/<camera>.csv rows whose object is a shopper)."""
    boxes = read_truth_boxes(recording / "truth" / "boxes" / f"{camera_id}.csv")
    return boxes[boxes["object"] == "shopper"]


def video_looks(video: Path, table: pd.DataFrame, reid: ReidConfig | None = None, embedder: Embedder | None = None,
                every: int = 1) -> dict[int, np.ndarray]:
    """Track id -> look of the boxes of ``table`` (``frame`` 0-based, ``track_id``, ``x1..y2``) in
    ``video``, made as the pipeline's identity repair makes them: colours (vision.reid.describe), or
    with ``embedder`` the boxes of every ``every``-th frame embedded (vision.embedding)."""
    reid = reid or ReidConfig()
    table = table.reset_index(drop=True)
    if table.empty:
        return {}
    by_frame = {int(f): rows.index.to_numpy() for f, rows in table.groupby("frame")}
    xyxy = table[["x1", "y1", "x2", "y2"]].to_numpy(float)
    width = embedder.dim if embedder is not None else reid.hue_bins * reid.saturation_bins
    descriptors = np.zeros((len(table), width), dtype=np.float32)
    for index, frame in frames_at(video, by_frame):
        rows = by_frame[index]
        if embedder is None:
            descriptors[rows] = describe(frame, xyxy[rows], reid)
        elif index % every == 0:
            descriptors[rows] = embedder.embed(frame, xyxy[rows])
    frames, ids = table["frame"].to_numpy(int), table["track_id"].to_numpy(int)
    if embedder is not None:
        return {k: v for k, v in track_embeddings(frames, ids, xyxy, descriptors).items() if v is not None}
    return track_looks(frames, ids, xyxy, descriptors)


def camera_looks(video: Path, table: pd.DataFrame, fps: float, config: AssociationTrainingConfig) -> dict:
    """Track id -> look of one camera's boxes (``table``) as ``walkout run`` makes them with ``config.look``."""
    if config.look == "embedding":
        return video_looks(video, table, embedder=_embedder(config.look_model),
                           every=sample_every(fps, config.shoppers.look_sample_s))
    return video_looks(video, table)


@functools.lru_cache(maxsize=2)
def _embedder(path: str) -> Embedder:
    return load_embedder(Path(path) if path else DEFAULT_EMBEDDING)


def truth_source(recording: Path, config: AssociationTrainingConfig) -> Source | None:
    """Tracklets of the truth boxes (module docstring); None for a recording without several placed cameras."""
    cameras = _cameras(recording)
    if len(cameras) < 2:
        return None
    tracklets, truth = [], []
    for cid, camera in cameras.items():
        fps = _fps(recording, camera)
        boxes = read_truth_shopper_boxes(recording, cid)
        boxes = boxes[boxes["visible"] >= config.min_visible]
        parts, shopper_of = [], {}
        for shopper, rows in boxes.sort_values("frame").groupby("track_id"):
            cut = np.concatenate([[0], np.cumsum(np.diff(rows["frame"].to_numpy()) > config.split_gap_s * fps)])
            for k in np.unique(cut):
                shopper_of[len(shopper_of) + 1] = str(int(shopper))
                parts.append(rows[cut == k].assign(track_id=len(shopper_of)))
        if not parts:
            continue
        table = pd.concat(parts, ignore_index=True)[["frame", "track_id", "x1", "y1", "x2", "y2"]]
        looks = camera_looks(camera.video, table, fps, config)
        for t in floor_tracklets(table, camera, fps, config.shoppers, looks):
            tracklets.append(t)
            truth.append(shopper_of[t.track_id])
    return Source(recording.name, "truth boxes", tuple(tracklets), tuple(truth))


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x1, y1 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x2, y2 = np.minimum(a[:, 2], b[:, 2]), np.minimum(a[:, 3], b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def vision_source(recording: Path, run: Path, config: AssociationTrainingConfig) -> Source | None:
    """Tracklets of a vision run's tracks.csv, each with the truth shopper it overlaps most."""
    cameras = _cameras(recording)
    if len(cameras) < 2 or not (run / "tracks.csv").is_file():
        return None
    tracks = pd.read_csv(run / "tracks.csv")
    tracklets, truth = [], []
    for cid, camera in cameras.items():
        fps = _fps(recording, camera)
        mine = tracks[tracks["camera"] == cid][["frame", "track_id", "x1", "y1", "x2", "y2"]]
        owner = track_owners(mine, read_truth_shopper_boxes(recording, cid), config.iou)
        if not owner:
            continue
        looks = camera_looks(camera.video, mine, fps, config)
        for t in floor_tracklets(mine, camera, fps, config.shoppers, looks):
            if t.track_id in owner:
                tracklets.append(t)
                truth.append(owner[t.track_id])
    return Source(recording.name, "vision", tuple(tracklets), tuple(truth))


def track_owners(tracks: pd.DataFrame, truth_boxes: pd.DataFrame, iou: float) -> dict[int, str]:
    """One camera's track id -> the truth shopper it is (the one whose truth box it overlaps best, at
    IoU >= ``iou``, in the most frames); tracks that never overlap one are left out. ``tracks``:
    ``frame, track_id, x1..y2``; ``truth_boxes``: that camera's truth shopper boxes."""
    pairs = tracks.reset_index(drop=True).merge(truth_boxes, on="frame", suffixes=("", "_t"))
    if pairs.empty:
        return {}
    pairs["iou"] = _iou(pairs[["x1", "y1", "x2", "y2"]].to_numpy(float),
                        pairs[["x1_t", "y1_t", "x2_t", "y2_t"]].to_numpy(float))
    pairs = pairs[pairs["iou"] >= iou]
    best = pairs.sort_values("iou").drop_duplicates(["frame", "track_id"], keep="last")
    votes = best.groupby(["track_id", "track_id_t"]).size().reset_index(name="n")
    owner = votes.sort_values("n").drop_duplicates("track_id", keep="last")
    return {int(t): str(int(s)) for t, s in zip(owner["track_id"], owner["track_id_t"], strict=True)}


def sources_under(roots: list[Path], config: AssociationTrainingConfig) -> list[Source]:
    """Every multi-camera recording under ``roots`` (benchmarks/accuracy.py's layout:
    ROOT/<group>/recordings/<name>, and ROOT/<group>/predictions/<name> when run): its truth-box
    tracklets, and its vision run's when there is one."""
    found = []
    for root in roots:
        groups = [root] if (root / "recordings").is_dir() else sorted(p for p in root.iterdir() if (p / "recordings").is_dir())
        for group in groups:
            for recording in sorted(p for p in (group / "recordings").iterdir() if (p / "store.json").is_file()):
                for source in (truth_source(recording, config),
                               vision_source(recording, group / "predictions" / recording.name, config)):
                    if source is not None and source.tracklets:
                        found.append(source)
    return found


def pair_rows(source: Source, shopper_config: ShopperConfig | None = None) -> pd.DataFrame:
    """Every pair of one source the model scores (:func:`vision.shoppers.scored_pairs`): recording,
    origin, kind, its kind's features (the other kind's are NaN), label (1: one truth shopper)."""
    _, scored = scored_pairs(list(source.tracklets), shopper_config or ShopperConfig())
    tables = []
    for kind, (pairs, features) in scored.items():
        table = pd.DataFrame(features, columns=list(FEATURES[kind]))
        table.insert(0, "kind", kind)
        table.insert(0, "origin", source.origin)
        table.insert(0, "recording", source.recording)
        table["label"] = [int(source.truth[i] == source.truth[j]) for i, j in pairs]
        if kind == "gap":  # a shopper's tracklets far apart in time, seen in between: no direct continuation
            table = table[[not _seen_between(source, i, j) for i, j in pairs]]
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def _seen_between(source: Source, i: int, j: int) -> bool:
    """One truth shopper's tracklets i and j, with another of theirs covering part of the time
    between them: not a continuation to learn from (their link follows from the ones in between)."""
    if source.truth[i] != source.truth[j]:
        return False
    a, b = source.tracklets[i], source.tracklets[j]
    lo, hi = min(a.end, b.end), max(a.start, b.start)
    return any(k not in (i, j) and source.truth[k] == source.truth[i] and t.start < hi and t.end > lo
               for k, t in enumerate(source.tracklets))


def fit(rows: pd.DataFrame, config: AssociationTrainingConfig, card: dict | None = None,
        thresholds: dict[str, float] | None = None) -> AssociationModel:
    kinds = {}
    for kind in KINDS:
        mine = rows[rows["kind"] == kind]
        names = FEATURES[kind]
        seen = mine[mine[names[-1]].notna()]  # pairs whose tracklets both have a look
        kinds[kind] = fit_pair_model(seen[list(names)].to_numpy(float), seen["label"].to_numpy(int), names, config.c)
        kinds[kind + WITHOUT_LOOK] = fit_pair_model(mine[list(names[:-1])].to_numpy(float), mine["label"].to_numpy(int),
                                                    names[:-1], config.c)
    return AssociationModel(kinds, dict(thresholds or DEFAULT_THRESHOLDS), card or {}, config.look)


def association_idf1(source: Source, groups: list[list[int]]) -> tuple[float, float]:
    """(matched seconds, tracklet seconds): tracklet durations kept under the one-to-one match of
    predicted shoppers to truth shoppers that keeps the most seconds, and all of them (predicted and
    truth shoppers share the same tracklets, so IDF1 = matched / tracklet seconds)."""
    seconds = np.array([t.end - t.start for t in source.tracklets])
    truths = sorted(set(source.truth))
    table = np.zeros((len(groups), len(truths)))
    for g, members in enumerate(groups):
        for k in members:
            table[g, truths.index(source.truth[k])] += seconds[k]
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum()), float(seconds.sum())


THRESHOLD_GRID = {"together": (0.2, 0.3, 0.4, 0.5), "gap": (0.05, 0.1, 0.2, 0.5), "apart": (0.005, 0.02, 0.1)}


@dataclass(frozen=True)
class Scored:
    """One source's pairs with out-of-fold probabilities (a model fitted without its recording)."""

    source: Source
    apart: frozenset
    scored: dict
    probabilities: dict


def out_of_fold(sources: list[Source], rows: pd.DataFrame, config: AssociationTrainingConfig) -> list[Scored]:
    models = {rec: fit(rows[rows["recording"] != rec], config) for rec in sorted(set(rows["recording"]))}
    out = []
    for source in sources:
        apart, scored = scored_pairs(list(source.tracklets), config.shoppers)
        model = models[source.recording]
        out.append(Scored(source, frozenset(apart), scored,
                          {kind: model.probability(kind, features) for kind, (_, features) in scored.items()}))
    return out


def scores(oof: list[Scored], thresholds: dict[str, float] | None) -> pd.DataFrame:
    """Per source: association IDF1 parts (matched seconds, tracklet seconds) with these
    thresholds (None: the rules)."""
    rows = []
    for item in oof:
        tracklets = list(item.source.tracklets)
        if thresholds is None:
            groups = associate(tracklets, ShopperConfig(model="rules"))
        else:
            groups = evidence_clusters(tracklets, model_evidence(len(tracklets), set(item.apart), item.scored,
                                                                    item.probabilities, thresholds))
        matched, seconds = association_idf1(item.source, groups)
        rows.append({"recording": item.source.recording, "origin": item.source.origin, "matched": matched,
                     "seconds": seconds})
    return pd.DataFrame(rows)


def pooled_idf1(table: pd.DataFrame) -> float:
    return float(table["matched"].sum() / table["seconds"].sum())


def best_thresholds(oof: list[Scored]) -> dict[str, float]:
    """The link and apart thresholds of :data:`THRESHOLD_GRID` with the best pooled out-of-fold
    association IDF1 (ties: the first, i.e. the lowest)."""
    best, chosen = -1.0, dict(DEFAULT_THRESHOLDS)
    for together in THRESHOLD_GRID["together"]:
        for gap in THRESHOLD_GRID["gap"]:
            for apart in THRESHOLD_GRID["apart"]:
                thresholds = {"together": together, "gap": gap, "apart": apart}
                value = pooled_idf1(scores(oof, thresholds))
                if value > best + 1e-9:
                    best, chosen = value, thresholds
    return chosen


def cv_table(oof: list[Scored], thresholds: dict[str, float]) -> str:
    rules, model = scores(oof, None), scores(oof, thresholds)
    lines = ["| tracklets from | recordings | association IDF1, rules | association IDF1, model |", "|---|---|---|---|"]
    for origin in sorted(set(rules["origin"])):
        lines.append(f"| {origin} | {int((rules['origin'] == origin).sum())} | "
                     f"{pooled_idf1(rules[rules['origin'] == origin]):.3f} | {pooled_idf1(model[model['origin'] == origin]):.3f} |")
    return "\n".join(lines)


LOOK_TEXT = {"colours": "each track's mean hue-saturation histogram, Bhattacharyya distance",
             "embedding": "each track's mean learnt appearance embedding, models/walkout-reid.pt, (1 - cosine) / 2"}


def model_card(model: AssociationModel) -> str:
    card = model.card
    coef = "\n".join(f"| {kind} | {name} | {c:+.3f} |" for kind, m in model.kinds.items()
                     for name, c in zip(m.features, m.coef, strict=True))
    counts = "\n".join(f"| {kind} | {n['pairs']} | {n['same']} |" for kind, n in card["pairs"].items())
    return f"""# Association model (models/association.json)

Made by `walkout train --only association` on mock-store renders only: is a pair of floor tracklets
(vision/shoppers.py) one shopper? One logistic regression (scikit-learn, C = {card['c']}) per kind of
pair, on standardised features (vision/association.py), and one per kind without the look distance
(`*_without_look`: for tracks without a look, e.g. `[reid] enabled = false`). Plain numbers in JSON; no pickle.
Looks: **{model.look}** ({LOOK_TEXT[model.look]}; `[shoppers] look` must say the same).

**Data.** Multi-camera store recordings (never the held-out seeds of docs/RESULTS.md): {', '.join(card['recordings'])}.
Tracklets from {', '.join(card['origins'])} (walkout/association_training.py says how each gets its
truth shopper).

| kind | pairs | same shopper |
|---|---|---|
{counts}

**Thresholds**: a together pair is a link at P(same) >= {model.thresholds['together']}, a gap pair at
>= {model.thresholds['gap']}; a together pair below {model.thresholds['apart']} is two people. They are the grid
point with the best pooled out-of-fold association IDF1 below.

**Out of fold** (each recording associated by a model fitted without it; association IDF1 is the
share of tracklet seconds given the right shopper under a one-to-one match). The thresholds were
chosen on these same scores, so the model column is a development figure; held-out figures are in
docs/RESULTS.md.

{card['cv_table']}

**Coefficients** (standardised features):

| kind | feature | coefficient |
|---|---|---|
{coef}
"""


def train_association(roots: list[Path], out_dir: Path,
                      config: AssociationTrainingConfig | None = None) -> AssociationModel:
    """Fit the association model on every multi-camera recording under ``roots``; write
    ``association.json`` and its card ``association.md`` into ``out_dir`` (atomically)."""
    from formats.tables import write_text_atomic

    config = config or AssociationTrainingConfig()
    sources = sources_under(roots, config)
    if not sources:
        raise ValueError(f"no multi-camera recordings with truth under {', '.join(map(str, roots))}: nothing to fit")
    rows = pd.concat([pair_rows(s, config.shoppers) for s in sources], ignore_index=True)
    card = {"recordings": sorted({s.recording for s in sources}), "origins": sorted({s.origin for s in sources}),
            "c": config.c, "cv_table": "",
            "pairs": {k: {"pairs": int((rows["kind"] == k).sum()),
                          "same": int(rows.loc[rows["kind"] == k, "label"].sum())} for k in KINDS}}
    thresholds = dict(DEFAULT_THRESHOLDS)
    if len(card["recordings"]) > 1:
        oof = out_of_fold(sources, rows, config)
        thresholds = best_thresholds(oof)
        card["cv_table"] = cv_table(oof, thresholds)
    model = fit(rows, config, card, thresholds)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "association.json")
    write_text_atomic(model_card(model), out_dir / "association.md")
    log.info("association model: %d pairs from %d recordings -> %s", len(rows), len(card["recordings"]),
             out_dir / "association.json")
    return model


TRAINING_FIRST_SEED = 23000  # store renders for training, never held out (the attribution model's store group)
TRAINING_SIZE = 8


def train_from_renders(out_dir: Path, work: Path, size: int = TRAINING_SIZE,
                       runs: list[Path] | None = None, config: AssociationTrainingConfig | None = None) -> AssociationModel:
    """``walkout train --only association``: render ``size`` store recordings (seeds from
    ``TRAINING_FIRST_SEED``), run walkout on them, and fit the model into ``out_dir``. With ``runs``,
    fit on the recordings (and vision runs) under those folders instead and render nothing."""
    if runs is None:
        from walkout.bench.groups import render_and_run

        render_and_run(work / "association" / "store", "store", TRAINING_FIRST_SEED, size, 60.0)
        runs = [work / "association"]
    return train_association(runs, out_dir, config)

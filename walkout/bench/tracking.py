"""Tracking scores (HOTA, CLEAR/MOTA, Identity/IDF1) via ``trackers.eval``, and the id mapping.

``trackers.eval.evaluate_mot_sequence`` cannot be used on our files as is: its loader reads column 8
of a MOTChallenge file as the MOT17 class and keeps only class 1 (pedestrian), while our truth files
(docs/FORMAT.md) and the MOT15-style TUD reference write ``-1`` or world coordinates there, so every
truth box would be dropped. We therefore load the files ourselves (truth rows with ``conf == 0`` are
ignored, predicted rows with ``id < 0`` dropped, as in TrackEval), build the per-frame id arrays and
IoU matrices with ``trackers.eval.box_iou``, and call ``trackers.eval``'s
``compute_clear_metrics`` / ``compute_hota_metrics`` / ``compute_identity_metrics`` and their
``aggregate_*`` functions. No metric maths lives here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from trackers.eval import (
    aggregate_clear_metrics,
    aggregate_hota_metrics,
    aggregate_identity_metrics,
    box_iou,
    compute_clear_metrics,
    compute_hota_metrics,
    compute_identity_metrics,
)

from walkout.bench.config import BenchConfig
from walkout.bench.inputs import read_mot

log = logging.getLogger(__name__)

SUMMARY_FIELDS = {
    "hota": ("HOTA", "HOTA"),
    "deta": ("HOTA", "DetA"),
    "assa": ("HOTA", "AssA"),
    "mota": ("CLEAR", "MOTA"),
    "motp": ("CLEAR", "MOTP"),
    "idf1": ("Identity", "IDF1"),
    "idp": ("Identity", "IDP"),
    "idr": ("Identity", "IDR"),
    "id_switches": ("CLEAR", "IDSW"),
    "true_pos": ("CLEAR", "CLR_TP"),
    "false_pos": ("CLEAR", "CLR_FP"),
    "missed": ("CLEAR", "CLR_FN"),
    "mostly_tracked": ("CLEAR", "MT"),
    "partly_tracked": ("CLEAR", "PT"),
    "mostly_lost": ("CLEAR", "ML"),
    "fragmentations": ("CLEAR", "Frag"),
    "frames": ("CLEAR", "CLR_Frames"),
}


@dataclass(frozen=True)
class FrameSequence:
    """Per-frame inputs of ``trackers.eval``: for each frame t (1..num_frames), ``gt_ids[t]`` (G_t,)
    and ``tracker_ids[t]`` (P_t,) as 0-based contiguous ids, ``similarity[t]`` (G_t, P_t) IoU."""

    gt_ids: list[np.ndarray]
    tracker_ids: list[np.ndarray]
    similarity: list[np.ndarray]
    gt_id_of: np.ndarray  # (num_gt_ids,) original truth id of each 0-based id
    tracker_id_of: np.ndarray  # (num_tracker_ids,) original predicted id of each 0-based id


def _by_frame(rows: pd.DataFrame, num_frames: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """MOT rows -> for frames 1..num_frames: (ids (N,), boxes xywh (N, 4))."""
    rows = rows.sort_values("frame", kind="stable")
    frames = rows["frame"].to_numpy()
    ids = rows["id"].to_numpy()
    boxes = rows[["x", "y", "w", "h"]].to_numpy(dtype=float)
    bounds = np.searchsorted(frames, np.arange(1, num_frames + 2))
    return [(ids[a:b], boxes[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def prepare_sequence(truth: pd.DataFrame, predicted: pd.DataFrame) -> FrameSequence:
    """MOT truth and predicted rows (from :func:`read_mot`) -> :class:`FrameSequence`."""
    truth = truth[truth["conf"] != 0]
    if pd.api.types.is_numeric_dtype(predicted["id"]):  # store-level shopper ids (pooled) are text
        predicted = predicted[predicted["id"] >= 0]
    num_frames = int(
        max(truth["frame"].max() if len(truth) else 0, predicted["frame"].max() if len(predicted) else 0)
    )
    gt_id_of = np.unique(truth["id"].to_numpy())
    tracker_id_of = np.unique(predicted["id"].to_numpy())
    gt_ids, tracker_ids, similarity = [], [], []
    for (g_ids, g_boxes), (p_ids, p_boxes) in zip(
        _by_frame(truth, num_frames), _by_frame(predicted, num_frames), strict=True
    ):
        gt_ids.append(np.searchsorted(gt_id_of, g_ids).astype(np.intp))
        tracker_ids.append(np.searchsorted(tracker_id_of, p_ids).astype(np.intp))
        similarity.append(box_iou(g_boxes, p_boxes, box_format="xywh"))
    return FrameSequence(gt_ids, tracker_ids, similarity, gt_id_of, tracker_id_of)


def visible_rows(truth: pd.DataFrame, predicted: pd.DataFrame, min_visibility: float,
                 iou_threshold: float) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The truth boxes at least ``min_visibility`` visible (MOT17 ground truth's 9th column) and the
    predicted boxes left to score against them: a predicted box whose best overlap (IoU >=
    ``iou_threshold``) is a left-out truth box is left out too, so finding a hidden or cut-off shopper
    is neither a miss nor a false positive (MOTChallenge's ignore rule, decided by best overlap rather
    than after its matching). None when the truth gives no visibility."""
    truth = truth[truth["conf"] != 0]
    if len(truth) and truth["visibility"].isna().all():
        return None
    hidden = (truth["visibility"] < min_visibility).to_numpy()  # no visibility (NaN): scored
    drop = np.zeros(len(predicted), dtype=bool)
    truth_frames, predicted_frames = truth["frame"].to_numpy(), predicted["frame"].to_numpy()
    truth_boxes = truth[["x", "y", "w", "h"]].to_numpy(dtype=float)
    predicted_boxes = predicted[["x", "y", "w", "h"]].to_numpy(dtype=float)
    for frame in np.unique(truth_frames[hidden]):
        here = np.flatnonzero(predicted_frames == frame)
        if not len(here):
            continue
        rows = np.flatnonzero(truth_frames == frame)
        iou = box_iou(truth_boxes[rows], predicted_boxes[here], box_format="xywh")  # (truth, predicted)
        best = iou.argmax(axis=0)
        drop[here[(iou.max(axis=0) >= iou_threshold) & hidden[rows][best]]] = True
    return truth[~hidden], predicted[~drop]


def visible_sequence(truth: pd.DataFrame, predicted: pd.DataFrame, min_visibility: float,
                     iou_threshold: float) -> FrameSequence | None:
    """:func:`prepare_sequence` of :func:`visible_rows`: only the truth boxes at least ``min_visibility``
    visible are scored. None when the truth gives no visibility."""
    rows = visible_rows(truth, predicted, min_visibility, iou_threshold)
    return prepare_sequence(*rows) if rows is not None else None


@dataclass(frozen=True)
class TrackingScore:
    """Raw ``trackers.eval`` result dicts (CLEAR, HOTA with per-alpha arrays, Identity).

    ``+`` combines sequences with ``trackers.eval``'s aggregate functions (sums of counts; HOTA's
    association terms weighted by true positives), never by averaging ratios.
    """

    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __add__(self, other: TrackingScore) -> TrackingScore:
        if not self.metrics:
            return other
        if not other.metrics:
            return self
        pair = [self.metrics, other.metrics]
        aggregate = {"CLEAR": aggregate_clear_metrics, "HOTA": aggregate_hota_metrics,
                     "Identity": aggregate_identity_metrics}
        return TrackingScore({family: aggregate[family]([m[family] for m in pair])
                              for family in aggregate if all(family in m for m in pair)})

    def summary(self) -> dict[str, float | int]:
        """Flat lower-case summary: hota, mota, idf1, id_switches, ... (ratios in [0, 1])."""
        out: dict[str, float | int] = {}
        for name, (family, key) in SUMMARY_FIELDS.items():
            if family not in self.metrics:  # floor scores have no HOTA
                continue
            value = self.metrics[family][key]
            out[name] = int(value) if isinstance(value, (int, np.integer)) else float(value)
        return out


def score_sequence(sequence: FrameSequence, config: BenchConfig) -> TrackingScore:
    """HOTA (over its own 19 IoU thresholds), CLEAR and Identity (at ``config.iou_threshold``)."""
    args = (sequence.gt_ids, sequence.tracker_ids, sequence.similarity)
    return TrackingScore(
        {
            "CLEAR": compute_clear_metrics(*args, threshold=config.iou_threshold),
            "HOTA": compute_hota_metrics(*args),
            "Identity": compute_identity_metrics(*args, threshold=config.iou_threshold),
        }
    )


def score_tracks(truth_path: Path, predicted_path: Path, config: BenchConfig) -> TrackingScore:
    """Score one camera: MOTChallenge truth file vs predicted file."""
    return score_sequence(prepare_sequence(read_mot(truth_path), read_mot(predicted_path)), config)


def track_overlap(sequence: FrameSequence, iou_threshold: float) -> np.ndarray:
    """(num_tracker_ids, num_gt_ids) count of frames in which each predicted track's box has
    IoU >= ``iou_threshold`` with each truth shopper's box."""
    overlap = np.zeros((len(sequence.tracker_id_of), len(sequence.gt_id_of)), dtype=np.int64)
    for g, p, iou in zip(sequence.gt_ids, sequence.tracker_ids, sequence.similarity, strict=True):
        if iou.size:
            gi, pi = np.nonzero(iou >= iou_threshold)
            np.add.at(overlap, (p[pi], g[gi]), 1)
    return overlap


def overlap_table(sequence: FrameSequence, iou_threshold: float) -> pd.DataFrame:
    """Long table [pred_id: str, truth_id: str, frames: int] of nonzero overlaps (see track_overlap)."""
    overlap = track_overlap(sequence, iou_threshold)
    p, g = np.nonzero(overlap)
    return pd.DataFrame(
        {
            "pred_id": sequence.tracker_id_of[p].astype(str),
            "truth_id": sequence.gt_id_of[g].astype(str),
            "frames": overlap[p, g],
        }
    )


def map_ids(overlaps: pd.DataFrame) -> dict[str, str]:
    """Predicted track id -> the truth id it overlaps in the most frames (ties: smallest truth id).

    Several predicted tracks may map to one truth shopper (a fragmented track); a predicted track
    with no overlap is absent from the mapping.
    """
    if overlaps.empty:
        return {}
    summed = overlaps.groupby(["pred_id", "truth_id"], as_index=False)["frames"].sum()
    summed = summed.sort_values(
        ["pred_id", "frames", "truth_id"], ascending=[True, False, True], kind="stable"
    )
    best = summed.drop_duplicates("pred_id")
    return dict(zip(best["pred_id"], best["truth_id"], strict=True))


def misattribution_cause(
    truth_rows: pd.DataFrame, predicted_rows: pd.DataFrame, frame: int, truth_shopper: str, predicted_shopper: str,
    iou_threshold: float, reach_frames: int = 2, track_truth: dict[str, str] | None = None,
) -> str:
    """Why an event went to the wrong shopper, from the tracks around its (0-based) ``frame``:
    ``identity`` when the predicted shopper's box was on the truth shopper (IoU >= ``iou_threshold``):
    the right person was chosen, but their track's id belongs to another shopper over the recording
    (a swap or a slid id); ``attribution`` when it was on someone else, or the predicted shopper was
    not tracked there: the wrong person was chosen. '' when the truth shopper has no box there.
    Rows are MOTChallenge tables (:func:`walkout.bench.inputs.read_mot`, 1-based frames).

    Store runs: ``predicted_rows`` carry store-level shoppers in ``id`` and each box's camera track in
    ``track`` (:func:`with_store_ids`), and ``track_truth`` maps a camera track to the truth shopper it
    is on most (:func:`map_ids`). An identity error whose box's track is mostly the truth shopper is
    ``association``: the camera followed the right person, the join across cameras gave that track
    another shopper's id."""
    near = predicted_rows[(predicted_rows["id"].astype(str) == str(predicted_shopper))
                          & ((predicted_rows["frame"] - (frame + 1)).abs() <= reach_frames)]
    truth_near = truth_rows[(truth_rows["id"].astype(str) == str(truth_shopper))
                            & ((truth_rows["frame"] - (frame + 1)).abs() <= reach_frames)]
    if truth_near.empty:
        return ""
    if near.empty:
        return "attribution"
    box = near.iloc[int((near["frame"] - (frame + 1)).abs().to_numpy().argmin())]
    same = truth_near[truth_near["frame"] == box["frame"]]
    if same.empty:
        return ""
    iou = box_iou(same[["x", "y", "w", "h"]].to_numpy(float)[:1], box[["x", "y", "w", "h"]].to_numpy(float)[None],
                  box_format="xywh")
    if float(iou[0, 0]) < iou_threshold:
        return "attribution"
    if track_truth is not None and "track" in box.index and track_truth.get(str(int(box["track"]))) == str(truth_shopper):
        return "association"
    return "identity"


def with_store_ids(predicted: pd.DataFrame, camera: str, shopper_of: dict[str, dict[str, str]]) -> pd.DataFrame:
    """One camera's predicted MOT rows with ``id`` the store-level shopper of each track
    (``shopper_of[camera][track id]``, run.json's ``shoppers.tracks``; ``<camera>-<track>`` for a track
    it does not name) and ``track`` the camera's track id; rows without an id (``id`` < 0) are left out."""
    predicted = predicted[predicted["id"] >= 0]
    return predicted.assign(track=predicted["id"].astype(int),
                            id=[store_id(shopper_of, camera, int(t)) for t in predicted["id"]])


def store_id(shopper_of: dict[str, dict[str, str]], camera: str, track: int | str) -> str:
    """A camera track's store-level shopper (run.json's ``shoppers.tracks``), ``<camera>-<track>`` for a
    track it does not name."""
    return shopper_of.get(camera, {}).get(str(track), f"{camera}-{track}")


@dataclass(frozen=True)
class IdentityLoss:
    """Where a store run's identities go wrong, counted in matched boxes (a predicted box on a truth
    box, IoU >= the bench's threshold, in any camera): the camera's tracker or the join across cameras.

    switched: boxes of a camera track on a truth shopper other than the one it is on most (the
        camera's track changed people: a swap, or an id that slid onto someone else);
    wrong_join: boxes of camera tracks (counted on their main truth shopper) joined into a store-level
        shopper who is mostly another truth shopper (the join put two people together);
    split_join: boxes of camera tracks joined into a store-level shopper of their own truth shopper,
        but not the one holding most of that shopper's boxes (the join left one person in pieces).
    ``+`` sums the counts; shares are of ``matched``."""

    matched: int = 0
    switched: int = 0
    wrong_join: int = 0
    split_join: int = 0

    def __add__(self, other: IdentityLoss) -> IdentityLoss:
        return IdentityLoss(self.matched + other.matched, self.switched + other.switched,
                            self.wrong_join + other.wrong_join, self.split_join + other.split_join)

    def share(self, part: str) -> float:
        return getattr(self, part) / self.matched if self.matched else float("nan")


def identity_loss(overlaps: dict[str, pd.DataFrame], shopper_of: dict[str, dict[str, str]]) -> IdentityLoss:
    """:class:`IdentityLoss` of one store run: ``overlaps`` per camera (:func:`overlap_table` of its
    truth and predicted camera tracks), ``shopper_of`` camera -> track id -> store-level shopper
    (run.json's ``shoppers.tracks``; a track it does not name is ``<camera>-<track>``)."""
    tables = [table.assign(track=camera + "/" + table["pred_id"],
                           store=[store_id(shopper_of, camera, t) for t in table["pred_id"]])
              for camera, table in overlaps.items() if len(table)]
    if not tables:
        return IdentityLoss()
    pairs = pd.concat(tables, ignore_index=True)
    # Each camera track on its main truth shopper, then each store-level shopper on the truth shopper
    # most of its tracks' main boxes are (both as the bench maps ids: map_ids).
    track_truth = map_ids(pairs.assign(pred_id=pairs["track"]))
    main = pairs[pairs["truth_id"] == pairs["track"].map(track_truth)]
    store_truth = map_ids(main.assign(pred_id=main["store"]))
    owned = main[main["truth_id"] == main["store"].map(store_truth)]
    own = owned.groupby(["truth_id", "store"])["frames"].sum().groupby(level="truth_id").agg(["sum", "max"])
    matched = int(pairs["frames"].sum())
    return IdentityLoss(matched=matched, switched=matched - int(main["frames"].sum()),
                        wrong_join=int(main["frames"].sum() - owned["frames"].sum()),
                        split_join=int((own["sum"] - own["max"]).sum()))


# When every camera is pooled into one sequence, each camera's frames follow the previous camera's
# last frame after this many empty frames.
POOLED_FRAME_GAP = 10


def pooled_sequence(mot_tables: dict[str, tuple[pd.DataFrame, pd.DataFrame]],
                    shopper_of: dict[str, dict[str, str]]) -> FrameSequence:
    """Every camera's truth and predicted tracks as one sequence (the AI City multi-camera way): a
    predicted box carries its store-level shopper (``shopper_of[camera][track id]``, run.json's
    ``shoppers.tracks``), a truth box its truth shopper, and each camera's frames are a stretch of
    their own. A predicted shopper must then be one truth shopper in every camera to score well."""
    truths, predictions = [], []
    offset = 0
    for camera, (truth, predicted) in sorted(mot_tables.items()):
        truths.append(truth.assign(frame=truth["frame"] + offset, id=truth["id"].astype(str)))
        predicted = with_store_ids(predicted, camera, shopper_of)
        predictions.append(predicted.assign(frame=predicted["frame"] + offset))
        last = max(truth["frame"].max() if len(truth) else 0, predicted["frame"].max() if len(predicted) else 0)
        offset += int(last) + POOLED_FRAME_GAP
    return prepare_sequence(pd.concat(truths, ignore_index=True), pd.concat(predictions, ignore_index=True))


def floor_sequence(truth: pd.DataFrame, predicted: pd.DataFrame, step_s: float, radius_m: float) -> FrameSequence:
    """Floor positions (``timestamp, shopper, x, y``: truth/shoppers.csv and a run's shoppers.csv) ->
    a sequence whose similarity is ``1 - distance / radius_m`` (0 beyond the radius), per ``step_s``
    time step (WILDTRACK's ground-plane scoring: a match is a point within the radius)."""
    start = min(truth["timestamp"].min(), predicted["timestamp"].min() if len(predicted) else np.inf)

    def rows(table: pd.DataFrame) -> pd.DataFrame:
        frame = np.round((table["timestamp"].to_numpy(float) - start) / step_s).astype(np.int64) + 1
        return pd.DataFrame({"frame": frame, "id": table["shopper"].astype(str).to_numpy(),
                             "x": table["x"].to_numpy(float), "y": table["y"].to_numpy(float)})

    t, p = rows(truth), rows(predicted)
    t = t.drop_duplicates(["frame", "id"])
    p = p.drop_duplicates(["frame", "id"])
    num_frames = int(max(t["frame"].max() if len(t) else 0, p["frame"].max() if len(p) else 0))
    gt_id_of, tracker_id_of = np.unique(t["id"].to_numpy()), np.unique(p["id"].to_numpy())
    gt_ids, tracker_ids, similarity = [], [], []
    t, p = t.sort_values("frame", kind="stable"), p.sort_values("frame", kind="stable")
    tb = np.searchsorted(t["frame"].to_numpy(), np.arange(1, num_frames + 2))
    pb = np.searchsorted(p["frame"].to_numpy(), np.arange(1, num_frames + 2))
    t_ids, t_xy = t["id"].to_numpy(), t[["x", "y"]].to_numpy(float)
    p_ids, p_xy = p["id"].to_numpy(), p[["x", "y"]].to_numpy(float)
    for f in range(num_frames):
        g = slice(tb[f], tb[f + 1])
        q = slice(pb[f], pb[f + 1])
        gt_ids.append(np.searchsorted(gt_id_of, t_ids[g]).astype(np.intp))
        tracker_ids.append(np.searchsorted(tracker_id_of, p_ids[q]).astype(np.intp))
        distance = np.linalg.norm(t_xy[g][:, None, :] - p_xy[q][None, :, :], axis=2)
        similarity.append(np.clip(1.0 - distance / radius_m, 0.0, 1.0))
    return FrameSequence(gt_ids, tracker_ids, similarity, gt_id_of, tracker_id_of)


def score_floor(sequence: FrameSequence) -> TrackingScore:
    """CLEAR and Identity on a floor sequence: any point within the radius matches (similarity > 0)."""
    args = (sequence.gt_ids, sequence.tracker_ids, sequence.similarity)
    return TrackingScore({"CLEAR": compute_clear_metrics(*args, threshold=1e-9),
                          "Identity": compute_identity_metrics(*args, threshold=1e-9)})

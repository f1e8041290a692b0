"""Score one recording's predictions against its truth, and many recordings into one report.

Layout read (docs/FORMAT.md)::

    <recording>/store.json, truth/events.csv, truth/tracks/<camera>.txt
    <predictions>/<recording folder name>/events.csv, tracks/<camera>.txt, run.json, receipts.json

A recording fails (and is listed as failed, the others go on) when its folder, its
truth/events.csv, or its predictions folder is missing, or any file read is malformed. Parts that
are simply absent are not failures: they are reported as "not scored" with the reason (no truth
tracks, no predicted tracks, no receipts.json, no timings).

Shopper ids. Predicted shopper ids are track ids; each is mapped to the truth shopper its track
overlaps in the most frames (IoU >= ``iou_threshold``), per camera (an event uses its own camera's
mapping; an event without a known camera uses overlaps summed over cameras). A predicted id with no
overlap maps to ``pred:<id>`` and never equals a truth id. When there are no predicted tracks at
all, predicted ids are compared with truth ids as they are, and the report says so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from formats.errors import FormatError
from formats.tables import read_events, read_positions
from walkout.bench.calibration import LineOutcome, line_outcomes
from walkout.bench.config import BenchConfig
from walkout.bench.counts import Counts
from walkout.bench.events import EventScore, confusion, match_events, one_weight_change_causes, score_events
from walkout.bench.inputs import CameraClock, read_camera_clocks, read_json, read_mot
from walkout.bench.receipts import (
    UNMAPPED_PREFIX,
    CartScore,
    compare_carts,
    merge_mapped,
    net_carts,
    read_receipts,
    receipt_events,
    score_carts,
    split_receipts,
    store_cart,
)
from walkout.bench.speed import SpeedScore, read_speed
from walkout.bench.tracking import (
    IdentityLoss,
    TrackingScore,
    floor_sequence,
    identity_loss,
    map_ids,
    misattribution_cause,
    overlap_table,
    pooled_sequence,
    prepare_sequence,
    score_floor,
    score_sequence,
    visible_rows,
    with_store_ids,
)

log = logging.getLogger(__name__)

# Exceptions that mark one recording as failed instead of stopping the run.
RECORDING_ERRORS = (FormatError, OSError, ValueError, KeyError)


@dataclass(frozen=True)
class RecordingResult:
    """Everything scored for one recording; ``None`` parts were not scored (see ``notes``)."""

    name: str
    error: str | None = None
    events: EventScore | None = None
    confusion: list[dict] = field(default_factory=list)
    fused_confusion: list[dict] = field(default_factory=list)
    carts: CartScore | None = None
    cart_rows: list[dict] = field(default_factory=list)
    event_store: Counts | None = None
    receipts: CartScore | None = None
    fused_events: EventScore | None = None
    line_outcomes: list[LineOutcome] = field(default_factory=list)  # fused lines with a probability, scored
    receipt_rows: list[dict] = field(default_factory=list)
    receipt_store: Counts | None = None
    tracking: dict[str, TrackingScore] = field(default_factory=dict)
    visible_tracking: dict[str, TrackingScore] = field(default_factory=dict)
    global_tracking: TrackingScore | None = None
    global_visible_tracking: TrackingScore | None = None  # global_tracking of the visible truth boxes
    identity_loss: IdentityLoss | None = None  # store runs: where identities go wrong (tracker or join)
    floor_tracking: TrackingScore | None = None
    id_mapping: dict[str, dict[str, str]] = field(default_factory=dict)
    speed: SpeedScore = SpeedScore()
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


def _locator(clocks: dict[str, CameraClock]):
    default = next(iter(clocks.values()), None)

    def locate(timestamp: float, camera: str) -> tuple[str, int | None, float | None]:
        clock = clocks.get(camera, default)
        if clock is None:
            return camera, None, None
        frame, video_s = clock.locate(timestamp)
        return clock.camera, frame, video_s

    return locate


def _with_causes(rows: list[dict], mot_tables: dict[str, tuple[pd.DataFrame, pd.DataFrame]], config: BenchConfig,
                 clocks: dict[str, CameraClock], track_truth: dict[str, dict[str, str]] | None = None) -> list[dict]:
    """Confusion rows with ``cause``: for a misattributed event, identity, association or attribution
    (see :func:`walkout.bench.tracking.misattribution_cause`); '' for other rows or without tracks.

    Store runs (``track_truth`` given: camera -> track -> the truth shopper it is on most): the
    predicted shopper is a store id, not a camera's track id, so ``mot_tables``' predicted boxes carry
    their track's shopper (:func:`walkout.bench.tracking.with_store_ids`), and every camera is looked
    at, the event's own first, at its own frame of the event's time. The predicted shopper's box on
    the truth shopper in any of them makes it an id error: *association* when that box's track is
    mostly the truth shopper, else *identity*."""
    for row in rows:
        row["cause"] = ""
        if row["kind"] != "misattributed" or row["frame"] is None:
            continue
        cameras = [row["camera"]]
        if track_truth is not None:
            cameras += sorted(c for c in mot_tables if c != row["camera"] and c in clocks)
        causes = []
        for camera in cameras:
            frame = row["frame"] if camera == row["camera"] else clocks[camera].locate(row["timestamp"])[0]
            if camera in mot_tables and frame is not None:
                causes.append(misattribution_cause(
                    *mot_tables[camera], int(frame), row["truth_shopper"], row["pred_shopper"], config.iou_threshold,
                    track_truth=None if track_truth is None else track_truth.get(camera, {})))
        row["cause"] = next((c for c in ("identity", "association", "attribution") if c in causes), "")
    return rows


def _map_shoppers(
    predicted: pd.DataFrame, per_camera: dict[str, dict[str, str]], overall: dict[str, str], mapped: bool
) -> pd.Series:
    """Predicted shopper ids -> truth ids (str), ``pred:<id>`` when unmapped (module docstring)."""
    if not mapped:
        return predicted["shopper"].astype(str)
    out = []
    for shopper, camera in zip(
        predicted["shopper"].astype(str), predicted["camera"].astype(str), strict=True
    ):
        table = per_camera.get(camera, overall)
        out.append(table.get(shopper, f"{UNMAPPED_PREFIX}{shopper}"))
    return pd.Series(out, index=predicted.index, dtype=object)


def score_recording(recording: Path, predictions: Path, config: BenchConfig) -> RecordingResult:
    """Score ``predictions`` (the folder for this recording) against ``recording``'s truth.

    Raises FormatError / OSError for a recording that cannot be scored (see module docstring).
    """
    name = recording.name
    notes: list[str] = []
    if not recording.is_dir():
        raise FormatError(recording, "recording folder not found")
    truth_events_path = recording / "truth" / "events.csv"
    if not truth_events_path.is_file():
        raise FormatError(truth_events_path, "no truth: file not found (a labelled recording is needed)")
    if not predictions.is_dir():
        raise FormatError(predictions, "no predictions for this recording (folder not found)")

    run_path = predictions / "run.json"
    run_info = read_json(run_path) if run_path.is_file() else {}
    if (recording / "store.json").is_file():
        clocks = read_camera_clocks(recording, run_info)
    else:
        clocks = {}
        notes.append("no store.json: confusion list without frames / video times")
    truth = read_events(truth_events_path)

    # Tracking, and the predicted-id -> truth-id mapping it gives.
    tracking: dict[str, TrackingScore] = {}
    visible_tracking: dict[str, TrackingScore] = {}  # only the truth boxes at least min_visibility visible
    per_camera: dict[str, dict[str, str]] = {}
    overlaps: dict[str, pd.DataFrame] = {}  # camera -> its truth / predicted track overlaps
    mot_tables: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}  # camera -> (truth, predicted) tracks
    visible_tables: dict[str, tuple[pd.DataFrame, pd.DataFrame] | None] = {}  # the same, visible boxes only
    truth_track_shoppers: set[str] = set()
    truth_tracks_dir = recording / "truth" / "tracks"
    truth_track_files = sorted(truth_tracks_dir.glob("*.txt")) if truth_tracks_dir.is_dir() else []
    if not truth_track_files:
        notes.append("tracking not scored: no truth/tracks/<camera>.txt")
    for truth_path in truth_track_files:
        camera = truth_path.stem
        truth_rows = read_mot(truth_path)
        truth_track_shoppers |= set(truth_rows.loc[truth_rows["conf"] != 0, "id"].astype(str))
        pred_path = predictions / "tracks" / f"{camera}.txt"
        if not pred_path.is_file():
            notes.append(f"tracking of {camera} not scored: no predicted tracks/{camera}.txt")
            continue
        mot_tables[camera] = (truth_rows, read_mot(pred_path))
        sequence = prepare_sequence(*mot_tables[camera])
        tracking[camera] = score_sequence(sequence, config)
        visible_tables[camera] = visible_rows(*mot_tables[camera], config.min_visibility, config.iou_threshold)
        if visible_tables[camera] is not None:
            visible_tracking[camera] = score_sequence(prepare_sequence(*visible_tables[camera]), config)
        table = overlap_table(sequence, config.iou_threshold)
        per_camera[camera] = map_ids(table)
        overlaps[camera] = table
    mapped = bool(tracking)
    overall_mapping = map_ids(pd.concat(overlaps.values(), ignore_index=True)) if overlaps else {}
    shoppers = run_info.get("shoppers") if isinstance(run_info.get("shoppers"), dict) else {}
    result: dict = {}
    if shoppers.get("identity") == "per-camera":
        notes.append("identities are per camera (several cameras, not calibrated): one person seen by two "
                     "cameras is two shoppers, so receipts split")
    cause_tables = mot_tables  # the tracks misattribution causes are read from (store runs: store-level ids)
    track_truth: dict[str, dict[str, str]] | None = None  # store runs: camera -> track -> truth shopper on most
    if shoppers.get("identity") in ("store", "per-camera") and mot_tables:
        # Store-level ids: every camera pooled, and ONE predicted -> truth shopper map per recording.
        store_ids = shoppers.get("tracks") or {}
        cause_tables = {camera: (camera_truth, with_store_ids(camera_predicted, camera, store_ids))
                        for camera, (camera_truth, camera_predicted) in mot_tables.items()}
        sequence = pooled_sequence(mot_tables, store_ids)
        result["global_tracking"] = score_sequence(sequence, config)
        if all(pair is not None for pair in visible_tables.values()):
            result["global_visible_tracking"] = score_sequence(
                pooled_sequence(visible_tables, store_ids), config)
        overall_mapping = map_ids(overlap_table(sequence, config.iou_threshold))
        result["identity_loss"] = identity_loss(overlaps, store_ids)
        track_truth, per_camera = per_camera, {}
    truth_floor = recording / "truth" / "shoppers.csv"
    predicted_floor = predictions / "shoppers.csv"
    if truth_floor.is_file() and predicted_floor.is_file():
        truth_positions = read_positions(truth_floor)
        predicted_positions = read_positions(predicted_floor)
        step = 1.0 / max((c.fps for c in clocks.values() if c.fps), default=10.0)
        if len(truth_positions) and len(predicted_positions):
            result["floor_tracking"] = score_floor(
                floor_sequence(truth_positions, predicted_positions, step, config.floor_radius_m))
    if not mapped:
        notes.append(
            "shopper ids not mapped (no predicted tracks): predicted ids compared with truth ids as they are"
        )

    result.update(tracking=tracking, visible_tracking=visible_tracking, id_mapping=per_camera)

    # Events, carts from events.
    events_path = predictions / "events.csv"
    if events_path.is_file():
        predicted = read_events(events_path)
        predicted["mapped_shopper"] = _map_shoppers(predicted, per_camera, overall_mapping, mapped)
        match = match_events(truth, predicted, config)
        result["events"] = score_events(truth, predicted, match)
        result["confusion"] = one_weight_change_causes(
            _with_causes(confusion(truth, predicted, match, _locator(clocks)), cause_tables, config, clocks,
                         track_truth), config.tolerance_s)
        carts, rows = score_carts(
            net_carts(truth, "shopper"), net_carts(predicted, "mapped_shopper"), truth_track_shoppers
        )
        result.update(
            carts=carts, cart_rows=rows, event_store=compare_carts(store_cart(truth), store_cart(predicted))
        )
    else:
        notes.append("events not scored: no predicted events.csv")

    receipts_path = predictions / "receipts.json"
    if receipts_path.is_file():
        receipts = read_receipts(receipts_path)
        mapping = overall_mapping if mapped else {s: s for s in receipts.shoppers}
        score, rows = score_carts(
            net_carts(truth, "shopper"), merge_mapped(receipts.shoppers, mapping), truth_track_shoppers
        )
        split = split_receipts(receipts.shoppers, mapping)
        rows = [{**row, "split": row["shopper"] in split} for row in rows]
        # Truth shoppers' receipts only: a shopper no truth one matches with an empty receipt is "exact" too.
        score = replace(score, split=len(split), exact_unsplit=sum(
            1 for row in rows if row["exact"] and not row["split"] and not row["shopper"].startswith(UNMAPPED_PREFIX)))
        # The fused timeline (receipt lines as events) scored like vision's events.
        fused = receipt_events(receipts_path)
        fused["mapped_shopper"] = [mapping.get(s, f"{UNMAPPED_PREFIX}{s}") if s else "" for s in fused["shopper"]]
        fused_match = match_events(truth, fused, config)
        result.update(
            receipts=score, receipt_rows=rows, receipt_store=compare_carts(store_cart(truth), receipts.store),
            fused_events=score_events(truth, fused, fused_match),
            line_outcomes=line_outcomes(truth, fused, fused_match),
            fused_confusion=one_weight_change_causes(
                _with_causes(confusion(truth, fused, fused_match, _locator(clocks)), cause_tables, config, clocks,
                             track_truth), config.tolerance_s),
        )
    else:
        notes.append("receipts not scored: no receipts.json")

    speed = read_speed(run_info, run_path)
    if not speed.measured:
        notes.append("no timings")
    if "events" not in result and "receipts" not in result:
        raise FormatError(predictions, "no predictions to score: neither events.csv nor receipts.json")
    return RecordingResult(name=name, speed=speed, notes=notes, **result)


def expand_recordings(paths: Sequence[Path]) -> list[Path]:
    """A folder with a store.json is a recording; a folder without one holding recordings stands for
    all of them (one level, sorted); anything else is kept and reported as a bad recording."""
    found: list[Path] = []
    for path in map(Path, paths):
        children = sorted(p for p in path.iterdir() if (p / "store.json").is_file()) if path.is_dir() else []
        if (path / "store.json").is_file() or not children:
            found.append(path)
        else:
            found.extend(children)
    return found


def score_recordings(
    recordings: Sequence[Path], predictions_dir: Path, config: BenchConfig
) -> list[RecordingResult]:
    """Score each recording; a failure is logged and recorded, and the next recording goes on."""
    results = []
    for recording in expand_recordings(recordings):
        try:
            results.append(score_recording(recording, Path(predictions_dir) / recording.name, config))
        except RECORDING_ERRORS as exc:
            log.error("%s: %s", recording.name, exc)
            results.append(RecordingResult(name=recording.name, error=str(exc)))
    return results

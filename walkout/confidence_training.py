"""Fitting the confidence model (fusion.confidence): every decided receipt line of fused mock-store runs,
its evidence, and whether the bench scores it right.

Each run is fused again with the shipped (or given) attribution model and no calibration, so a line's
features see the take probabilities as fusion makes them; a line is right as the bench scores it
(walkout.bench.calibration: matched to a truth event of the same action and product, in time, of the
shopper its predicted shopper maps to). The runs must be of renders the attribution model was not fitted
on (its take probabilities are too sure on its own training renders): ``walkout train --only
confidence`` renders its own calibration groups (seeds from ``CALIBRATION_FIRST_SEED``) or fits on the
bench-layout runs given with ``--runs``.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from formats.tables import read_events, write_text_atomic
from fusion.attribution import DEFAULT_MODEL as ATTRIBUTION_MODEL
from fusion.attribution import AttributionConfig
from fusion.confidence import FEATURES, ConfidenceModel, fingerprint, line_features
from fusion.pipeline import FuseConfig, fuse_recording
from walkout.attribution_training import render_groups, runs_under, shopper_map
from walkout.bench.calibration import expected_calibration_error, reliability, right_lines
from walkout.bench.config import BenchConfig
from walkout.bench.events import match_events
from walkout.bench.receipts import UNMAPPED_PREFIX, receipt_events, receipt_line_dicts

log = logging.getLogger(__name__)

C = 1.0  # scikit-learn's inverse L2 strength (the features are few and on a log-odds or 0-1 scale)
CALIBRATION_FIRST_SEED = 25000  # calibration renders: seeds 25000-27999 (of the training range 20000-29999, never held
# out), which the attribution model (20000-23015) and the association and reid models (23000-24023) never use
CALIBRATION_SIZES = {"two": 40, "crowded": 40, "store": 16}


def line_rows(recording: Path, predictions: Path, group: str = "", attribution_model: Path | None = None) -> pd.DataFrame:
    """Fuse one run (take probabilities, no calibration) and score its decided lines: recording, group,
    take_probability, FEATURES..., right."""
    truth = read_events(recording / "truth" / "events.csv")
    truth["shopper"] = truth["shopper"].astype(str)
    mapping = shopper_map(recording, predictions)
    config = FuseConfig(attribution=AttributionConfig(model=str(attribution_model or ""), confidence="none"))
    tracks = predictions / "tracks.csv"
    several = tracks.is_file() and pd.read_csv(tracks, usecols=["camera"])["camera"].nunique() > 1
    with tempfile.TemporaryDirectory() as scratch:
        fuse_recording(recording, predictions, Path(scratch), config=config)
        path = Path(scratch) / "receipts.json"
        fused, lines = receipt_events(path), receipt_line_dicts(path)
    fused["mapped_shopper"] = [mapping.get(s, f"{UNMAPPED_PREFIX}{s}") if s else "" for s in fused["shopper"]]
    right = right_lines(truth, fused, match_events(truth, fused, BenchConfig()))
    rows = []
    for (_, event), line, ok in zip(fused.iterrows(), lines, right, strict=True):
        candidates = line.get("candidates") or {}
        if not candidates or event["shopper"] not in candidates:
            continue  # no shopper decision (fallback, unattributed): nothing to calibrate
        vision = line.get("vision")
        features = line_features({str(k): float(v) for k, v in candidates.items()}, event["shopper"],
                                 None if vision is None else str(vision["shopper"]), event["action"], several)
        rows.append({"recording": recording.name, "group": group, "take_probability": float(candidates[event["shopper"]]),
                     **dict(zip(FEATURES, features, strict=True)), "right": bool(ok)})
    return pd.DataFrame(rows, columns=["recording", "group", "take_probability", *FEATURES, "right"])


def gather_lines(roots: list[Path], attribution_model: Path | None = None) -> pd.DataFrame:
    tables = [line_rows(recording, run, group, attribution_model) for recording, run, group in runs_under(roots)]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _fit(rows: pd.DataFrame):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=1000).fit(rows[list(FEATURES)].to_numpy(float), rows["right"].to_numpy(int))


def out_of_fold(rows: pd.DataFrame, folds: int = 5) -> np.ndarray:
    """Each line's calibrated probability from a model fitted without its recording (GroupKFold)."""
    from sklearn.model_selection import GroupKFold

    keys = rows["recording"].to_numpy()
    out = np.zeros(len(rows))
    for train, test in GroupKFold(n_splits=min(folds, len(set(keys)))).split(rows, groups=keys):
        out[test] = _fit(rows.iloc[train]).predict_proba(rows.iloc[test][list(FEATURES)].to_numpy(float))[:, 1]
    return out


def _ece(p: np.ndarray, right: np.ndarray) -> float:
    return expected_calibration_error(reliability(np.asarray(p, float), np.asarray(right, bool)))


def cv_table(rows: pd.DataFrame, calibrated: np.ndarray) -> str:
    """Per group: lines, share right, ECE of the take probability and of the calibrated one (out of fold)."""
    out = ["| group | lines | right | ECE, take probability | ECE, calibrated (out of fold) |", "|---|---|---|---|---|"]
    for group in sorted(set(rows["group"])):
        mine = (rows["group"] == group).to_numpy()
        right = rows["right"].to_numpy(bool)[mine]
        out.append(f"| {group} | {mine.sum()} | {right.mean():.3f} | "
                   f"{_ece(rows['take_probability'].to_numpy()[mine], right):.3f} | {_ece(calibrated[mine], right):.3f} |")
    return "\n".join(out)


def train_confidence(roots: list[Path], out_dir: Path, attribution_model: Path | None = None) -> ConfidenceModel:
    """Fit the confidence model on every run under ``roots`` (benchmarks/accuracy.py's layout), write
    ``confidence.json`` and its card ``confidence.md`` into ``out_dir`` (atomically), return it."""
    attribution_model = Path(attribution_model or ATTRIBUTION_MODEL)
    rows = gather_lines(roots, attribution_model)
    if rows.empty or rows["right"].nunique() < 2:
        raise ValueError(f"no scored lines (or all of one outcome) under {', '.join(map(str, roots))}: nothing to fit")
    calibrated = out_of_fold(rows) if rows["recording"].nunique() > 1 else rows["take_probability"].to_numpy(float)
    fitted = _fit(rows)
    seeds = {group: sorted(set(rows.loc[rows["group"] == group, "recording"])) for group in sorted(set(rows["group"]))}
    card = {"sources": [f"{group} ({len(names)}: {', '.join(names)})" for group, names in seeds.items()],
            "lines": len(rows), "c": C, "cv_table": cv_table(rows, calibrated)}
    model = ConfidenceModel(tuple(map(float, fitted.coef_[0])), float(fitted.intercept_[0]),
                            fingerprint(attribution_model), card)
    model.save(out_dir / "confidence.json")
    write_text_atomic(model_card(model), out_dir / "confidence.md")
    log.info("confidence model: %d lines -> %s", len(rows), out_dir / "confidence.json")
    return model


def model_card(model: ConfidenceModel) -> str:
    card = model.card
    coefficients = "\n".join(f"| {name} | {value:+.3f} |" for name, value in
                             sorted(zip(FEATURES, model.coef, strict=True), key=lambda x: -abs(x[1])))
    return f"""# Confidence model (models/confidence.json)

Made by `walkout train --only confidence`. A logistic regression (scikit-learn, C = {card.get('c', C)}) from
a receipt line's evidence to the probability that the line is right (the bench's test: matched to a
truth event of the same action and product, in time, of the line's shopper), fusion/confidence.py.
It calibrates the attribution model's take probability, which cannot see a taker nobody tracked (a
lone candidate is certain by construction) or a store shopper given the wrong person's id. Fitted for
the attribution model with sha256 `{model.attribution_sha256[:16]}...`; for another one (or without this file)
fusion keeps the take probability, warns, and says so in each line's reason. Plain numbers in JSON; no pickle.

**Data.** Fused lines of vision runs of renders the attribution model never saw: {'; '.join(card.get('sources', []))}.
In all {card.get('lines', 0)} lines with a shopper decision.

**Out of fold** (each line scored by a model fitted without its recording, 5 folds), expected
calibration error (10 bins) of the take probability and of the calibrated probability. Which lines go
to review is decided by the take probability (`[attribution] review_below`), not by this model.

{card.get('cv_table', '')}

**Coefficients** (intercept {model.intercept:+.3f}):

| feature | coefficient |
|---|---|
{coefficients}

**Limits.** Rendered shoppers and the mock store's products only; a line is scored right or wrong
for its shopper and product, not its quantity. Held-out figures: docs/RESULTS.md.
"""


def train_from_renders(out_dir: Path, work: Path, sizes: dict[str, int] | None = None,
                       runs: list[Path] | None = None) -> ConfidenceModel:
    """``walkout train --only confidence``: render the calibration groups (seeds from
    ``CALIBRATION_FIRST_SEED``, ``sizes`` recordings per group), run walkout on them and fit into
    ``out_dir``; with ``runs``, fit on those runs instead (benchmarks/accuracy.py's layout)."""
    if runs is None:
        runs = [render_groups(work / "confidence", CALIBRATION_FIRST_SEED, sizes or CALIBRATION_SIZES)]
    attribution = out_dir / "attribution.json"
    return train_confidence(runs, out_dir, attribution if attribution.is_file() else None)

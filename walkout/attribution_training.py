"""Training data for the attribution model: every take of fused mock-store runs, each candidate's
evidence, and whether that candidate is who the truth says made it.

A take's truth takers are the shoppers of the truth events (truth/events.csv) on its shelf, of its
action and product, timed within ``TRUTH_WINDOW_S`` of it; a candidate (a predicted shopper id) is
mapped to a truth shopper the way the bench maps them (the truth shopper its track overlaps most,
pooled over cameras when the run has store-level shoppers). Takes whose takers are not among their
candidates (nobody tracked there, or the item itself was wrong) teach nothing about *who* and are
counted, not used.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from formats.tables import read_events
from fusion.attribution import AttributionModel, NearestShopper, fit_model, softmax
from fusion.evidence import FEATURES, Take
from fusion.pipeline import fuse_recording
from walkout.bench.calibration import expected_calibration_error, reliability
from walkout.bench.config import BenchConfig
from walkout.bench.inputs import read_json, read_mot
from walkout.bench.tracking import map_ids, overlap_table, pooled_sequence, prepare_sequence

log = logging.getLogger(__name__)

TRUTH_WINDOW_S = 1.5


def shopper_map(recording: Path, predictions: Path) -> dict[str, str]:
    """Predicted shopper id -> truth shopper id, as the bench maps receipts (most overlapped frames)."""
    config = BenchConfig()
    tables = {}
    for truth_path in sorted((recording / "truth" / "tracks").glob("*.txt")):
        pred_path = predictions / "tracks" / truth_path.name
        if pred_path.is_file():
            tables[truth_path.stem] = (read_mot(truth_path), read_mot(pred_path))
    if not tables:
        return {}
    run_path = predictions / "run.json"
    shoppers = (read_json(run_path).get("shoppers") or {}) if run_path.is_file() else {}
    if isinstance(shoppers, dict) and shoppers.get("identity") in ("store", "per-camera"):
        return map_ids(overlap_table(pooled_sequence(tables, shoppers.get("tracks") or {}), config.iou_threshold))
    overlaps = [overlap_table(prepare_sequence(*pair), config.iou_threshold) for pair in tables.values()]
    return map_ids(pd.concat(overlaps, ignore_index=True))


def takers(take: Take, truth: pd.DataFrame) -> set[str]:
    """The truth shoppers who made ``take`` (module docstring)."""
    near = truth[(truth["shelf"] == take.event.shelf) & (truth["action"] == take.action) & (truth["sku"] == take.sku)
                 & (truth["timestamp"] >= take.start - TRUTH_WINDOW_S) & (truth["timestamp"] <= take.end + TRUTH_WINDOW_S)]
    return set(near["shopper"].astype(str))


def take_rows(recording: Path, predictions: Path, group: str = "") -> tuple[pd.DataFrame, dict[str, int]]:
    """Fuse one run (nearest-shopper attribution, so the features never see a model) and label every
    candidate of every take. Returns (rows: recording, group, take, candidate, FEATURES..., label;
    counts of takes: used, without truth, taker not a candidate)."""
    truth = read_events(recording / "truth" / "events.csv")
    truth["shopper"] = truth["shopper"].astype(str)
    mapping = shopper_map(recording, predictions)
    collected: list[tuple[Take, pd.DataFrame]] = []
    with tempfile.TemporaryDirectory() as scratch:
        fuse_recording(recording, predictions, Path(scratch), model=NearestShopper(),
                       collect=lambda take, frame: collected.append((take, frame.copy())))
    counts = {"used": 0, "no_truth": 0, "taker_not_candidate": 0}
    rows = []
    for k, (take, frame) in enumerate(collected):
        if frame.empty:
            continue
        who = takers(take, truth)
        labels = np.array([mapping.get(str(name), f"pred:{name}") in who for name in frame.index])
        if not who:
            counts["no_truth"] += 1
            continue
        if not labels.any():
            counts["taker_not_candidate"] += 1
            continue
        counts["used"] += 1
        rows.append(frame.assign(recording=recording.name, group=group, take=f"{predictions}#{k}",
                                 candidate=frame.index.astype(str), label=labels.astype(int)).reset_index(drop=True))
    columns = ["recording", "group", "take", "candidate", *FEATURES, "label"]
    table = pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)
    return table, counts


def take_accuracy(model: AttributionModel, rows: pd.DataFrame) -> dict[str, float]:
    """Per take: is the most probable candidate a taker? Returns takes, accuracy and the expected
    calibration error (10 bins) of the chosen candidates' probabilities."""
    chosen = _chosen(rows.assign(logit=model.logits(rows)[0]))
    return {"takes": len(chosen), "accuracy": float(chosen["right"].mean()) if len(chosen) else float("nan"),
            "ece": _ece(chosen)}


# The L2 penalty: of 0.1, 1 and 10, 10 scored best pooled over the groups left out one at a time
# (benchmarks/attribution_cv.py on the training runs: 0.899 of takes right, against 0.887 and 0.891).
L2 = 10.0


def fit_on(rows: pd.DataFrame, card: dict | None = None, l2: float = L2) -> AttributionModel:
    return fit_model(rows, rows["label"].to_numpy(), rows["take"].to_numpy(), card, l2)


def runs_under(roots: list[Path]) -> list[tuple[Path, Path, str]]:
    """(recording, run, group) of every vision run under ``roots`` (the layout of
    ``benchmarks/accuracy.py``: ROOT/<group>/recordings/<name> and ROOT/<group>/predictions/<name>)."""
    found = []
    for root in roots:
        for group in sorted(p for p in root.iterdir() if (p / "predictions").is_dir()):
            for run in sorted(p for p in (group / "predictions").iterdir() if (p / "tracks.csv").is_file()):
                found.append((group / "recordings" / run.name, run, group.name))
    return found


def gather_rows(roots: list[Path]) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Candidate rows of every run under ``roots``, and per group the counts of takes (used, without
    truth, taker not a candidate)."""
    tables, counts = [], {}
    for recording, run, group in runs_under(roots):
        rows, seen = take_rows(recording, run, group)
        tables.append(rows)
        for key, value in seen.items():
            counts.setdefault(group, {}).setdefault(key, 0)
            counts[group][key] += value
    return pd.concat(tables, ignore_index=True), counts


def model_card(model: AttributionModel) -> str:
    """models/attribution.md: what the model is, what it was fitted on, and its figures."""
    card = model.card
    weights = "\n".join(f"| {name} | {coef:+.3f} |" for name, coef in
                        sorted(zip(model.features, model.coef, strict=True), key=lambda x: -abs(x[1])))
    counts = "\n".join(f"| {group} | {c['used']} | {c['no_truth']} | {c['taker_not_candidate']} |"
                       for group, c in sorted(card.get("takes", {}).items()))
    return f"""# Attribution model (models/attribution.json)

Made by `walkout train --only attribution` on mock-store renders only. A conditional logit
(McFadden's choice model): for one take of a weight change, every candidate shopper gets a score
(the coefficients below times their standardised evidence, fusion/evidence.py) and the candidates
share probability 1 in proportion to exp(score). Fitted with scipy's L-BFGS, L2 penalty
{card.get('l2')}. Plain numbers in JSON; no pickle.

**Data.** Vision runs of these renders (training seeds; the held-out seeds of docs/RESULTS.md are
never among them): {'; '.join(card.get('sources', []))}. In all: {card.get('rows')} candidate rows of
{card.get('take_count')} takes. Takes per group:

| group | takes used | no truth event | taker not a candidate |
|---|---|---|---|
{counts}

**Out of fold** (each take scored by a model fitted without its recording, 5 folds; and without its
whole group): per take, whether the most probable candidate made it, and the expected calibration
error. The review threshold {card.get('review_below', 0.6):.3f} sends {REVIEW_SHARE:.0%} of the 5-fold
out-of-fold takes to review. (Temperature scaling was tried: it made every group's ECE worse, so the
scores are the fitted ones.)

{card.get('cv_table', '(not run)')}

**Coefficients** (standardised features, strongest first):

| feature | coefficient |
|---|---|
{weights}

**Limits.** Rendered shoppers and the mock store's ten products only: the held-item evidence
(`holding`, `holding_any`) is as good as the shipped held-item classifier on them, and a run
without hands.csv has none of it (`has_held` 0). Held-out figures: docs/RESULTS.md.
"""


def out_of_fold(rows: pd.DataFrame, l2: float, by: str = "group", folds: int = 5) -> pd.DataFrame:
    """Rows with ``logit``, the score of a model fitted without them: leaving out each group
    (``by="group"``: takes of a kind the model never saw) or, ``by="recording"``, one of ``folds``
    folds of whole recordings (scikit-learn's GroupKFold: takes like the model's own)."""
    from sklearn.model_selection import GroupKFold

    keys = rows[by].to_numpy()
    if by == "group":
        splits = [(np.flatnonzero(keys != g), np.flatnonzero(keys == g)) for g in sorted(set(keys))]
    else:
        splits = GroupKFold(n_splits=min(folds, len(set(keys)))).split(rows, groups=keys)
    parts = []
    for train, test in splits:
        logits, _ = fit_on(rows.iloc[train], l2=l2).logits(rows.iloc[test])
        parts.append(rows.iloc[test].assign(logit=logits))
    return pd.concat(parts)


def _chosen(oof: pd.DataFrame) -> pd.DataFrame:
    """Per take: the group, the probability of its most probable candidate, and whether it made it."""
    out = []
    for (group, _), take in oof.groupby(["group", "take"], sort=False):
        p = softmax(take["logit"].to_numpy())
        k = int(np.argmax(p))
        out.append((group, float(p[k]), bool(take["label"].iloc[k])))
    return pd.DataFrame(out, columns=["group", "p", "right"])


def _ece(chosen: pd.DataFrame) -> float:
    """The bench's expected calibration error of the chosen candidates' probabilities."""
    return expected_calibration_error(reliability(chosen["p"].to_numpy(float), chosen["right"].to_numpy(bool)))


def cv_table(oof: pd.DataFrame, how: str) -> str:
    """Out-of-fold accuracy and ECE per group, as a markdown table."""
    chosen = _chosen(oof)
    lines = [f"| group ({how}) | takes | accuracy | ECE |", "|---|---|---|---|"]
    for group in sorted(set(chosen["group"])):
        mine = chosen[chosen["group"] == group]
        lines.append(f"| {group} | {len(mine)} | {mine['right'].mean():.3f} | {_ece(mine):.3f} |")
    return "\n".join(lines)


REVIEW_SHARE = 0.05  # the share of development takes the fitted review threshold sends to review


def train_attribution(roots: list[Path], out_dir: Path, l2: float = L2) -> AttributionModel:
    """Fit the attribution model on every vision run under ``roots``, write ``attribution.json`` and
    its card ``attribution.md`` into ``out_dir`` (atomically), return it."""
    from formats.tables import write_text_atomic

    rows, counts = gather_rows(roots)
    if rows.empty:
        raise ValueError(f"no takes with truth under {', '.join(map(str, roots))}: nothing to fit")
    seeds = {group: sorted(set(rows.loc[rows["group"] == group, "recording"])) for group in sorted(set(rows["group"]))}
    card = {"sources": [f"{group} ({len(names)}: {', '.join(names)})" for group, names in seeds.items()],
            "rows": len(rows), "take_count": int(rows["take"].nunique()), "takes": counts, "l2": l2,
            "review_below": 0.6, "cv_table": ""}
    if rows["recording"].nunique() > 1:
        # The review threshold from 5-fold out-of-fold scores over recordings (takes like the model's
        # own); the card shows leave-one-group-out too (a kind of take it never saw).
        oof = out_of_fold(rows, l2, by="recording")
        card.update(review_below=float(np.quantile(_chosen(oof)["p"], REVIEW_SHARE)),
                    cv_table=cv_table(oof, "5-fold over recordings"))
        if rows["group"].nunique() > 1:
            card["cv_table"] += "\n\n" + cv_table(out_of_fold(rows, l2), "leave one group out")
    model = fit_on(rows, card, l2)
    model.save(out_dir / "attribution.json")
    write_text_atomic(model_card(model), out_dir / "attribution.md")
    log.info("attribution model: %d takes, %d rows -> %s", card["take_count"], card["rows"], out_dir / "attribution.json")
    return model


TRAINING_FIRST_SEED = 20000  # the attribution model's training renders: seeds 20000-29999, never held out
TRAINING_SIZES = {"single": 10, "two": 50, "crowded": 50, "store": 16}


def train_from_renders(out_dir: Path, work: Path, sizes: dict[str, int] | None = None, l2: float = L2,
                       runs: list[Path] | None = None) -> AttributionModel:
    """``walkout train --only attribution``: render the training groups (seeds from
    ``TRAINING_FIRST_SEED``, ``sizes`` recordings per group), run walkout on them, and fit the model
    into ``out_dir``. With ``runs``, fit on those vision runs instead (the layout of
    ``benchmarks/accuracy.py``) and render nothing."""
    if runs is None:
        runs = [render_groups(work / "attribution", TRAINING_FIRST_SEED, sizes or TRAINING_SIZES)]
    return train_attribution(runs, out_dir, l2)


def render_groups(folder: Path, first_seed: int, sizes: dict[str, int]) -> Path:
    """Render and run ``sizes[group]`` recordings of each benchmark group into FOLDER/<group> (the
    layout of ``benchmarks/accuracy.py``), the groups' seeds 1000 apart from ``first_seed``; FOLDER."""
    from walkout.bench.groups import render_and_run

    for k, (name, size) in enumerate(sizes.items()):
        if size:
            render_and_run(folder / name, name, first_seed + 1000 * k, size, 20.0)
    return folder

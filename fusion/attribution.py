"""Who took it: a fitted model turns each candidate's evidence into a probability, and one joint
assignment per moment gives every take a shopper.

The model is a conditional logit (McFadden's choice model) over :data:`fusion.evidence.FEATURES`
(standardised): each candidate of a take gets a linear score, and the take's candidates share
probability 1 in proportion to exp(score), so a lone candidate near the plates is certain and two
equally placed ones are a coin toss. It is fitted by ``walkout train --only attribution`` on
mock-store renders (:func:`fit_model`, scipy's L-BFGS on the convex log-likelihood) and shipped as
``models/attribution.json``: plain numbers, no pickle. A line's evidence is each feature's
contribution to its candidate's score, strongest first.

Without a model file fusion still runs: every take goes to the candidate standing nearest the plates
(:class:`NearestShopper`), lines carry no probability, and every reason says so.

Takes of one moment (weight events overlapping in time) are assigned together, at the least total
-log probability (exactly: a small integer program, scipy's ``milp``); each take of a shopper's after
their first in the moment costs ``second_take`` more (two hands, or one shopper taking in steps, happen but
are less likely than two shoppers each taking once). Two takes of one shopper further apart than one
hand's step yet closer than ``one_reach_s`` cannot both be theirs: one reach, in and out of the shelf,
lasts that long (two steps of one change 0.5 s apart are two hands of two shoppers, however much the
evidence of each, which looks at seconds around it, favours the same one).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp

from formats.errors import FormatError
from formats.model_json import read_model_json
from formats.tables import write_json_atomic
from fusion.evidence import FEATURES

log = logging.getLogger(__name__)

MODEL_VERSION = 1
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "attribution.json"
TRAIN_HINT = "train one with `walkout train --only attribution`"
CLASH = 1e3  # cost of one shopper's two takes within one reach (far above any evidence: a clash only when unavoidable)


@dataclass(frozen=True)
class AttributionConfig:
    """model: the attribution model file ('' = the shipped models/attribution.json).
    review_below: a line whose shopper's take probability (among the take's candidates) is below this
        gets status ``review``; 0: the threshold fitted with the model (chosen so about 5 % of
        development takes go to review; 0.6 for the nearest-shopper fallback, whose lines have no
        probability anyway).
    confidence: the confidence model file ('' = the shipped models/confidence.json, "none" = none) that
        calibrates a line's probability into the probability that the line is right (fusion.confidence);
        without one a line's probability is its shopper's take probability.
    second_take: extra cost (log-odds) of a shopper's second take in one moment."""

    model: str = ""
    confidence: str = ""
    review_below: float = 0.0
    second_take: float = 1.5
    one_reach_s: float = 2.0
    """one shopper's two takes of a moment more than one hand's step apart but closer than this are not both
    theirs: one reach lasts this long (in the mock store's training truth, no shopper's two events are
    closer than 2.0 s); 0: no such limit"""

    def __post_init__(self) -> None:
        if not 0.0 <= self.review_below <= 1.0:
            raise ValueError(f"review_below must be a probability from 0 to 1, got {self.review_below}")
        for name in ("second_take", "one_reach_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")


def softmax(scores: np.ndarray) -> np.ndarray:
    """One take's candidates' probabilities from their scores: exp(score), normalised to sum 1."""
    e = np.exp(scores - scores.max())
    return e / e.sum()


@dataclass(frozen=True)
class AttributionModel:
    """A fitted conditional logit: a candidate's score is ``coef`` . ``(x - mean) / scale``; one take's
    candidates share probability 1 in proportion to exp(score) (McFadden's choice model)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    card: dict = field(default_factory=dict)  # training data and held-out figures, for the model card

    def logits(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(log-odds per row, contribution per row and feature)."""
        x = (frame[list(self.features)].to_numpy(float) - np.array(self.mean)) / np.array(self.scale)
        contributions = x * np.array(self.coef)
        return contributions.sum(axis=1) + self.intercept, contributions

    def probabilities(self, frame: pd.DataFrame) -> np.ndarray:
        """Each of one take's candidates' probability of being the taker (a softmax over them)."""
        if frame.empty:
            return np.zeros(0)
        return softmax(self.logits(frame)[0])

    def evidence(self, frame: pd.DataFrame, row: int, top: int = 3) -> tuple[dict, ...]:
        """The ``top`` strongest contributions to row ``row``'s log-odds."""
        _, contributions = self.logits(frame)
        order = np.argsort(-np.abs(contributions[row]))[:top]
        values = frame[list(self.features)].to_numpy(float)[row]
        return tuple({"feature": self.features[k], "value": round(float(values[k]), 3),
                      "contribution": round(float(contributions[row, k]), 3)} for k in order)

    @property
    def review_below(self) -> float:
        """The review threshold fitted with the model (0.6 when the card has none)."""
        return float(self.card.get("review_below", 0.6))

    def to_dict(self) -> dict:
        return {"version": MODEL_VERSION, "kind": "conditional_logit", "features": list(self.features),
                "mean": list(self.mean), "scale": list(self.scale), "coef": list(self.coef),
                "intercept": self.intercept, "card": self.card}

    def save(self, path: str | Path) -> Path:
        return write_json_atomic(self.to_dict(), Path(path))


def load_model(path: str | Path) -> AttributionModel:
    """Read an attribution model file; FormatError naming it (and how to train one) when it is
    missing, of another version, or its features are not this fusion's."""
    data = read_model_json(path, "attribution model", MODEL_VERSION, FEATURES, TRAIN_HINT)
    try:
        n = len(FEATURES)
        model = AttributionModel(
            FEATURES, *(tuple(float(v) for v in data[key]) for key in ("mean", "scale", "coef")),
            intercept=float(data["intercept"]), card=dict(data.get("card", {})))
        if not (len(model.mean) == len(model.scale) == len(model.coef) == n) or min(model.scale) <= 0:
            raise ValueError("mean, scale and coef need one positive-scale entry per feature")
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(path, f"attribution model malformed: {exc}; {TRAIN_HINT}") from None
    return model


class NearestShopper:
    """The fallback without a model: the candidate nearest the plates (offset, then floor distance,
    then vision's claim) gets probability 1; lines carry no probability."""

    fallback = True
    review_below = 0.6

    def probabilities(self, frame: pd.DataFrame) -> np.ndarray:
        if frame.empty:
            return np.zeros(0)
        order = np.lexsort((-frame["claim"].to_numpy(), frame["distance_m"].to_numpy(), frame["offset"].to_numpy()))
        p = np.zeros(len(frame))
        p[order[0]] = 1.0
        return p

    def evidence(self, frame: pd.DataFrame, row: int, top: int = 3) -> tuple[dict, ...]:
        return tuple({"feature": name, "value": round(float(frame[name].iloc[row]), 3), "contribution": None}
                     for name in ("offset", "distance_m", "claim")[:top])


def resolve_model(config: AttributionConfig) -> AttributionModel | NearestShopper:
    """The configured model, or (shipped model missing) the nearest-shopper fallback with a warning.
    A model file named in the config that cannot be read is an error."""
    if config.model:
        return load_model(config.model)
    try:
        return load_model(DEFAULT_MODEL)
    except FormatError as error:
        log.warning("%s; fusion gives each change to the nearest shopper instead", error)
        return NearestShopper()


def fit_model(frame: pd.DataFrame, labels: np.ndarray, takes: np.ndarray, card: dict | None = None,
              l2: float = 1.0) -> AttributionModel:
    """Fit the conditional logit on candidate rows: ``labels`` 1 for a taker, ``takes`` the take each
    row belongs to. Maximises the log of each take's probability of its takers (L2 penalty ``l2`` on
    the standardised coefficients) with scipy's L-BFGS; the loss is convex."""
    from scipy.optimize import minimize

    x = frame[list(FEATURES)].to_numpy(float)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    _, group = np.unique(np.asarray(takes), return_inverse=True)
    n_groups = int(group.max()) + 1
    positive = np.asarray(labels, dtype=float)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        score = z @ w
        top = np.full(n_groups, -np.inf)
        np.maximum.at(top, group, score)
        e = np.exp(score - top[group])
        total = np.bincount(group, e, n_groups)
        hit = np.bincount(group, e * positive, n_groups)
        p_all, p_hit = e / total[group], e * positive / np.maximum(hit[group], 1e-300)
        value = -np.sum(np.log(np.maximum(hit, 1e-300)) - np.log(total)) + 0.5 * l2 * w @ w
        gradient = -(z.T @ (p_hit - p_all)) + l2 * w
        return float(value), gradient

    w = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x
    return AttributionModel(FEATURES, tuple(map(float, mean)), tuple(map(float, scale)), tuple(map(float, w)), 0.0,
                            card or {})


def assign(probabilities: list[tuple[list[str], np.ndarray]], second_take: float,
           times: list[float] | None = None, one_reach_s: float = 0.0, one_hand_s: float = 0.0) -> list[int | None]:
    """Jointly give each take (its candidates and their probabilities) one candidate index: minimum
    total -log probability, each shopper's every take after their first at ``second_take`` more.
    None for a take without candidates.

    With the takes' ``times`` (s): one shopper's two takes at least ``one_hand_s`` and less than
    ``one_reach_s`` apart clash (one reach lasts that long), at ``CLASH`` each. The minimum is exact: a
    small integer program (scipy's ``milp``, HiGHS) over which candidate makes each take."""
    rows = [r for r, (names, _) in enumerate(probabilities) if names]
    chosen: list[int | None] = [None] * len(probabilities)
    if len(rows) == 1:
        chosen[rows[0]] = int(np.argmax(probabilities[rows[0]][1]))
    if len(rows) <= 1:
        return chosen
    # One binary variable per (take, candidate); then one "extra take" count per shopper; then one
    # clash indicator per (pair of clashing takes, shared shopper).
    pairs = [(r, k, name) for r in rows for k, name in enumerate(probabilities[r][0])]
    shoppers = sorted({name for _, _, name in pairs})
    clashes = [] if times is None else [
        (a, b, name) for a, b in itertools.combinations(rows, 2) if one_hand_s <= abs(times[a] - times[b]) < one_reach_s
        for name in sorted(set(probabilities[a][0]) & set(probabilities[b][0]))]
    n_x, n_e = len(pairs), len(shoppers)
    cost = np.concatenate([*(_cost(probabilities[r][1]) for r in rows),  # in the order of ``pairs``
                           np.full(n_e, second_take), np.full(len(clashes), CLASH)])
    index = {(r, name): j for j, (r, _, name) in enumerate(pairs)}
    column = {name: i for i, name in enumerate(shoppers)}
    matrix = np.zeros((len(rows) + n_e + len(clashes), len(cost)))
    take_row = {r: i for i, r in enumerate(rows)}
    for j, (r, _, name) in enumerate(pairs):
        matrix[take_row[r], j] = 1.0  # every take is made by exactly one of its candidates
        matrix[len(rows) + column[name], j] = 1.0  # a shopper's takes - 1 <= their extra takes
    matrix[len(rows) + np.arange(n_e), n_x + np.arange(n_e)] = -1.0
    for i, (a, b, name) in enumerate(clashes):  # both clashing takes theirs -> the clash counts
        row = len(rows) + n_e + i
        matrix[row, [index[a, name], index[b, name]]] = 1.0
        matrix[row, n_x + n_e + i] = -1.0
    lower = np.r_[np.ones(len(rows)), np.full(n_e + len(clashes), -np.inf)]
    upper = np.ones(len(matrix))
    integral = np.r_[np.ones(n_x), np.zeros(n_e + len(clashes))]
    bounds = Bounds(np.zeros(len(cost)), np.r_[np.ones(n_x), np.full(n_e, np.inf), np.ones(len(clashes))])
    result = milp(cost, constraints=LinearConstraint(matrix, lower, upper), integrality=integral, bounds=bounds)
    if result.x is None:  # cannot happen (giving each take its best candidate is always feasible); be explicit
        raise RuntimeError(f"joint assignment of {len(rows)} takes failed: {result.message}")
    for j, (r, k, _) in enumerate(pairs):
        if result.x[j] > 0.5:
            chosen[r] = k
    return chosen


def _cost(p: np.ndarray) -> np.ndarray:
    """A take's candidates' costs in an assignment: -log probability (at most -log 1e-6)."""
    return -np.log(np.maximum(np.asarray(p, float), 1e-6))

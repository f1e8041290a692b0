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

Takes of one moment (weight events overlapping in time) are assigned together
(``scipy.optimize.linear_sum_assignment`` on -log probability), each shopper once; a shopper's second
take of the moment costs ``second_take`` more (two hands, or one shopper taking in steps, happen but
are less likely than two shoppers each taking once). Two takes of one shopper further apart than one
hand's step yet closer than ``one_reach_s`` cannot both be theirs: one reach, in and out of the shelf,
lasts that long (two steps of one change 0.5 s apart are two hands of two shoppers, however much the
evidence of each, which looks at seconds around it, favours the same one).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from formats.errors import FormatError
from formats.tables import write_json_atomic
from fusion.evidence import FEATURES

log = logging.getLogger(__name__)

MODEL_VERSION = 1
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "attribution.json"
TRAIN_HINT = "train one with `walkout train --only attribution`"
MAX_JOINT = 50_000  # assignments of one moment searched one by one when a shopper's takes could clash in time
CLASH = 1e3  # cost of one shopper's two takes within one reach (far above any evidence: a clash only when unavoidable)


@dataclass(frozen=True)
class AttributionConfig:
    """model: the attribution model file ('' = the shipped models/attribution.json).
    review_below: a line whose shopper's probability is below this gets status ``review``; 0: the
        threshold fitted with the model (chosen so about 5 % of development takes go to review;
        0.6 for the nearest-shopper fallback, whose lines have no probability anyway).
    second_take: extra cost (log-odds) of a shopper's second take in one moment."""

    model: str = ""
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
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise FormatError(path, f"attribution model not readable ({exc.strerror or exc}); {TRAIN_HINT}") from None
    except ValueError as exc:
        raise FormatError(path, f"attribution model is not JSON ({exc}); {TRAIN_HINT}") from None
    if not isinstance(data, dict) or data.get("version") != MODEL_VERSION:
        got = data.get("version") if isinstance(data, dict) else None
        raise FormatError(path, f"attribution model version {got!r}, this walkout reads {MODEL_VERSION}; {TRAIN_HINT}",
                          field="version")
    if tuple(data.get("features", ())) != FEATURES:
        raise FormatError(path, f"attribution model's features differ from this fusion's ({', '.join(FEATURES)}); "
                          f"{TRAIN_HINT}", field="features")
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
    total -log probability, each shopper once, a second take of one shopper at ``second_take`` more.
    None for a take without candidates.

    With the takes' ``times`` (s): one shopper's two takes at least ``one_hand_s`` and less than
    ``one_reach_s`` apart clash (one reach lasts that long). A moment where a clash is possible is
    searched through every assignment (at most ``MAX_JOINT``; a larger one is assigned without the
    limit, and logged), clashes costing ``CLASH`` each."""
    rows = [r for r, (names, _) in enumerate(probabilities) if names]
    clashing = [] if times is None else [
        (a, b) for a, b in itertools.combinations(rows, 2)
        if one_hand_s <= abs(times[a] - times[b]) < one_reach_s and set(probabilities[a][0]) & set(probabilities[b][0])]
    if not clashing:
        return _assign_pairs(probabilities, second_take)
    if math.prod(len(probabilities[r][0]) for r in rows) > MAX_JOINT:
        log.warning("a moment of %d takes is assigned without the one-reach limit (too many to search)", len(rows))
        return _assign_pairs(probabilities, second_take)
    costs = {r: _cost(probabilities[r][1]) for r in rows}
    best, best_cost = (), math.inf
    for combo in itertools.product(*(range(len(probabilities[r][0])) for r in rows)):
        who = {r: probabilities[r][0][k] for r, k in zip(rows, combo, strict=True)}
        cost = sum(float(costs[r][k]) for r, k in zip(rows, combo, strict=True))
        cost += second_take * (len(rows) - len(set(who.values())))
        cost += CLASH * sum(who[a] == who[b] for a, b in clashing)
        if cost < best_cost:
            best, best_cost = combo, cost
    chosen: list[int | None] = [None] * len(probabilities)
    for r, k in zip(rows, best, strict=True):
        chosen[r] = k
    return chosen


def _cost(p: np.ndarray) -> np.ndarray:
    """A take's candidates' costs in an assignment: -log probability (at most -log 1e-6)."""
    return -np.log(np.maximum(np.asarray(p, float), 1e-6))


def _assign_pairs(probabilities: list[tuple[list[str], np.ndarray]], second_take: float) -> list[int | None]:
    """:func:`assign` without times: a linear assignment with two places per shopper."""
    shoppers = sorted({s for names, _ in probabilities for s in names})
    if not shoppers:
        return [None] * len(probabilities)
    column = {s: k for k, s in enumerate(shoppers)}
    n = len(shoppers)
    cost = np.full((len(probabilities), 2 * n), 1e6)
    for row, (names, p) in enumerate(probabilities):
        for name, base in zip(names, _cost(p).tolist(), strict=True):
            cost[row, column[name]] = base
            cost[row, n + column[name]] = base + second_take
    rows, cols = linear_sum_assignment(cost)
    chosen: list[int | None] = [None] * len(probabilities)
    for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
        if cost[row, col] < 1e6:
            chosen[row] = probabilities[row][0].index(shoppers[col % n])
    for row, (names, p) in enumerate(probabilities):  # more takes than places: the best candidate
        if chosen[row] is None and names:
            chosen[row] = int(np.argmax(p))
    return chosen

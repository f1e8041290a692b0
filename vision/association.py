"""Is this pair of floor tracklets one shopper? A fitted model, not thresholds (``models/association.json``).

Two cameras' tracklets can be compared in two ways, and each has its own logistic regression
(scikit-learn's, fitted by :mod:`walkout.association_training` on mock-store truth):

- **together**: seen at the same time by two cameras. Features: the median and the 90th percentile
  of their floor distance over the time they share (metres), at the head height where they agree
  best, and log(1 + shared seconds). Each camera places a shopper by the top of the head, so one
  person seen by two cameras agrees on the floor only at their own height; how far is too far is
  learnt.
- **gap**: one starts after the other ended (or overlaps it briefly), no further than anyone walks
  in the gap. Features: log(1 + gap seconds), the step from where the first ended to where the second
  began (m), the share of the farthest walkable step it uses, whether both come from one camera, and
  whether each is the other's nearest such continuation. A shopper out of every view for ten seconds
  and back near where they left is learnt, not cut at a fixed gap.

Both kinds also get the distance of the two tracks' looks (``look_distance``: Bhattacharyya of their
mean colour histograms, vision.reid.track_looks, or (1 - cosine) / 2 of their mean learnt embeddings,
vision.embedding; in memory only), which picks a shopper back out of the others after a gap and tells
apart two people the cameras place close together. The file says which looks it was fitted on (``look``).

The file holds plain numbers (feature names, means, scales, coefficients, intercept per kind): no
pickle. ``probability(kind, features)`` is the model's P(same shopper).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vision.errors import InputError

MODEL_VERSION = 2
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "association.json"
KINDS = ("together", "gap")
FEATURES = {
    "together": ("median_m", "p90_m", "log_shared_s", "look_distance"),
    "gap": ("log_gap_s", "step_m", "step_share", "same_camera", "nearest_next", "nearest_before", "look_distance"),
}
TRAIN_HINT = "make it with `walkout train --only association`"
# Each kind also has a model fitted without the last feature (look_distance), for pairs where a
# tracklet has no look (the identity repair off): it scores them on where and when alone.
WITHOUT_LOOK = "_without_look"
MODEL_FEATURES = {**FEATURES, **{kind + WITHOUT_LOOK: names[:-1] for kind, names in FEATURES.items()}}


@dataclass(frozen=True)
class PairModel:
    """One kind's logistic regression on standardised features."""

    features: tuple[str, ...]
    mean: np.ndarray = field(repr=False)
    scale: np.ndarray = field(repr=False)
    coef: np.ndarray = field(repr=False)
    intercept: float = 0.0

    def probability(self, x: np.ndarray) -> np.ndarray:
        """(N, F) raw features -> (N,) P(same shopper)."""
        z = (np.atleast_2d(np.asarray(x, float)) - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-(z @ self.coef + self.intercept)))

    def to_dict(self) -> dict:
        return {"features": list(self.features), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": float(self.intercept)}


DEFAULT_THRESHOLDS = {"together": 0.5, "gap": 0.5, "apart": 0.5}


@dataclass(frozen=True)
class AssociationModel:
    """P(same shopper) for ``together`` and ``gap`` pairs; ``thresholds``: a pair of a kind is a link
    at P(same) >= ``thresholds[kind]`` (the zero of its evidence), a together pair below
    ``thresholds["apart"]`` two people (:func:`vision.shoppers.model_evidence`); ``card`` says how it was made."""

    kinds: dict[str, PairModel]
    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    card: dict = field(default_factory=dict, repr=False)
    look: str = "colours"  # the looks its look_distance was fitted on (vision.shoppers.ShopperConfig.look)

    def probability(self, kind: str, x: np.ndarray) -> np.ndarray:
        """(N, F) features of ``kind`` (:data:`FEATURES` order) -> (N,) P(same shopper). A pair whose
        look distance is NaN (a tracklet without a look) is scored by the kind's model fitted without it."""
        x = np.atleast_2d(np.asarray(x, float)).reshape(-1, len(FEATURES[kind]))
        p = np.empty(len(x))
        missing = np.isnan(x[:, -1])
        if (~missing).any():
            p[~missing] = self.kinds[kind].probability(x[~missing])
        if missing.any():
            p[missing] = self.kinds[kind + WITHOUT_LOOK].probability(x[missing, :-1])
        return p

    def to_dict(self) -> dict:
        return {"version": MODEL_VERSION, "kind": "pair_logistic_regression",
                "models": {k: m.to_dict() for k, m in self.kinds.items()}, "thresholds": self.thresholds,
                "look": self.look, "card": self.card}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        text = json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n"
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as stream:
            stream.write(text)
        os.replace(tmp, path)
        return path


def load_model(path: str | Path) -> AssociationModel:
    """Read an association model file; a clear error naming the file and field otherwise."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, f"no association model file ({TRAIN_HINT})")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != MODEL_VERSION:
        got = data.get("version") if isinstance(data, dict) else None
        raise InputError(path, f"version: association model version {got!r}, this walkout reads "
                         f"{MODEL_VERSION}; {TRAIN_HINT}")
    kinds = {}
    for kind, expected in MODEL_FEATURES.items():
        entry = (data.get("models") or {}).get(kind)
        if not isinstance(entry, dict):
            raise InputError(path, f"models.{kind}: missing")
        names = tuple(entry.get("features", ()))
        if names != expected:
            raise InputError(path, f"models.{kind}.features: {list(names)}, this walkout computes "
                             f"{list(expected)}; {TRAIN_HINT}")
        try:
            arrays = [np.asarray(entry[key], float) for key in ("mean", "scale", "coef")]
            intercept = float(entry["intercept"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(path, f"models.{kind}: {exc!s} missing or not numbers") from None
        if any(a.shape != (len(names),) or not np.isfinite(a).all() for a in arrays) or (arrays[1] <= 0).any():
            raise InputError(path, f"models.{kind}: mean, scale and coef need {len(names)} finite numbers "
                             "each (scale > 0)")
        kinds[kind] = PairModel(names, *arrays, intercept)
    thresholds = data.get("thresholds")
    if not isinstance(thresholds, dict) or set(thresholds) != set(DEFAULT_THRESHOLDS) or not all(
            isinstance(v, (int, float)) and 0 <= v <= 1 for v in thresholds.values()):
        raise InputError(path, f"thresholds: need {sorted(DEFAULT_THRESHOLDS)}, each a probability in [0, 1]")
    look = data.get("look", "colours")  # files before session 39 have none: colour looks
    if look not in ("colours", "embedding"):
        raise InputError(path, f"look: {look!r}, expected colours or embedding")
    return AssociationModel(kinds, {k: float(v) for k, v in thresholds.items()}, data.get("card") or {}, look)


def fit_pair_model(x: np.ndarray, y: np.ndarray, names: tuple[str, ...], c: float = 1.0) -> PairModel:
    """Logistic regression (scikit-learn, L2, ``C`` = ``c``) on standardised features."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, float)
    y = np.asarray(y, int)
    if len(np.unique(y)) < 2:
        raise ValueError(f"{names}: need pairs of both kinds (same shopper and not) to fit, got only {set(y)}")
    if not np.isfinite(x).all():
        raise ValueError(f"{names}: features must be finite numbers to fit")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    fitted = LogisticRegression(C=c, max_iter=1000).fit((x - mean) / scale, y)
    return PairModel(names, mean, scale, fitted.coef_[0].copy(), float(fitted.intercept_[0]))

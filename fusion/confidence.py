"""How sure a receipt line is: the attribution model's take probability made into the probability that
the line is right, calibrated on bench-scored lines.

The attribution model (:mod:`fusion.attribution`) says how likely each *candidate* made a take, among
the candidates; a line can still be wrong where that number cannot see: the taker was nobody's
candidate (a lone candidate has probability 1 by construction), the store's join gave the right
person another shopper's id, vision saw someone else. Fitted on lines scored by ``walkout bench``
against the mock store's truth, a logistic regression (scikit-learn, plain numbers in
``models/confidence.json``, :data:`FEATURES`) maps each line's evidence to the probability that the line
is right (the right shopper made this change of this product), so a 0.9 line is right about 9 times
in 10, in a store as in a one-camera aisle. Which lines go to review is still decided by the take
probability (``[attribution] review_below``): a reviewer can tell apart candidates the model could not,
while a store line's lower probability comes from identity errors that one line's frames do not show.
``walkout train --only confidence --runs GROUP ...`` fits it (walkout/confidence_training.py).

Without the shipped file (or with one fitted for another attribution model) a line's probability is the
take probability itself, as before calibration; fusion warns and each line's reason says so.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from formats.errors import FormatError
from formats.model_json import read_model_json
from formats.tables import write_json_atomic
from fusion.attribution import DEFAULT_MODEL as ATTRIBUTION_MODEL
from fusion.attribution import AttributionConfig

log = logging.getLogger(__name__)

MODEL_VERSION = 1
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "confidence.json"
TRAIN_HINT = "fit one with `walkout train --only confidence --runs GROUP ...`"
FEATURES = ("take_logodds", "lone", "runner_up", "vision_agrees", "vision_disagrees", "is_return", "several_cameras")
CLIP = 1e-4  # take probabilities are clipped to [CLIP, 1 - CLIP] before their log-odds


def line_features(candidates: dict[str, float], shopper: str, vision_shopper: str | None, action: str,
                  several_cameras: bool) -> np.ndarray:
    """A decided line's evidence, in :data:`FEATURES` order: the log-odds of its shopper's take
    probability, whether they were the only candidate, the best other candidate's probability, whether
    vision's event for this change named the same shopper or another (neither: vision saw no event),
    whether it is a return, and whether shoppers were joined across several cameras (a store)."""
    p = float(np.clip(candidates[shopper], CLIP, 1 - CLIP))
    others = [float(q) for name, q in candidates.items() if name != shopper]
    return np.array([np.log(p / (1 - p)), float(not others), max(others, default=0.0),
                     float(vision_shopper is not None and vision_shopper == shopper),
                     float(vision_shopper is not None and vision_shopper != shopper),
                     float(action == "return"), float(several_cameras)])


def fingerprint(path: str | Path) -> str:
    """sha256 of a file's bytes (the attribution model a confidence model was fitted for)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class ConfidenceModel:
    """P(line right) = 1 / (1 + exp(-(intercept + coef . features))); ``attribution_sha256``: the
    attribution model file whose take probabilities it was fitted on."""

    coef: tuple[float, ...]
    intercept: float
    attribution_sha256: str
    card: dict = field(default_factory=dict)

    def probability(self, features: np.ndarray) -> float:
        return float(1.0 / (1.0 + np.exp(-(self.intercept + float(np.dot(self.coef, features))))))

    def line(self, candidates: dict[str, float], shopper: str, vision_shopper: str | None, action: str,
             several_cameras: bool) -> tuple[float, str]:
        """A decided line's probability of being right, and what its reason says of it."""
        p = self.probability(line_features(candidates, shopper, vision_shopper, action, several_cameras))
        return p, f"the line is right with probability {p:.2f}"

    def to_dict(self) -> dict:
        return {"version": MODEL_VERSION, "kind": "logistic_regression", "features": list(FEATURES),
                "coef": list(self.coef), "intercept": self.intercept, "attribution_sha256": self.attribution_sha256,
                "card": self.card}

    def save(self, path: str | Path) -> Path:
        return write_json_atomic(self.to_dict(), Path(path))


@dataclass(frozen=True)
class Uncalibrated:
    """No usable confidence model where one was expected: a line's probability is its shopper's take
    probability, and its reason says why (``note``)."""

    note: str

    def line(self, candidates: dict[str, float], shopper: str, *_) -> tuple[float, str]:
        return float(candidates[shopper]), self.note


def load_confidence(path: str | Path) -> ConfidenceModel:
    """Read a confidence model file; FormatError naming it (and how to fit one) when it is missing,
    of another version, or its features are not this fusion's."""
    data = read_model_json(path, "confidence model", MODEL_VERSION, FEATURES, TRAIN_HINT)
    try:
        model = ConfidenceModel(tuple(float(v) for v in data["coef"]), float(data["intercept"]),
                                str(data["attribution_sha256"]), dict(data.get("card", {})))
        if len(model.coef) != len(FEATURES):
            raise ValueError(f"coef needs one entry per feature ({len(FEATURES)}), got {len(model.coef)}")
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(path, f"confidence model malformed: {exc}; {TRAIN_HINT}") from None
    return model


def resolve_confidence(config: AttributionConfig, model) -> ConfidenceModel | Uncalibrated | None:
    """The confidence model for lines decided by ``model``, the attribution model ``config`` names:
    ``config.confidence`` ('' = the shipped one, "none" = no calibration: None). A named file that cannot
    be read is an error; the shipped one missing, or fitted for another attribution model, gives
    :class:`Uncalibrated` (lines keep their take probability and say so) with a warning. None for the
    nearest-shopper fallback (its lines carry no probability)."""
    if config.confidence == "none" or getattr(model, "fallback", False):
        return None
    path = Path(config.confidence or DEFAULT_MODEL)
    try:
        confidence = load_confidence(path)
    except FormatError as error:
        if config.confidence:
            raise
        log.warning("%s; a line's probability is its take probability, not calibrated", error)
        return Uncalibrated(f"probability not calibrated: no usable {path.name} ({TRAIN_HINT})")
    attribution_path = Path(config.model or ATTRIBUTION_MODEL)
    if confidence.attribution_sha256 != fingerprint(attribution_path):
        log.warning("%s was fitted for another attribution model than %s; a line's probability is its take "
                    "probability, not calibrated (%s)", path, attribution_path, TRAIN_HINT)
        return Uncalibrated(f"probability not calibrated: {path.name} was fitted for another attribution model "
                            f"({TRAIN_HINT})")
    return confidence

"""One config object for `walkout run`, loadable from TOML or YAML.

Sections mirror the stages: ``[detector]``, ``[held]``, ``[hand_detector]``, ``[tracking]``, ``[reid]``,
``[hands]``, ``[reaching]``, ``[events]``, ``[shoppers]``, and ``[pipeline]`` for the rest. Unknown keys and
sections are errors (a typo must not silently do nothing); so are sections of stages that were removed.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from formats.errors import FormatError
from vision.detector import DetectorConfig
from vision.events import EventConfig
from vision.hand_detector import HandDetectorConfig
from vision.hands import HandConfig
from vision.products import HeldConfig
from vision.reaching import ReachingConfig
from vision.reid import ReidConfig
from vision.shoppers import ShopperConfig
from vision.tracking import TrackingConfig

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DETECTOR = PROJECT_ROOT / "models" / "walkout-det.pt"
DEFAULT_CLASSIFIER = PROJECT_ROOT / "models" / "walkout-held.pt"
DEFAULT_HAND_MODEL = PROJECT_ROOT / "models" / "walkout-hands.pt"
DEFAULT_REACH_MODEL = PROJECT_ROOT / "models" / "walkout-reach.pt"


@dataclass(frozen=True)
class PipelineConfig:
    """``batch_frames``: frames decoded and detected together; ``merge_window_s``: events of one
    shopper, sku, action and shelf seen by two cameras within this time are one event."""

    detector: DetectorConfig = field(
        default_factory=lambda: DetectorConfig(model_path=str(DEFAULT_DETECTOR), imgsz=416)
    )
    held: HeldConfig = field(default_factory=lambda: HeldConfig(classifier_path=str(DEFAULT_CLASSIFIER)))
    hand_detector: HandDetectorConfig = field(
        default_factory=lambda: HandDetectorConfig(model_path=str(DEFAULT_HAND_MODEL))
    )
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    reid: ReidConfig = field(default_factory=ReidConfig)
    hands: HandConfig = field(default_factory=HandConfig)
    reaching: ReachingConfig = field(default_factory=lambda: ReachingConfig(model_path=str(DEFAULT_REACH_MODEL)))
    events: EventConfig = field(default_factory=EventConfig)
    shoppers: ShopperConfig = field(default_factory=ShopperConfig)
    batch_frames: int = 8
    merge_window_s: float = 1.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


SECTIONS = {
    "detector": DetectorConfig,
    "held": HeldConfig,
    "hand_detector": HandDetectorConfig,
    "tracking": TrackingConfig,
    "reid": ReidConfig,
    "hands": HandConfig,
    "reaching": ReachingConfig,
    "events": EventConfig,
    "shoppers": ShopperConfig,
}

# Sections of stages that were removed: a config that still has one is told so, not just "unknown".
REMOVED_SECTIONS = {"arms": "the experimental arm stage, never shipped"}


def _build(cls, values: dict, path: Path, section: str):
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise FormatError(path, f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}", field=section)
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return converted


def load_config(path: str | Path | None = None, **overrides) -> PipelineConfig:
    """Read a TOML/YAML config over the defaults; ``overrides`` replace top-level fields afterwards."""
    config = PipelineConfig()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FormatError(path, "config file not found")
        try:
            raw = tomllib.loads(path.read_text()) if path.suffix == ".toml" else yaml.safe_load(path.read_text())
        except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
            raise FormatError(path, f"not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {exc}") from None
        raw = raw or {}
        if not isinstance(raw, dict):
            raise FormatError(path, "top level must be a table/mapping")
        changes = {}
        for section, cls in SECTIONS.items():
            if section in raw:
                values = _build(cls, raw.pop(section) or {}, path, section)
                try:
                    changes[section] = dataclasses.replace(getattr(config, section), **values)
                except (TypeError, ValueError) as exc:
                    raise FormatError(path, str(exc), field=section) from None
        pipeline = raw.pop("pipeline", {}) or {}
        removed = sorted(set(raw) & set(REMOVED_SECTIONS))
        if removed:
            what = ", ".join(f"{name} ({REMOVED_SECTIONS[name]})" for name in removed)
            raise FormatError(path, f"removed section(s) {what}: walkout no longer has them; delete them from the config")
        if raw:
            raise FormatError(path, f"unknown section(s) {', '.join(sorted(raw))}")
        top = {f.name for f in dataclasses.fields(PipelineConfig)} - set(SECTIONS)
        unknown = sorted(set(pipeline) - top)
        if unknown:
            raise FormatError(path, f"unknown key(s) {', '.join(unknown)}", field="pipeline")
        config = dataclasses.replace(config, **changes, **pipeline)
    return dataclasses.replace(config, **overrides) if overrides else config

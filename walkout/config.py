"""One config object for `walkout run` (and the loader of `walkout fuse`'s), loadable from TOML or YAML.

Sections mirror the stages: ``[detector]``, ``[held]``, ``[hand_detector]``, ``[tracking]``, ``[reid]``,
``[hands]``, ``[reaching]``, ``[events]``, ``[shoppers]``, and ``[pipeline]`` for the rest. Unknown keys and
sections are errors (a typo must not silently do nothing); so are sections of stages that were removed,
and values of the wrong type (``formats.config``: one typed loader for the run and the fuse config).
Every setting, its unit, default and meaning: docs/CONFIG.md (``walkout config --defaults``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from formats.config import field_types, load_sections, read_table_file
from formats.errors import FormatError
from vision.detector import DetectorConfig
from vision.events import EventConfig
from vision.hand_detector import HandDetectorConfig
from vision.hands import HandConfig
from vision.motion import MotionConfig
from vision.products import HeldConfig
from vision.reaching import ReachingConfig
from vision.reid import ReidConfig
from vision.shoppers import ShopperConfig
from vision.tracking import TrackingConfig

if TYPE_CHECKING:
    from fusion.pipeline import FuseConfig

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DETECTOR = PROJECT_ROOT / "models" / "walkout-det.pt"
DEFAULT_CLASSIFIER = PROJECT_ROOT / "models" / "walkout-held.pt"
DEFAULT_HAND_MODEL = PROJECT_ROOT / "models" / "walkout-hands.pt"
DEFAULT_REACH_MODEL = PROJECT_ROOT / "models" / "walkout-reach.pt"


@dataclass(frozen=True)
class PipelineConfig:
    """Every stage's settings of `walkout run`; a config file has one table per stage and ``[pipeline]``
    for the plain settings below (every setting: docs/CONFIG.md)."""

    detector: DetectorConfig = field(
        default_factory=lambda: DetectorConfig(model_path=str(DEFAULT_DETECTOR), imgsz=512)
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
    motion: MotionConfig = field(default_factory=MotionConfig)
    batch_frames: int = 8
    """frames decoded and detected together (one batched model call)"""
    camera_threads: int = 0
    """cameras of one recording processed at once, each with its own copy of the models and an equal share
    of the ONNX threads; 0: as many as the process's threads (a `--workers N` run's share of the cores,
    else every core)"""
    merge_window_s: float = 1.0
    """events of one shopper, sku, action and shelf seen by two cameras within this time are one event"""
    runtime: str = "auto"
    """what runs the .pt models: onnx (ONNX Runtime, on an export cached beside each .pt by `walkout export`
    or on first use; needs the onnx extra, else PyTorch with a warning), torch (PyTorch), or auto (onnx
    where the onnx extra is installed, else torch)"""

    def __post_init__(self) -> None:
        if self.camera_threads < 0:
            raise ValueError(f"camera_threads must be 0 (automatic) or more, got {self.camera_threads}")

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
    "motion": MotionConfig,
}

# Sections of stages that were removed: a config that still has one is told so, not just "unknown".
REMOVED_SECTIONS = {"arms": "the experimental arm stage, never shipped"}


# Settings that were in frames "at 10 fps" and are seconds at any frame rate now (one unit convention):
# a config that still has one is told its new name, not just "unknown key".
FRAMES_TO_SECONDS = {
    "events": {"min_state_frames": "min_state_s", "min_drop_frames": "min_drop_s", "merge_frames": "merge_s",
               "evidence_window_frames": "evidence_window_s", "reach_window_frames": "reach_window_s",
               "max_gap_frames": "max_gap_s", "min_visit_frames": "min_visit_s", "sku_window_frames": "sku_window_s"},
    "held": {"reach_min_frames": "reach_min_s"},
    "tracking": {"minimum_consecutive_frames": "minimum_consecutive_s"},
}
RENAMED_KEYS = {
    section: {old: f"renamed: write {new}, in seconds, not frames (at 10 fps, 6 frames = 0.6 s)"
              for old, new in keys.items()}
    for section, keys in FRAMES_TO_SECONDS.items()
}


def load_config(path: str | Path | None = None, **overrides) -> PipelineConfig:
    """Read a TOML/YAML config over the defaults; ``overrides`` replace top-level fields afterwards.

    FormatError naming the file, section, key and problem on anything it cannot use
    (:func:`formats.config.load_sections`)."""
    config = PipelineConfig()
    if path is not None:
        config = load_sections(path, config, top_section="pipeline", removed=REMOVED_SECTIONS,
                               renamed=RENAMED_KEYS)
    return dataclasses.replace(config, **overrides) if overrides else config


def load_fuse_config(path: str | Path | None = None) -> FuseConfig:
    """`walkout fuse --config`: a TOML/YAML file of ``[weights]``, ``[weight_events]``, ``[identify]``,
    ``[reconcile]``, ``[attribution]`` over the defaults, typed as :func:`load_config` (a number given
    as text is an error, not converted): :meth:`fusion.pipeline.FuseConfig.from_file`."""
    from fusion.pipeline import FuseConfig

    return FuseConfig() if path is None else FuseConfig.from_file(path)


def command_sections() -> dict[str, tuple[str, ...]]:
    """The sections of a `walkout run` and of a `walkout fuse` config file (to tell one from the other)."""
    from fusion.pipeline import FuseConfig

    return {"run": (*SECTIONS, "pipeline"), "fuse": tuple(field_types(FuseConfig))}


def config_kind(path: str | Path, data: dict | None = None) -> str:
    """``"run"`` or ``"fuse"``: the command a config file is for, from its sections (an empty file is a
    run config). FormatError naming the file when it mixes both or has no section either knows."""
    path = Path(path)
    data = read_table_file(path) if data is None else data
    from fusion.pipeline import REMOVED_SECTIONS as REMOVED_FUSE_SECTIONS

    known = command_sections()
    run = sorted(set(data) & (set(known["run"]) | set(REMOVED_SECTIONS)))
    fuse = sorted(set(data) & (set(known["fuse"]) | set(REMOVED_FUSE_SECTIONS)))
    if run and fuse:
        raise FormatError(path, f"mixes sections of `walkout run` ({', '.join(run)}) and of `walkout fuse` "
                                f"({', '.join(fuse)}): they are two files")
    if fuse:
        return "fuse"
    if run or not data:
        return "run"
    raise FormatError(path, f"unknown section(s) {', '.join(sorted(map(str, data)))}: a `walkout run` config has "
                            f"{', '.join(known['run'])}; a `walkout fuse` config {', '.join(known['fuse'])}")

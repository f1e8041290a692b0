"""One call from a store recording (+ optional vision events) to verified receipts on disk."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from formats.config import load_sections
from formats.errors import FormatError
from formats.receipts import ReceiptLine, build_receipts, write_receipts
from formats.store import parse_store
from formats.tables import read_catalog, read_events, read_planogram, write_csv_atomic
from formats.weight_events import WeightEvent, weight_events_frame
from fusion.attribution import AttributionConfig
from fusion.identify import IdentifyConfig
from fusion.matching import ReconcileConfig
from fusion.presence import Presence, read_presence
from fusion.reaches import read_reaches
from fusion.reconcile import reconcile
from fusion.weight_events import WeightEventConfig, detect_weight_events
from fusion.weights import WeightLog, WeightLogConfig, WeightProblem, find_weight_log, load_weights

log = logging.getLogger(__name__)

# Sections of fusion stages that were removed: a config that still has one is told so, not just "unknown".
REMOVED_SECTIONS = {
    "reach": "who took an item is decided by the attribution model now, see [attribution]",
    "presence": "who took an item is decided by the attribution model now, see [attribution]",
}


@dataclass(frozen=True)
class FuseConfig:
    """Every stage's config; a TOML/YAML file has one table per stage:
    ``[weights]``, ``[weight_events]``, ``[identify]``, ``[reconcile]``, ``[attribution]``."""

    weights: WeightLogConfig = field(default_factory=WeightLogConfig)
    weight_events: WeightEventConfig = field(default_factory=WeightEventConfig)
    identify: IdentifyConfig = field(default_factory=IdentifyConfig)
    reconcile: ReconcileConfig = field(default_factory=ReconcileConfig)
    attribution: AttributionConfig = field(default_factory=AttributionConfig)

    @classmethod
    def from_dict(cls, data: dict, source: str | Path = "fuse config") -> FuseConfig:
        """The defaults with ``data``'s sections over them, checked as a config file is (one loader,
        formats.config.load_sections: unknown or removed sections and keys, values of the wrong type
        such as the text "3" for a number); FormatError naming ``source``, the section and the key."""
        if not isinstance(data, dict):
            raise FormatError(source, "a fuse config must be a table of sections")
        return load_sections(source, cls(), removed=REMOVED_SECTIONS, data=data)

    @classmethod
    def from_file(cls, path: str | Path) -> FuseConfig:
        """Load from ``.toml`` or ``.yaml``/``.yml``; FormatError naming the file, section and key on any
        problem (as :meth:`from_dict`)."""
        return load_sections(path, cls(), removed=REMOVED_SECTIONS)


@dataclass
class FuseResult:
    """What :func:`fuse_recording` found: weight events, receipt lines, the payload, load problems."""

    recording: str
    weight_events: list[WeightEvent]
    lines: list[ReceiptLine]
    receipts: dict
    problems: list[WeightProblem]
    weights: WeightLog | None = None
    outputs: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0


def load_vision_events(path: str | Path) -> pd.DataFrame:
    """An events.csv, or a run directory holding one (``<dir>/events.csv``)."""
    path = Path(path)
    if path.is_dir():
        if not (path / "events.csv").is_file():
            raise FormatError(path, "run directory has no events.csv")
        path = path / "events.csv"
    return read_events(path)


def find_run_file(events: str | Path | pd.DataFrame | None, name: str) -> Path | None:
    """A file of a vision run (reaches.csv, tracks.csv): in the run directory given, or beside the
    events.csv given; None when there is none."""
    if not isinstance(events, str | Path):
        return None
    path = Path(events)
    candidate = path / name if path.is_dir() else path.with_name(name)
    return candidate if candidate.is_file() else None


def recording_name(recording: Path) -> str:
    store = recording / "store.json"
    if store.is_file():
        try:
            return parse_store(store, recording).name or recording.name
        except FormatError:
            return recording.name
    return recording.name


def fuse_recording(
    recording: str | Path,
    events: str | Path | pd.DataFrame | None = None,
    out: str | Path | None = None,
    config: FuseConfig | None = None,
    reaches: str | Path | pd.DataFrame | None = None,
    presence: Presence | None = None,
    collect=None,
    model=None,
) -> FuseResult:
    """Weight log + catalog + planogram (+ vision events) of a recording -> verified receipts.

    events: an events.csv, a run directory with one, a table as from read_events, or None (weight
    only). reaches: a reaches.csv or its table; by default the run's own reaches.csv (in the run
    directory, or beside the events.csv), when there is one. presence: shopper positions and zones;
    by default from the run's tracks.csv and the recording's store.json, when both exist (see
    :mod:`fusion.presence`). collect / model: passed to :func:`fusion.reconcile.reconcile` (training
    gathers its rows through ``collect``). With ``out``, writes weight_events.csv,
    receipts.json and discrepancies.csv atomically. Raises FormatError naming the file on bad input.
    """
    began = time.perf_counter()
    config = config or FuseConfig()
    recording = Path(recording)
    if not recording.is_dir():
        raise FormatError(recording, "recording folder not found")
    catalog = read_catalog(recording / "catalog.csv")
    planogram = read_planogram(recording / "planogram.csv", catalog)
    weights = load_weights(find_weight_log(recording), catalog, planogram, config.weights)
    vision = load_vision_events(events) if isinstance(events, str | Path) else events
    if reaches is None:
        reaches = find_run_file(events, "reaches.csv")
    if isinstance(reaches, str | Path):
        reaches = read_reaches(reaches)
    tracks = find_run_file(events, "tracks.csv")
    if presence is None and tracks is not None and (recording / "store.json").is_file():
        presence = read_presence(tracks, recording / "store.json")
    weight_events = detect_weight_events(weights, config.weight_events, planogram)
    weighted = set(weights.bounds["shelf"].astype(str))
    lines = reconcile(
        weight_events, vision, catalog, planogram, weighted_shelves=weighted,
        config=config.reconcile, id_config=config.identify, reaches=reaches, presence=presence,
        attribution=config.attribution, model=model, collect=collect,
    )
    name = recording_name(recording)
    result = FuseResult(name, weight_events, lines, build_receipts(lines, name), weights.problems, weights)
    if out is not None:
        out = Path(out)
        result.outputs = {
            "weight_events": write_csv_atomic(weight_events_frame(weight_events), out / "weight_events.csv"),
            **write_receipts(lines, name, out),
        }
    result.seconds = time.perf_counter() - began
    return result

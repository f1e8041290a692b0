"""Fusion as a step of the batch (`walkout run --fuse`, `walkout fuse RUNS`): fuse one recording's run
folder in place, and the record of it kept in the manifest so a re-run knows whether it is current.

The record (``fuse`` in a recording's manifest entry, walkout.manifest) says:

- ``status`` (done / failed), ``error``, ``seconds``;
- ``config``: the fingerprint of the fuse config, and ``settings``: the config itself, so fusion can
  be redone with the same settings when vision replaces the run folder (``walkout run --force``, or
  a changed input) without ``--fuse`` being given again;
- ``inputs``: fingerprints of what fusion read: the recording's store.json, catalog.csv,
  planogram.csv and weight log, the run folder's events.csv, reaches.csv, tracks.csv and hands.csv, and the
  attribution model;
- ``outputs``: size and modification time of weight_events.csv, receipts.json, discrepancies.csv.

A fused run folder is current when its record is done with the same config, the same inputs and its
outputs untouched; otherwise it is fused again.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from formats.errors import FormatError
from vision.errors import InputError
from walkout.manifest import config_fingerprint, fingerprint_file, outputs_changed

log = logging.getLogger(__name__)

FUSED_FILES = ("weight_events.csv", "receipts.json", "discrepancies.csv")
FUSE_DONE, FUSE_FAILED = "done", "failed"


def fuse_config_fingerprint(config) -> str:
    return config_fingerprint(dataclasses.asdict(config))


def fuse_inputs(recording: Path, run_dir: Path, config) -> dict[str, str]:
    """Fingerprints of what fusion reads: ``recording/<file>``, ``run/<file>``, ``attribution model`` and
    ``confidence model``."""
    from fusion.attribution import DEFAULT_MODEL
    from fusion.confidence import DEFAULT_MODEL as CONFIDENCE_MODEL
    from fusion.weights import WEIGHT_FILE_NAMES

    weight_logs = [name for name in WEIGHT_FILE_NAMES if (recording / name).is_file()] or [WEIGHT_FILE_NAMES[-1]]
    inputs = {f"recording/{name}": fingerprint_file(recording / name)
              for name in ("store.json", "catalog.csv", "planogram.csv", weight_logs[0])}
    inputs.update(vision_inputs(run_dir))
    inputs["attribution model"] = fingerprint_file(Path(config.attribution.model or DEFAULT_MODEL))
    if config.attribution.confidence != "none":
        inputs["confidence model"] = fingerprint_file(Path(config.attribution.confidence or CONFIDENCE_MODEL))
    return inputs


def vision_inputs(run_dir: Path) -> dict[str, str]:
    """Fingerprints of the vision outputs fusion reads: ``run/<file>``."""
    return {f"run/{name}": fingerprint_file(run_dir / name)
            for name in ("events.csv", "reaches.csv", "tracks.csv", "hands.csv")}


def fuse_run_folder(recording: Path, run_dir: Path, config) -> dict:
    """Fuse ``recording`` with the vision outputs of ``run_dir``, writing the fused files into it
    (atomically, file by file, as ``walkout fuse`` does); the manifest record of the attempt. Never
    raises for a bad recording: the error is in the record."""
    from fusion.pipeline import fuse_recording

    began = time.perf_counter()
    error = ""
    try:
        fuse_recording(recording, run_dir, run_dir, config)
    except (FormatError, InputError) as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a bug or a library error fails this recording's fusion only
        log.error("%s: unexpected error in fusion", recording, exc_info=True)
        error = f"{type(exc).__name__}: {exc}"
    return {
        "status": FUSE_FAILED if error else FUSE_DONE, "error": error,
        "config": fuse_config_fingerprint(config), "settings": dataclasses.asdict(config),
        "inputs": fuse_inputs(recording, run_dir, config), "outputs": {},
        "seconds": round(time.perf_counter() - began, 3),
    }


def fused_outputs(run_dir: Path) -> dict[str, dict[str, int]]:
    """Size and modification time of the fused files of a run folder (those there)."""
    found = {}
    for name in FUSED_FILES:
        if (run_dir / name).is_file():
            stat = (run_dir / name).stat()
            found[name] = {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return found


def fuse_stale_because(record: dict, inputs: dict[str, str], config: str, run_dir: Path) -> str:
    """Why a run folder's fusion is not current ('' if it is)."""
    if not record:
        return "not fused"
    if record.get("status") != FUSE_DONE:
        return f"last fusion {record.get('status')}" + (f": {record['error']}" if record.get("error") else "")
    if record.get("config") != config:
        return "fuse config changed"
    changed = sorted(k for k in set(inputs) | set(record.get("inputs", {})) if inputs.get(k) != record["inputs"].get(k))
    if changed:
        return f"fusion input(s) changed: {', '.join(changed)}"
    return outputs_changed(record.get("outputs", {}), run_dir)


def recorded_fuse_config(record: dict, where: Path):
    """The FuseConfig a manifest record was fused with (FormatError naming the manifest if unusable)."""
    from fusion.pipeline import FuseConfig

    return FuseConfig.from_dict(record["settings"], source=where)


def refreshed_record(record: dict, run_dir: Path) -> dict:
    """The record of a fused run folder edited in place (walkout purge): its vision inputs and its
    outputs as they are now, so the edit is not undone by the next fusion ({} stays {})."""
    if not record:
        return record
    return {**record, "inputs": {**record.get("inputs", {}), **vision_inputs(run_dir)}, "outputs": fused_outputs(run_dir)}


def has_fused_files(run_dir: Path) -> bool:
    return any((run_dir / name).is_file() for name in FUSED_FILES)

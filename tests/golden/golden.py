"""The golden run: `walkout run` + `walkout fuse` on sample_videos/one_shopper with the default
configs (the README demo's), and the comparison of its outputs with the files kept in
tests/golden/one_shopper/.

Compared: every table vision and fusion write (events, tracks, hands, reaches, shoppers, weight
events, discrepancies), the JSON documents (timeline.json, receipts.json) and a summary of run.json
(frames, skipped frames, identity repairs, shoppers, held-item source, the config without model
paths and runtime; no timings, versions or paths). Ids, skus, counts, actions, frames and text are
compared exactly; floats in the columns and keys of ``CSV_TOLERANCES`` / ``JSON_TOLERANCES`` within
an absolute tolerance (box pixels, seconds, probabilities, grams), every other value exactly as
written.

The runtime is the default (``[pipeline] runtime = "auto"``: ONNX Runtime where the ``onnx`` extra
is installed, as in CI, else PyTorch): both give these outputs within the tolerances (checked when
the files were made: the tables and receipts byte-identical, hands.csv's sku_confidence within 1e-6).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = PROJECT_ROOT / "sample_videos" / "one_shopper"
GOLDEN_DIR = Path(__file__).resolve().parent / SAMPLE.name
MODELS = [PROJECT_ROOT / "models" / name for name in
          ("walkout-det.pt", "walkout-hands.pt", "walkout-held.pt", "walkout-reach.pt", "attribution.json",
           "confidence.json")]
UPDATE_COMMAND = "python -m tests.golden.update"

PX, SECONDS, PROBABILITY, GRAMS = 0.5, 0.01, 0.02, 0.5
CSV_TOLERANCES: dict[str, dict[str, float]] = {
    "events.csv": {"timestamp": SECONDS, "confidence": PROBABILITY},
    "tracks.csv": {"x1": PX, "y1": PX, "x2": PX, "y2": PX, "confidence": PROBABILITY, "reaching": PROBABILITY},
    "hands.csv": {"x": PX, "y": PX, "sku_confidence": PROBABILITY},
    "reaches.csv": {"start": SECONDS, "end": SECONDS},
    "shoppers.csv": {"timestamp": SECONDS, "x": 0.01, "y": 0.01},  # metres on the floor
    "weight_events.csv": {"start": SECONDS, "end": SECONDS, "delta_g": GRAMS, "confidence": PROBABILITY},
    "discrepancies.csv": {"timestamp": SECONDS, "delta_g": GRAMS, "probability": PROBABILITY},
}
JSON_TOLERANCES: dict[str, float] = {
    "timestamp": SECONDS, "confidence": PROBABILITY, "probability": PROBABILITY, "delta_g": GRAMS,
    "contribution": PROBABILITY, "value": PROBABILITY,
}
JSON_FILES = ("timeline.json", "receipts.json", "run_summary.json")
FILES = (*CSV_TOLERANCES, *JSON_FILES)
MAX_REPORTED = 15  # differences listed per file; the rest are counted


def produce(out_root: Path) -> Path:
    """Run vision and fusion on the sample into ``out_root/<sample>/`` (as ``walkout run SAMPLE --out
    OUT`` then ``walkout fuse SAMPLE --events OUT/<sample> --out OUT/<sample>``), write
    run_summary.json beside run.json, and return that folder."""
    from fusion.pipeline import fuse_recording
    from walkout.config import load_config, load_fuse_config
    from walkout.pipeline import run_recordings

    [result] = run_recordings([SAMPLE], out_root, load_config())
    if not result.ok:
        raise RuntimeError(f"walkout run failed on {SAMPLE}: {result.error}")
    run_dir = Path(result.out_dir)
    fuse_recording(SAMPLE, run_dir, run_dir, load_fuse_config())
    summary = run_summary(json.loads((run_dir / "run.json").read_text()))
    (run_dir / "run_summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return run_dir


def run_summary(run: dict) -> dict:
    """What run.json says about behaviour: not timings, versions, paths or the runtime."""
    config = json.loads(json.dumps(run["config"]))
    config.pop("runtime", None)
    for section, key in (("detector", "model_path"), ("hand_detector", "model_path"), ("held", "classifier_path"),
                         ("reaching", "model_path")):
        if config.get(section, {}).get(key):
            config[section][key] = Path(config[section][key]).stem  # the model's name, not where it is
    shoppers = {k: v for k, v in run["shoppers"].items() if k != "association_s"}
    return {"version": run["version"], "name": run["name"], "held_source": run["held_source"],
            "cameras": run["cameras"], "shoppers": shoppers, "config": config}


def compare_csv(name: str, expected: Path, actual: Path) -> list[str]:
    """Differences between two CSV files as readable lines (file, line, column, both values)."""
    want = pd.read_csv(expected, dtype=str, keep_default_na=False)
    got = pd.read_csv(actual, dtype=str, keep_default_na=False)
    if list(want.columns) != list(got.columns):
        return [f"{name}: columns differ: expected {list(want.columns)}, got {list(got.columns)}"]
    tolerances = CSV_TOLERANCES.get(name, {})
    problems = []
    if len(want) != len(got):
        problems.append(f"{name}: {len(want)} rows expected, {len(got)} written")
    for row in range(max(len(want), len(got))):
        line = row + 2  # the header is line 1
        if row >= len(got):
            problems.append(f"{name} line {line}: missing row {dict(want.iloc[row])}")
            continue
        if row >= len(want):
            problems.append(f"{name} line {line}: extra row {dict(got.iloc[row])}")
            continue
        for column in want.columns:
            a, b = want.at[row, column], got.at[row, column]
            if not _same(a, b, tolerances.get(column)):
                within = f" (tolerance {tolerances[column]})" if column in tolerances else ""
                problems.append(f"{name} line {line}, column {column!r}: expected {a!r}, got {b!r}{within}")
    return problems


def compare_json(name: str, expected: object, actual: object, where: str = "") -> list[str]:
    """Differences between two JSON documents as readable lines (file, key path, both values)."""
    here = where or "(top)"
    if isinstance(expected, dict) and isinstance(actual, dict):
        problems = [f"{name} {here}: key {k!r} missing" for k in expected if k not in actual]
        problems += [f"{name} {here}: extra key {k!r}" for k in actual if k not in expected]
        for key in expected:
            if key in actual:
                problems += compare_json(name, expected[key], actual[key], f"{where}.{key}" if where else key)
        return problems
    if isinstance(expected, list) and isinstance(actual, list):
        problems = [] if len(expected) == len(actual) else [
            f"{name} {here}: {len(expected)} items expected, {len(actual)} written"]
        for i, (a, b) in enumerate(zip(expected, actual, strict=False)):
            problems += compare_json(name, a, b, f"{where}[{i}]")
        return problems
    key = where.rsplit(".", 1)[-1].split("[")[0]
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (expected, actual))
    if numbers and key in JSON_TOLERANCES:
        if abs(expected - actual) <= JSON_TOLERANCES[key]:
            return []
        return [f"{name} {here}: expected {expected!r}, got {actual!r} (tolerance {JSON_TOLERANCES[key]})"]
    return [] if expected == actual else [f"{name} {here}: expected {expected!r}, got {actual!r}"]


def compare_file(name: str, expected_dir: Path, actual_dir: Path) -> list[str]:
    expected, actual = expected_dir / name, actual_dir / name
    if not actual.is_file():
        return [f"{name}: not written by the run"]
    if name.endswith(".csv"):
        problems = compare_csv(name, expected, actual)
    else:
        problems = compare_json(name, json.loads(expected.read_text()), json.loads(actual.read_text()))
    if len(problems) > MAX_REPORTED:
        problems = [*problems[:MAX_REPORTED], f"{name}: ... and {len(problems) - MAX_REPORTED} more differences"]
    return problems


def _same(expected: str, actual: str, tolerance: float | None) -> bool:
    if expected == actual:
        return True
    if tolerance is None:
        return False
    try:
        a, b = float(expected), float(actual)
    except ValueError:
        return False
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tolerance

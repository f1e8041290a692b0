"""Synthetic shelf weight logs built in the test: tare + settled steps + noise + spikes + drift."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

T0 = 1_700_000_000.0
CATALOG = [
    # sku, name, weight_g
    ("0001", "Cola 330 ml", 350.0),
    ("0002", "Chips", 120.0),
    ("0003", "Protein bar", 50.0),
    ("0004", "Soap", 200.0),
    ("0005", "Tea", 410.0),
]
PLANOGRAM = [
    # shelf, plate, sku: cola spans plates 1-2 of A1
    ("A1", 1, "0001"),
    ("A1", 2, "0001"),
    ("A1", 3, "0002"),
    ("A1", 4, "0003"),
    ("B1", 1, "0004"),
    ("B1", 2, "0005"),
]
WEIGHT = {sku: w for sku, _, w in CATALOG}


@dataclass
class Step:
    """A settled change of ``delta_g`` on one plate at ``t_s`` (seconds after T0), with a hand press."""

    shelf: str
    plate: int
    t_s: float
    delta_g: float
    press_g: float = 40.0
    press_s: float = 0.4


@dataclass
class LogSpec:
    duration_s: float = 20.0
    rate_hz: float = 60.0
    noise_g: float = 0.5
    steps: list[Step] = field(default_factory=list)
    # (shelf, plate, t_s, amplitude_g, length_s): a transient that leaves the level unchanged
    spikes: list[tuple[str, int, float, float, float]] = field(default_factory=list)
    # (shelf, plate, t_s, amplitude_g, length_s): a decaying oscillation (a knock on the shelf)
    vibrations: list[tuple[str, int, float, float, float]] = field(default_factory=list)
    # (shelf, plate) -> grams per second of slow drift
    drift_g_per_s: dict[tuple[str, int], float] = field(default_factory=dict)
    seed: int = 0


def make_log(spec: LogSpec, planogram: list[tuple[str, int, str]] = PLANOGRAM) -> pd.DataFrame:
    """DataFrame[timestamp, shelf, plate, grams], rows ordered by time then plate (as a logger writes)."""
    rng = np.random.default_rng(spec.seed)
    t = np.arange(0.0, spec.duration_s, 1.0 / spec.rate_hz)
    frames = []
    for k, (shelf, plate, sku) in enumerate(planogram):
        tare = 500.0 + 37.0 * k
        grams = tare + 6 * WEIGHT[sku] + rng.normal(0.0, spec.noise_g, t.size)
        grams += spec.drift_g_per_s.get((shelf, plate), 0.0) * t
        for step in spec.steps:
            if (step.shelf, step.plate) != (shelf, plate):
                continue
            grams += np.where(t >= step.t_s, step.delta_g, 0.0)
            press = (t >= step.t_s - step.press_s) & (t < step.t_s + 0.1)
            grams += np.where(press, step.press_g * np.sin(np.pi * (t - step.t_s + step.press_s) / (step.press_s + 0.1)), 0.0)
        for s, p, t_s, amplitude, length in spec.spikes:
            if (s, p) == (shelf, plate):
                grams += np.where((t >= t_s) & (t < t_s + length), amplitude, 0.0)
        for s, p, t_s, amplitude, length in spec.vibrations:
            if (s, p) == (shelf, plate):
                on = (t >= t_s) & (t < t_s + length)
                grams += np.where(on, amplitude * np.exp(-(t - t_s) / length) * np.sin(2 * np.pi * 4.0 * (t - t_s)), 0.0)
        frames.append(pd.DataFrame({"timestamp": T0 + t, "shelf": shelf, "plate": plate, "grams": grams.round(3)}))
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values(["timestamp", "shelf", "plate"], kind="stable").reset_index(drop=True)


def write_recording(
    root: Path,
    log: pd.DataFrame,
    *,
    catalog: list[tuple[str, str, float]] = CATALOG,
    planogram: list[tuple[str, int, str]] = PLANOGRAM,
    name: str = "weights.csv.gz",
) -> Path:
    """A store-recording folder with catalog.csv, planogram.csv and the weight log."""
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(catalog, columns=["sku", "name", "weight_g"]).to_csv(root / "catalog.csv", index=False)
    pd.DataFrame(planogram, columns=["shelf", "plate", "sku"]).to_csv(root / "planogram.csv", index=False)
    if name.endswith(".parquet"):
        log.to_parquet(root / name, index=False)
    else:
        log.to_csv(root / name, index=False)
    (root / "store.json").write_text(json.dumps({"version": 1, "name": root.name, "cameras": []}) + "\n")
    return root


def write_events(path: Path, rows: list[tuple]) -> Path:
    """events.csv from rows (t_s after T0, shopper, action, sku, quantity, shelf)."""
    frame = pd.DataFrame(rows, columns=["timestamp", "shopper", "action", "sku", "quantity", "shelf"])
    frame["timestamp"] = frame["timestamp"] + T0
    frame.to_csv(path, index=False)
    return path

"""Load-cell signals of every plate, consistent with the simulated picks and returns.

Each plate reads tare + the weight of the items on it (an item straddling two plates loads both by
its footprint share), plus Gaussian noise, slow drift, a short burst while a hand presses or lifts,
and optional dropouts (gaps and NaN readings). The step at each event is exactly the true weight of
the moved items (their own per-item weights, not the catalog's nominal weight).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mockstore.script import Simulation


@dataclass(frozen=True)
class WeightConfig:
    """Sensor model constants (grams, seconds)."""

    tare_min_g: float = 600.0
    tare_max_g: float = 2400.0
    spike_min_g: float = 25.0
    spike_max_g: float = 160.0
    spike_width_s: float = 0.12
    spike_lead_s: float = 0.1
    spike_hz: float = 5.0
    gap_s: float = 1.5


def plate_loads(sim: Simulation) -> dict[tuple[str, int], float]:
    """Initial item load (grams, without tare) of every planogram plate."""
    loads = {(shelf, plate): 0.0 for shelf, plate, _ in sim.planogram}
    for item in sim.epoch_items[0]:
        product = sim.scenario.product(item.sku)
        for plate, share in sim.layout.plate_shares(item.x_m, product.width_m).items():
            loads[(item.shelf, plate)] = loads.get((item.shelf, plate), 0.0) + item.weight_g * share
    return loads


def synthesize_weights(sim: Simulation, rng: np.random.Generator, config: WeightConfig | None = None) -> pd.DataFrame:
    """DataFrame[timestamp (Unix s), shelf, plate, grams] for every plate at knobs.weight_rate_hz."""
    config = config or WeightConfig()
    scenario, knobs = sim.scenario, sim.scenario.knobs
    t = np.arange(0.0, scenario.duration_s, 1.0 / knobs.weight_rate_hz)
    frames = []
    loads = plate_loads(sim)
    for (shelf, plate), load in sorted(loads.items()):
        signal = np.full(t.shape, load + rng.uniform(config.tare_min_g, config.tare_max_g))
        for event in sim.events:
            if event.shelf != shelf:
                continue
            for p, grams in event.grams_by_plate:
                if p != plate:
                    continue
                signal[t >= event.t_s] += grams
                if knobs.weight_spikes:
                    amp = rng.uniform(config.spike_min_g, config.spike_max_g)
                    dt = t - (event.t_s - config.spike_lead_s)
                    envelope = np.exp(-0.5 * (dt / config.spike_width_s) ** 2)
                    signal += amp * envelope * np.cos(2 * np.pi * config.spike_hz * dt)
        drift = knobs.weight_drift_g_per_min / 60.0 * rng.uniform(-1, 1) * t
        signal = signal + drift + rng.normal(0.0, knobs.weight_noise_g, t.shape)
        keep = np.ones(t.shape, bool)
        if knobs.weight_dropout > 0:
            n_gaps = rng.poisson(knobs.weight_dropout * scenario.duration_s / config.gap_s)
            for start in rng.uniform(0, scenario.duration_s, n_gaps):
                keep &= ~((t >= start) & (t < start + config.gap_s * rng.uniform(0.3, 1.0)))
            signal[rng.random(t.shape) < knobs.weight_dropout * 0.2] = np.nan
        frames.append(pd.DataFrame({"timestamp": scenario.start_timestamp + t[keep], "shelf": shelf,
                                    "plate": plate, "grams": signal[keep]}))
    if not frames:
        return pd.DataFrame(columns=["timestamp", "shelf", "plate", "grams"])
    return pd.concat(frames, ignore_index=True)

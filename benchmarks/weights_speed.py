"""Speed of weight-event detection on a synthetic 1-hour, 350-plate, 60 Hz log (~75 million samples).

Prints samples/s and the peak resident memory. Run:  python benchmarks/weights_speed.py [--hours H]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd

from fusion.weight_events import WeightEventConfig, detect_weight_events
from fusion.weights import WeightLog

T0 = 1_700_000_000.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def synthesise(hours: float, n_plates: int, rate_hz: float, picks_per_plate: int, seed: int) -> WeightLog:
    """A clean log (as load_weights returns): plates of 14 per shelf, noise 0.5 g, picks with presses."""
    rng = np.random.default_rng(seed)
    n = int(hours * 3600 * rate_hz)
    t = T0 + np.arange(n) / rate_hz
    timestamps = np.empty(n * n_plates)
    grams = np.empty(n * n_plates)
    for k in range(n_plates):
        g = 800.0 + rng.normal(0.0, 0.5, n)
        for at in rng.uniform(10, hours * 3600 - 10, picks_per_plate):
            i = int(at * rate_hz)
            g[i:] -= rng.choice([50.0, 120.0, 350.0])
            g[i - 20: i + 5] += 40.0  # the hand pressing
        timestamps[k * n: (k + 1) * n] = t
        grams[k * n: (k + 1) * n] = g
    shelves = [f"S{k // 14:02d}" for k in range(n_plates)]
    plates = [k % 14 + 1 for k in range(n_plates)]
    frame = pd.DataFrame(
        {
            "timestamp": timestamps,
            "shelf": pd.Categorical.from_codes(np.repeat(np.arange(n_plates) // 14, n), sorted(set(shelves))),
            "plate": np.repeat(np.asarray(plates, dtype=np.int64), n),
            "grams": grams,
        }
    )
    bounds = pd.DataFrame({"shelf": shelves, "plate": plates, "start": np.arange(n_plates) * n,
                           "stop": (np.arange(n_plates) + 1) * n})
    return WeightLog("<synthetic>", frame, bounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--plates", type=int, default=350)
    parser.add_argument("--rate-hz", type=float, default=60.0)
    parser.add_argument("--picks-per-plate", type=int, default=3)
    args = parser.parse_args()
    began = time.perf_counter()
    log = synthesise(args.hours, args.plates, args.rate_hz, args.picks_per_plate, seed=0)
    built_s = time.perf_counter() - began
    rss_log = peak_rss_mb()
    began = time.perf_counter()
    events = detect_weight_events(log, WeightEventConfig())
    seconds = time.perf_counter() - began
    expected = args.plates * args.picks_per_plate
    print(f"log: {log.n_samples:,} samples ({args.plates} plates x {args.hours:g} h x {args.rate_hz:g} Hz), "
          f"synthesised in {built_s:.1f} s, peak RSS after building {rss_log:,.0f} MB")
    print(f"detect_weight_events: {seconds:.1f} s, {log.n_samples / seconds:,.0f} samples/s, "
          f"{len(events)} events ({expected} picks planted)")
    print(f"peak RSS {peak_rss_mb():,.0f} MB (detection adds {peak_rss_mb() - rss_log:,.0f} MB)")


if __name__ == "__main__":
    main()

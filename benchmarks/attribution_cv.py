"""Leave-one-group-out check of the attribution model on development runs (never the held-out ones).

For each difficulty group of the sets given (as written by ``benchmarks/accuracy.py``: OUT/<group>/
recordings and OUT/<group>/predictions), the model is fitted on the other groups' takes and scored
on this group's: per take, whether the most probable candidate made it (accuracy) and how well its
probability matches (expected calibration error, 10 bins). Also the nearest-shopper fallback.

    python benchmarks/attribution_cv.py runs/attribution-dev --l2 0.1 1 10
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from fusion.attribution import NearestShopper
from walkout.attribution_training import fit_on, gather_rows, take_accuracy

log = logging.getLogger("attribution_cv")


def nearest_accuracy(rows: pd.DataFrame) -> float:
    fallback = NearestShopper()
    right = [bool(take["label"].iloc[int(fallback.probabilities(take).argmax())]) for _, take in rows.groupby("take")]
    return sum(right) / max(1, len(right))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("roots", nargs="+", type=Path)
    parser.add_argument("--l2", nargs="+", type=float, default=[1.0], help="L2 penalties to compare")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    rows, _ = gather_rows(args.roots)
    groups = sorted(set(rows["group"]))
    print("| held-out group | takes | nearest | " + " | ".join(f"l2={c:g} accuracy / ECE" for c in args.l2) + " |")
    print("|---|---|---|" + "---|" * len(args.l2))
    for group in groups:
        test, train = rows[rows["group"] == group], rows[rows["group"] != group]
        cells = []
        for c in args.l2:
            figures = take_accuracy(fit_on(train, l2=c), test)
            cells.append(f"{figures['accuracy']:.3f} / {figures['ece']:.3f}")
        print(f"| {group} | {test['take'].nunique()} | {nearest_accuracy(test):.3f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

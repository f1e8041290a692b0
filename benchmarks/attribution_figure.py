"""The picture of one weight change's attribution: its candidates, their evidence and probabilities.

Fuses a run with the shipped attribution model, takes one take (by default the first with two or
more candidates), and draws each candidate's probability beside what each piece of evidence added
to their score. The README's picture is made by:

    python benchmarks/attribution_figure.py RECORDING RUN --out docs/attribution.png
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from fusion.attribution import AttributionConfig, resolve_model  # noqa: E402
from fusion.pipeline import fuse_recording  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recording", type=Path)
    parser.add_argument("run", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--take", type=int, default=-1, help="which take (default: the first with 2+ candidates)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    model = resolve_model(AttributionConfig())
    takes = []
    with tempfile.TemporaryDirectory() as scratch:
        fuse_recording(args.recording, args.run, Path(scratch), model=model,
                       collect=lambda take, frame: takes.append((take, frame.copy())))
    index = args.take if args.take >= 0 else next(k for k, (_, f) in enumerate(takes) if len(f) >= 2)
    take, frame = takes[index]
    p = model.probabilities(frame)
    _, contributions = model.logits(frame)
    strongest = np.argsort(-np.abs(contributions).max(axis=0))[:6]
    names = [f"shopper {s}" for s in frame.index]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2), gridspec_kw={"width_ratios": [1, 2]})
    left.barh(names, p, color=["tab:green" if v == p.max() else "tab:gray" for v in p])
    left.set_xlim(0, 1)
    left.set_xlabel("probability of being the taker")
    left.invert_yaxis()
    event = take.event
    left.set_title(f"{take.quantity} x {take.sku} ({take.action}) from {event.shelf} plates "
                   f"{','.join(map(str, event.plates))},\npart of a {event.delta_g:+.0f} g change", fontsize=9)
    width = 0.8 / len(frame)
    for k, name in enumerate(names):
        right.bar(np.arange(len(strongest)) + k * width, contributions[k, strongest], width, label=name)
    right.set_xticks(np.arange(len(strongest)) + 0.4 - width / 2)
    right.set_xticklabels([model.features[j] for j in strongest], rotation=20, fontsize=8)
    right.axhline(0, color="black", linewidth=0.5)
    right.set_ylabel("contribution to the score")
    right.set_title("evidence (standardised feature x coefficient)", fontsize=9)
    right.legend(fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"take {index}: {dict(zip(frame.index, np.round(p, 3), strict=True))} -> {args.out}")


if __name__ == "__main__":
    main()

"""Write a predictions folder derived from a recording's truth, with deliberate, listed errors.

So that ``walkout bench RECORDING... --predictions OUT`` gives a readable report whose every line can
be checked by hand before the vision pipeline exists. For each recording it writes
``OUT/<recording name>/``: ``events.csv`` (predicted columns), ``tracks/<camera>.txt`` (truth tracks
with ids permuted and boxes jittered), ``receipts.json`` (carts of the predicted events, one unit
moved to "unattributed"), ``run.json`` (no timings: bench will say "no timings") and
``errors.json`` (what was changed, to compare with the report).

Errors made (each only when the recording has enough events):
- when the recording has truth tracks, every predicted shopper id is a permutation of the truth ids
  (``700 + rank``, reversed order) and predicted tracks carry the same ids, so attribution is right
  once bench maps ids through the tracks (without tracks, ids are kept: nothing could map them);
- all times jittered uniformly within +-``--jitter-s`` (default 0.5 s, inside bench's 1.5 s);
- the first event dropped (missed);
- the second event's sku swapped for another product (one missed + one extra);
- the third event attributed to another shopper (misattributed), if there are >= 2 shoppers;
- the fourth event's quantity increased by one (quantity mismatch);
- one extra pick added in the widest gap between truth events (extra).

Usage: python scripts/make_handmade_predictions.py RECORDING... --out PRED_DIR [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from formats.tables import read_catalog, read_events, write_events, write_json_atomic
from walkout.bench.inputs import read_camera_clocks, read_mot
from walkout.bench.receipts import net_carts

log = logging.getLogger("make_handmade_predictions")


def permuted_ids(shoppers: list[str]) -> dict[str, str]:
    """Truth shopper ids -> predicted ids ``700 + k`` in reversed order (a visible permutation)."""
    ordered = sorted(shoppers, key=lambda s: (len(s), s))
    return {s: str(700 + k) for k, s in enumerate(reversed(ordered))}


def make_predictions(recording: Path, out: Path, seed: int, jitter_s: float, box_jitter_px: float) -> dict:
    """Write OUT/<recording name>/ for one recording; returns the list of changes made."""
    rng = np.random.default_rng(seed)
    truth = read_events(recording / "truth" / "events.csv")
    target = out / recording.name
    tracks_dir = recording / "truth" / "tracks"
    track_files = sorted(tracks_dir.glob("*.txt")) if tracks_dir.is_dir() else []
    shoppers = set(truth["shopper"])
    tracks = {f.stem: read_mot(f) for f in track_files}
    for rows in tracks.values():
        shoppers |= set(rows["id"].astype(str))
    # Without predicted tracks bench compares ids as they are, so only permute when tracks exist.
    ids = permuted_ids(sorted(shoppers)) if tracks else {s: s for s in shoppers}
    changes: dict = {"shopper_ids": ids, "jitter_s": jitter_s, "events": []}

    predicted = truth.copy()
    predicted["shopper"] = predicted["shopper"].map(ids)
    predicted["timestamp"] = predicted["timestamp"] + rng.uniform(-jitter_s, jitter_s, len(predicted))
    predicted["confidence"] = 0.9
    skus = (
        sorted(set(read_catalog(recording / "catalog.csv")["sku"]))
        if (recording / "catalog.csv").is_file()
        else []
    )
    skus = skus or sorted(set(truth["sku"]))

    def note(kind: str, index: int, **extra) -> None:
        row = truth.iloc[index]
        changes["events"].append(
            {
                "kind": kind,
                "timestamp": float(row["timestamp"]),
                "sku": row["sku"],
                "shopper": row["shopper"],
                **extra,
            }
        )

    drop = []
    if len(predicted) >= 1:
        note("dropped (expect: missed)", 0)
        drop.append(0)
    if len(predicted) >= 2:
        others = [s for s in skus if s != predicted.at[1, "sku"]]
        if others:
            new = others[int(rng.integers(len(others)))]
            note("sku swapped (expect: missed + extra)", 1, new_sku=new)
            predicted.at[1, "sku"] = new
    if len(predicted) >= 3 and len(ids) >= 2:
        wrong = next(p for s, p in sorted(ids.items()) if p != predicted.at[2, "shopper"])
        note("given to another shopper (expect: misattributed)", 2, new_pred_shopper=wrong)
        predicted.at[2, "shopper"] = wrong
    if len(predicted) >= 4:
        note("quantity +1 (expect: quantity)", 3, new_quantity=int(predicted.at[3, "quantity"]) + 1)
        predicted.at[3, "quantity"] += 1
    predicted = predicted.drop(index=drop).reset_index(drop=True)
    if len(truth):
        # In the widest gap between truth events, with a product the truth never mentions if possible,
        # so that it cannot be mistaken for a jittered copy of a neighbour.
        times = np.sort(
            np.concatenate([truth["timestamp"].to_numpy(float), [truth["timestamp"].max() + 6.0]])
        )
        widest = int(np.argmax(np.diff(times))) if len(times) > 1 else 0
        middle = float(times[widest] + times[widest + 1]) / 2 if len(times) > 1 else float(times[0]) + 3.0
        unused = [s for s in skus if s not in set(truth["sku"])]
        extra = {
            "timestamp": middle,
            "shopper": next(iter(ids.values())),
            "action": "pick",
            "sku": (unused or skus)[-1],
            "quantity": 1,
            "shelf": truth["shelf"].iloc[0],
            "plates": "",
            "confidence": 0.5,
        }
        changes["events"].append(
            {"kind": "added (expect: extra)", **{k: extra[k] for k in ("timestamp", "sku", "shopper")}}
        )
        predicted = pd.concat([predicted, pd.DataFrame([extra])], ignore_index=True)

    clocks = read_camera_clocks(recording) if (recording / "store.json").is_file() else {}
    clock = next(iter(clocks.values()), None)
    predicted["camera"] = clock.camera if clock else ""
    predicted["frame"] = [clock.locate(t)[0] if clock and clock.fps else -1 for t in predicted["timestamp"]]
    predicted["frame"] = predicted["frame"].fillna(-1).astype(int)
    write_events(predicted, target / "events.csv", predicted=True)

    for camera, rows in tracks.items():
        rows = rows[rows["conf"] != 0].copy()
        rows["id"] = rows["id"].astype(str).map(ids).astype(int)
        rows[["x", "y", "w", "h"]] += rng.uniform(-box_jitter_px, box_jitter_px, (len(rows), 4))
        rows["conf"] = 0.9
        text = "".join(
            f"{f},{i},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{c:.2f},-1,-1,-1\n"
            for f, i, x, y, w, h, c in rows[["frame", "id", "x", "y", "w", "h", "conf"]].itertuples(
                index=False
            )
        )
        (target / "tracks").mkdir(parents=True, exist_ok=True)
        (target / "tracks" / f"{camera}.txt").write_text(text)

    carts = net_carts(predicted, "shopper")
    receipts = {
        "version": 1,
        "recording": recording.name,
        "shoppers": {},
        "unattributed": {"items": {}, "lines": []},
    }
    for shopper, cart in sorted(carts.items()):
        receipts["shoppers"][shopper] = {"items": dict(sorted(cart.items())), "lines": []}
    if carts:
        shopper = sorted(carts)[0]
        items = receipts["shoppers"][shopper]["items"]
        if items:
            sku = sorted(items)[0]
            items[sku] -= 1
            if not items[sku]:
                del items[sku]
            receipts["unattributed"]["items"][sku] = 1
            changes["receipts"] = f"one {sku} moved from shopper {shopper} to unattributed"
    write_json_atomic(receipts, target / "receipts.json")
    write_json_atomic(
        {"version": 1, "recording": recording.name, "source": "scripts/make_handmade_predictions.py"},
        target / "run.json",
    )
    write_json_atomic(changes, target / "errors.json")
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recordings", nargs="+", type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jitter-s", type=float, default=0.5)
    parser.add_argument("--box-jitter-px", type=float, default=2.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    failed = 0
    for recording in args.recordings:
        if not (recording / "truth" / "events.csv").is_file():
            log.error("%s: no truth/events.csv, skipped", recording)
            failed += 1
            continue
        changes = make_predictions(recording, args.out, args.seed, args.jitter_s, args.box_jitter_px)
        log.info("%s: %s", recording.name, json.dumps([c["kind"] for c in changes["events"]]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

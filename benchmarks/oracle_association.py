"""How much of a store's receipt error is identity? Run the stores again with the cross-camera
association replaced by the truth, and score both runs with the bench.

Every camera's tracks are made as always (same detector, tracker, identity repair, hands, events);
only the join into store-level shoppers changes: each camera track becomes the truth shopper whose
truth box it overlaps best (IoU >= 0.5, in the most frames, as association training labels vision
tracks: walkout.association_training.track_owners); a track that never overlaps one keeps a
``<camera>-<track>`` id. Fusion and the bench then run as always. The gap between the two rows is
what a perfect association of today's tracks would gain; what stays is the tracks' own misses and
switches, and attribution.

    python benchmarks/oracle_association.py runs/accuracy/store --predictions predictions --out runs/oracle_assoc

GROUP is a group folder of benchmarks/accuracy.py (GROUP/recordings/<name> with truth/boxes, and
GROUP/<predictions>/<name> from its run). The truth-joined runs go to OUT/<group>/truth-join/<name>
and their report to OUT/<group>/report (with OUT/provenance.json: a set benchmarks/results.py reads);
the report of the group's own run to OUT/<group>/<predictions>-report. Runs in this process, one
recording at a time.
"""

from __future__ import annotations

import argparse
import functools
import logging
from pathlib import Path

from accuracy import write_provenance

from formats.store import parse_store
from fusion.pipeline import fuse_recording
from vision.shoppers import ShopperMap, store_shoppers
from walkout.association_training import AssociationTrainingConfig, read_truth_shopper_boxes, track_owners
from walkout.batch import RunOptions, run_recordings
from walkout.bench import run_bench
from walkout.pipeline import process_recording

METRICS = ("fused_attributed_f1", "fused_receipt_accuracy", "fused_split_receipts", "global_idf1", "floor_idf1", "idf1")


def truth_join(recording: Path, tracks_by_camera, cameras, fps, config=None, looks=None) -> ShopperMap:
    """:func:`vision.shoppers.store_shoppers`, with each camera track given its truth shopper."""
    joined = store_shoppers(tracks_by_camera, cameras, fps, config, looks)
    iou = AssociationTrainingConfig().iou
    shopper_of = {}
    for camera, tracks in tracks_by_camera.items():
        owners = track_owners(tracks, read_truth_shopper_boxes(recording, camera), iou)
        for track_id in {int(t) for t in tracks["track_id"]}:
            shopper_of[(camera, track_id)] = owners.get(track_id, f"{camera}-{track_id}")
    return ShopperMap("store", shopper_of, joined.tracklets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("group", type=Path)
    parser.add_argument("--predictions", default="predictions", help="the group's run to compare with")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    recordings = sorted(p for p in (args.group / "recordings").iterdir() if (p / "store.json").is_file())
    recordings = [r for r in recordings if len(parse_store(r / "store.json", r).cameras) > 1]
    if not recordings:
        raise SystemExit(f"{args.group / 'recordings'}: no multi-camera recordings")
    write_provenance(args.out, predictions="truth-join")
    group = args.out / args.group.name
    joined = group / "truth-join"
    for recording in recordings:
        process = functools.partial(process_recording, join_shoppers=functools.partial(truth_join, recording))
        for result in run_recordings([recording], joined, options=RunOptions(workers=1), process=process):
            if result.ok:
                fuse_recording(result.recording, result.out_dir, result.out_dir)
    rows = [(f"association as shipped ({args.predictions})",
             run_bench(recordings, args.group / args.predictions, group / f"{args.predictions}-report").metrics()),
            ("association from the truth", run_bench(recordings, joined, group / "report").metrics())]
    print("| run | " + " | ".join(METRICS) + " |")
    print("|---|" + "---|" * len(METRICS))
    for name, metrics in rows:
        print(f"| {name} | " + " | ".join(f"{metrics.get(m, float('nan')):.3f}" for m in METRICS) + " |")


if __name__ == "__main__":
    main()

"""Where camera tracks change people, and which of those changes the identity repair could undo.

A camera track that follows one shopper and then another bills the second one's picks to the first
(and chains the two into one store-level shopper). For every recording of a group, each predicted box
is matched to a truth shopper box of its frame (optimal matching, IoU >= the bench's threshold); each
camera track's *main* person is the one it is on most, and every stretch of a track on someone else is
a *switch*, sorted by kind:

- ``swap``: it starts at a contact the identity repair finds (vision.reid.contact_groups: boxes of two
  tracks overlapping, and 1 s around it), and the person the track moved onto was followed by another track
  of that contact in the second before it (the look the repair decodes against): two tracks exchanged
  their people, which the repair's decoding can undo;
- ``slide at a contact``: at a contact, onto someone with no track of their own there just before (hidden, or
  just come into view): no permutation of the contact's tracks gives them back, only a cut could;
- ``slide``: at no contact (a box that moves from one person onto another without two tracks touching).

A track that begins on someone else and then moves onto its main person is timed where it moves. Prints,
per kind, the stretches and their boxes, long ones (``--min-boxes`` or more) apart from flickers.

    python benchmarks/switches.py runs/acc/store --predictions kept

Nothing is written; mock-store renders only (it reads truth/boxes).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from trackers.eval import box_iou

from formats.tables import read_truth_boxes
from vision.reid import ReidConfig, contact_groups
from walkout.bench.config import BenchConfig
from walkout.recording import load_recording, probe_video

log = logging.getLogger("switches")
KINDS = ("swap", "slide at a contact", "slide")


@dataclass(frozen=True)
class Switch:
    """One stretch of a camera track on someone other than its main person."""

    recording: str
    camera: str
    track: int
    frame: int  # where the track moved (onto the other person, or back onto its main one)
    boxes: int
    kind: str


def truth_person(tracks: pd.DataFrame, truth: pd.DataFrame, iou_threshold: float) -> np.ndarray:
    """Per row of one camera's ``tracks`` (frame, x1..y2; index 0..n-1), the truth shopper (``track_id``) whose box
    of that frame it is matched to (one-to-one per frame, IoU >= ``iou_threshold``); -1: none."""
    who = np.full(len(tracks), -1)
    shoppers = truth[truth["object"] == "shopper"]
    by_frame = {int(f): rows for f, rows in shoppers.groupby("frame")}
    for frame, rows in tracks.groupby("frame"):
        people = by_frame.get(int(frame))
        if people is None:
            continue
        iou = box_iou(rows[["x1", "y1", "x2", "y2"]].to_numpy(float), people[["x1", "y1", "x2", "y2"]].to_numpy(float),
                      box_format="xyxy")
        pred, true = linear_sum_assignment(-iou)
        keep = iou[pred, true] >= iou_threshold
        who[rows.index[pred[keep]]] = people["track_id"].to_numpy(int)[true[keep]]
    return who


def camera_switches(recording: str, camera: str, tracks: pd.DataFrame, who: np.ndarray, fps: float,
                    reid: ReidConfig) -> list[Switch]:
    """The switches of one camera's tracks (module docstring); ``who`` from :func:`truth_person`."""
    frames, ids = tracks["frame"].to_numpy(int), tracks["track_id"].to_numpy(int)
    groups = contact_groups(frames, ids, tracks[["x1", "y1", "x2", "y2"]].to_numpy(float), fps, reid)
    margin = max(1, round(reid.merge_gap_s * fps))
    window = max(1, round(reid.window_s * fps))  # the repair's look of each track before a contact
    out = []
    for track in np.unique(ids):
        rows = np.flatnonzero((ids == track) & (who >= 0))
        rows = rows[np.argsort(frames[rows], kind="stable")]
        if not len(rows):
            continue
        main = np.bincount(who[rows]).argmax()
        off = who[rows] != main
        for run in np.split(np.arange(len(rows)), np.flatnonzero(np.diff(off.astype(int))) + 1):
            if not off[run[0]]:
                continue
            at_start = run[0] == 0 and run[-1] + 1 < len(rows)
            moved = int(frames[rows[run[-1] + 1]]) if at_start else int(frames[rows[run[0]]])
            person = who[rows[run[0]]] if not at_start else main  # the one the track moved onto
            near = [(lo, hi, members) for lo, hi, members in groups
                    if track in members and lo - margin <= moved <= hi + margin]
            kind = "slide"
            if near:
                kind = "slide at a contact"
                for lo, _, members in near:
                    start = min(lo, moved)
                    before = (frames >= start - window) & (frames < start) & np.isin(ids, members) & (ids != track)
                    if (who[before] == person).any():
                        kind = "swap"
            out.append(Switch(recording, camera, int(track), moved, len(run), kind))
    return out


def group_switches(group: Path, predictions: str, config: BenchConfig, reid: ReidConfig) -> list[Switch]:
    """Every switch of every recording of ``group`` (benchmarks/accuracy.py's layout)."""
    out = []
    for recording in sorted((group / "recordings").glob("seed*")):
        path = group / predictions / recording.name / "tracks.csv"
        if not path.is_file():
            log.warning("%s: no tracks.csv: left out", path.parent)
            continue
        fps = {camera.id: probe_video(camera.video).fps for camera in load_recording(recording).cameras}
        for camera, tracks in pd.read_csv(path).groupby("camera"):
            tracks = tracks.reset_index(drop=True)
            truth = read_truth_boxes(recording / "truth" / "boxes" / f"{camera}.csv")
            who = truth_person(tracks, truth, config.iou_threshold)
            out += camera_switches(recording.name, str(camera), tracks, who, fps[camera], reid)
    return out


def summary(switches: list[Switch], min_boxes: int) -> pd.DataFrame:
    """Stretches and boxes per kind, long (``min_boxes`` or more) and short."""
    table = pd.DataFrame([(s.kind, s.boxes >= min_boxes, s.boxes) for s in switches], columns=["kind", "long", "boxes"])
    rows = []
    for kind in KINDS:
        for long in (True, False):
            part = table[(table["kind"] == kind) & (table["long"] == long)]
            rows.append({"kind": kind, "stretches": "long" if long else "short", "count": len(part),
                         "boxes": int(part["boxes"].sum())})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("groups", nargs="+", type=Path, help="group folders of benchmarks/accuracy.py (OUT/<group>)")
    parser.add_argument("--predictions", default="predictions", help="the runs' folder name in each group")
    parser.add_argument("--min-boxes", type=int, default=10, help="a long switch has at least this many boxes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    switches = [s for group in args.groups for s in group_switches(group, args.predictions, BenchConfig(), ReidConfig())]
    table = summary(switches, args.min_boxes)
    print("| kind | stretches | count | boxes |\n|---|---|---|---|")
    for row in table.itertuples(index=False):
        print(f"| {row.kind} | {row.stretches} | {row.count} | {row.boxes} |")


if __name__ == "__main__":
    main()

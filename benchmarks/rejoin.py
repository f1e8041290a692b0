"""Score a change to the store join end to end in minutes: run a group's cameras once, keep what they
found, and join them into shoppers again under other settings, then fuse and bench.

A store's cameras (detector, tracker, identity repair, hands, reaches, per-camera events) are most of
a run's time; the join of camera tracks into shoppers, the events across cameras, fusion and the bench
take seconds. So the cameras run once (``record``) and each join setting is scored on their kept
results (``join``), receipts included, on as many stores as were recorded.

    python benchmarks/rejoin.py record runs/acc/store --cache /tmp/cams --predictions kept
    python benchmarks/rejoin.py join runs/acc/store --cache /tmp/cams --to bias --config join.toml

``record``: every recording of GROUP/recordings is run as ``walkout run`` runs it (``--config``),
written to GROUP/<predictions>/<name> and fused; each one's camera results are pickled to
CACHE/<name>.pkl. ``join``: each CACHE/<name>.pkl joined again with ``--config`` (its ``[shoppers]``
and what follows the cameras; camera settings in it do nothing here, the cameras are not run), written
to GROUP/<to>/<name>, fused, and benched into GROUP/<to>-report. Prints the bench's metrics.
``join --truth-join`` joins each camera track to its truth shopper instead (what a perfect join of these
tracks would give, as benchmarks/oracle_association.py, without running the cameras again).
``join --relook`` makes each kept track's look again from the camera's video as the config's ``[shoppers] look``
makes it (colours, or a learnt embedding: vision.embedding), to score a change of look without running the cameras.
With the config ``record`` used, ``join`` writes what ``record`` wrote (tests/bench/test_bench_rejoin_script.py).
The kept results also hold each tracked box's colours (``CameraResult.descriptors``), so an experiment on what
the join is given (a track's looks, tracks cut in pieces) can be replayed without running the cameras; a cache
kept before they were added reads with none.

PRIVACY: the cache holds what the cameras found about every tracked person, their looks (colour
histograms per track and per box) included, which ``walkout run`` never writes. It is made only by this benchmark, for
mock-store renders; keep it out of shared folders and delete it when done.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import pickle
from pathlib import Path

from accuracy import print_table, write_provenance
from oracle_association import truth_join

from fusion.pipeline import FuseConfig
from vision.shoppers import store_shoppers
from walkout.batch import RunOptions, run_recordings
from walkout.bench import run_bench
from walkout.config import load_config
from walkout.pipeline import CameraResult, process_recording

log = logging.getLogger("rejoin")
CACHE_VERSION = 1


def keep_cameras(cache: Path, recording: Path, results: list[CameraResult]) -> None:
    """Pickle one recording's camera results (looks included) to CACHE/<name>.pkl, atomically."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{recording.name}.pkl"
    partial = path.with_suffix(".partial")
    partial.write_bytes(pickle.dumps({"version": CACHE_VERSION, "recording": str(recording), "cameras": results}))
    partial.replace(path)


def kept_cameras(cache: Path, recording: Path) -> list[CameraResult]:
    """The camera results ``record`` kept for ``recording``; an error naming the file otherwise."""
    path = cache / f"{recording.name}.pkl"
    if not path.is_file():
        raise SystemExit(f"{path}: no kept cameras for {recording} (run `rejoin.py record` first)")
    kept = pickle.loads(path.read_bytes())  # noqa: S301 - our own cache, written by keep_cameras
    if not isinstance(kept, dict) or kept.get("version") != CACHE_VERSION:
        raise SystemExit(f"{path}: version: not a cache of this rejoin.py (version {CACHE_VERSION}); record again")
    for result in kept["cameras"]:  # kept before CameraResult had descriptors
        result.__dict__.setdefault("descriptors", None)
    return kept["cameras"]


def replay(cache: Path, path, out_root, models, config, *, truth: bool = False, relook: bool = False, **options):
    """:func:`walkout.pipeline.process_recording` on the kept camera results of ``path``; ``truth``: each
    camera track joined to the truth shopper it overlaps best (benchmarks/oracle_association.py's join);
    ``relook``: each kept track's look made again from the camera's video as ``config``'s ``[shoppers] look``
    makes it (:func:`relooked`)."""
    join = functools.partial(truth_join, Path(path)) if truth else store_shoppers
    cameras = kept_cameras(cache, Path(path))
    if relook:
        cameras = relooked(Path(path), cameras, config)
    return process_recording(path, out_root, models, config, camera_results=cameras, join_shoppers=join, **options)


def relooked(path: Path, cameras: list[CameraResult], config) -> list[CameraResult]:
    """The kept camera results with each track's look made again from its video: colours, or with
    ``[shoppers] look = "embedding"`` the boxes of every ``look_sample_s`` embedded (as the identity repair
    stage makes them in a run, vision.embedding)."""
    from walkout.association_training import AssociationTrainingConfig, camera_looks
    from walkout.recording import load_recording

    videos = {c.id: c.video for c in load_recording(path).cameras}
    training = AssociationTrainingConfig(look=config.shoppers.look, look_model=config.shoppers.look_model)
    return [dataclasses.replace(r, looks=camera_looks(videos[r.camera], r.tracks[["frame", "track_id", "x1", "y1", "x2", "y2"]],
                                                       r.fps, training))
            for r in cameras]


def run_group(group: Path, target: str, config_path: Path | None, process, workers: int = 1) -> list[Path]:
    """Run (``process``) and fuse every recording of GROUP/recordings into GROUP/<target>; bench it."""
    recordings = sorted(p for p in (group / "recordings").iterdir() if (p / "store.json").is_file())
    if not recordings:
        raise SystemExit(f"{group / 'recordings'}: no recordings")
    # The run loop fuses each recording where it ran it (in its worker), as `walkout run --fuse` does.
    options = RunOptions(workers=workers, fuse=FuseConfig())
    for result in run_recordings(recordings, group / target, load_config(config_path), options=options, process=process):
        if not result.ok:
            log.error("%s: %s", result.recording, result.error)
    return recordings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("record", "join"))
    parser.add_argument("groups", nargs="+", type=Path, help="group folders of benchmarks/accuracy.py (OUT/<group>)")
    parser.add_argument("--cache", type=Path, required=True, help="where the camera results are kept (one per recording)")
    parser.add_argument("--predictions", default="kept", help="record: the run's folder name in each group")
    parser.add_argument("--to", default=None, help="join: the joined runs' folder name in each group")
    parser.add_argument("--config", type=Path, default=None, help="pipeline config TOML (as `walkout run --config`)")
    parser.add_argument("--workers", type=int, default=1, help="recordings at once, each in its own process")
    parser.add_argument("--relook", action="store_true",
                        help="join: make each kept track's look again from the videos, as --config's [shoppers] look makes it")
    parser.add_argument("--truth-join", action="store_true",
                        help="join: each camera track to the truth shopper it overlaps best (a ceiling, not a result)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.mode == "join" and not args.to:
        parser.error("join needs --to NAME")
    target = args.predictions if args.mode == "record" else args.to
    rows = []
    for group in args.groups:
        cache = args.cache / group.parent.name / group.name
        process = (functools.partial(process_recording, keep_cameras=functools.partial(keep_cameras, cache))
                   if args.mode == "record" else functools.partial(replay, cache, truth=args.truth_join, relook=args.relook))
        recordings = run_group(group, target, args.config, process, args.workers)
        write_provenance(group.parent, predictions=target)
        metrics = run_bench(recordings, group / target, group / f"{target}-report").metrics()
        rows.append((f"{group.parent.name}/{group.name}", len(recordings), metrics))
    print_table(rows)


if __name__ == "__main__":
    main()

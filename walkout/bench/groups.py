"""The difficulty groups of the accuracy benchmark and of the attribution model's training renders:
how each is rendered by the mock store, and one call to render a group and run walkout on it."""

from __future__ import annotations

from pathlib import Path

# Difficulty groups: (name, shoppers, extra `walkout simulate` options, duration (s): 0 for --duration).
# Seeds 500+ are never used by `walkout train` (its renders use seeds of 1e9 and up) nor by the
# sample scenarios. The store group: a multi-aisle store, 4-6 calibrated cameras and 4-6 shoppers by
# seed (see store_options), 60 s.
GROUPS = (
    ("single", 1, ["--returns", "0.2", "--double-pick", "0.3"], 0.0),
    ("two", 2, ["--returns", "0.25", "--same-shelf", "0.3", "--pixel-noise", "3"], 0.0),
    ("crowded", 3, ["--same-shelf", "0.6", "--crossing", "0.8", "--wrong-return", "0.5", "--lighting-change", "0.3",
                    "--motion-blur", "3", "--jpeg-quality", "60"], 0.0),
    ("store", 0, ["--layout", "store"], 60.0),
)
SIZES = {"single": 8, "two": 8, "crowded": 6, "store": 8}


def store_options(seed: int) -> tuple[int, list[str]]:
    """A store render's shoppers and cameras, 4-6 each, set by its seed."""
    return 4 + (seed // 3) % 3, ["--cameras", str(4 + seed % 3)]


def render(out: Path, seed: int, shoppers: int, options: list[str], duration_s: float) -> Path:
    path = out / f"seed{seed:04d}"
    if not (path / "store.json").is_file():
        from walkout.cli import main as walkout

        code = walkout(["-q", "simulate", str(path), "--seed", str(seed), "--shoppers", str(shoppers),
                        "--duration", str(duration_s), *options])
        if code:
            raise RuntimeError(f"rendering {path} failed")
    return path


def render_and_run(group: Path, name: str, first_seed: int, size: int, duration_s: float, config=None,
                   predictions: str = "predictions") -> tuple[list[Path], Path]:
    """Render (or reuse) ``size`` recordings of group ``name`` from ``first_seed`` into
    GROUP/recordings, run walkout and fuse into GROUP/<predictions>; returns (recordings, that folder)."""
    from fusion.pipeline import fuse_recording
    from walkout.batch import run_recordings

    _, shoppers, options, group_duration_s = next(g for g in GROUPS if g[0] == name)
    recordings = []
    for seed in range(first_seed, first_seed + size):
        count, extra = store_options(seed) if name == "store" else (shoppers, [])
        recordings.append(render(group / "recordings", seed, count, [*options, *extra], group_duration_s or duration_s))
    out = group / predictions
    for result in run_recordings(recordings, out, config, baselines=(name == "single")):
        if result.ok:
            fuse_recording(result.recording, result.out_dir, result.out_dir)
    return recordings, out

"""Speed from the ``timings`` that ``walkout run`` writes into ``run.json``.

Schema (all times are wall-clock seconds, ``video_s`` is seconds of video processed)::

    {
      "timings": {
        "<camera>": {"frames": 393, "video_s": 39.3, "total_s": 12.1, "skipped": 150,
                     "stages_s": {"decode": 1.0, "motion": 0.4, "detect": 8.0, "track": 0.6, "events": 0.4}}
      },
      "baselines": {
        "decode_only":       {"<camera>": {"frames": 393, "video_s": 39.3, "total_s": 0.9}},
        "ultralytics_track": {"<camera>": {"frames": 393, "video_s": 39.3, "total_s": 10.2}}
      }
    }

``stages_s`` may hold any stage names (``decode``, ``detect``, ``track``, ``events`` expected).
``skipped`` (optional, 0 when absent): idle frames the detectors skipped (vision.motion); its share
of the frames is ``skipped_share``.
Derived: per stage frames/s = frames / stage seconds; pipeline frames/s = frames / total_s;
real-time factor = video_s / total_s (> 1 is faster than real time) per camera; for a recording (and a sum
of recordings) it is the recording's seconds, its longest camera counted once, over its wall seconds, so a
6-camera store at >= 1 keeps up with all six cameras (``total.camera_seconds_per_second`` is the sum over
cameras instead). Baselines (``decode_only``:
decoding alone; ``ultralytics_track``: ultralytics' plain ``model.track()`` loop) get the same
figures and ``speed_ratio`` = pipeline frames/s / baseline frames/s. Sums over cameras and
recordings add frames and seconds, then divide; when a recording's cameras ran at once (``cameras_run``:
``{"threads": 2, "wall_s": 59.5}``), the pipeline's total seconds are that wall time, not the sum of
the cameras' own times.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from formats.errors import FormatError


@dataclass(frozen=True)
class Timing:
    """Frames and seconds of one run (one camera, or a sum)."""

    frames: int = 0
    video_s: float = 0.0
    total_s: float = 0.0
    stages_s: Mapping[str, float] = field(default_factory=dict)
    skipped: int = 0

    def __add__(self, other: Timing) -> Timing:
        stages = dict(self.stages_s)
        for name, seconds in other.stages_s.items():
            stages[name] = stages.get(name, 0.0) + seconds
        return Timing(
            self.frames + other.frames, self.video_s + other.video_s, self.total_s + other.total_s, stages,
            self.skipped + other.skipped,
        )

    @property
    def skipped_share(self) -> float | None:
        """Share of the frames on which the detectors did not run (nothing moved)."""
        return self.skipped / self.frames if self.frames else None

    @property
    def fps(self) -> float | None:
        """Frames per wall-clock second over the whole run."""
        return self.frames / self.total_s if self.total_s > 0 else None

    @property
    def realtime_factor(self) -> float | None:
        """Seconds of video per wall-clock second."""
        return self.video_s / self.total_s if self.total_s > 0 else None

    @property
    def stage_fps(self) -> dict[str, float | None]:
        return {name: (self.frames / s if s > 0 else None) for name, s in self.stages_s.items()}

    def to_dict(self) -> dict:
        return {
            "frames": self.frames,
            "video_s": self.video_s,
            "total_s": self.total_s,
            "stages_s": dict(self.stages_s),
            "fps": self.fps,
            "stage_fps": self.stage_fps,
            "realtime_factor": self.realtime_factor,
            "skipped": self.skipped,
            "skipped_share": self.skipped_share,
        }


def _timing(path: Path, block: object, where: str) -> Timing:
    if not isinstance(block, dict):
        raise FormatError(path, f"{where} must be an object", field=where)
    try:
        stages = block.get("stages_s", {}) or {}
        return Timing(
            frames=int(block["frames"]),
            video_s=float(block["video_s"]),
            total_s=float(block["total_s"]),
            stages_s={str(k): float(v) for k, v in stages.items()},
            skipped=int(block.get("skipped", 0) or 0),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FormatError(
            path, f"{where}: needs frames, video_s, total_s (numbers) [{exc}]", field=where
        ) from None


@dataclass(frozen=True)
class SpeedScore:
    """Pipeline timing per camera and baseline timings per baseline name (cameras summed)."""

    cameras: Mapping[str, Timing] = field(default_factory=dict)
    baselines: Mapping[str, Timing] = field(default_factory=dict)
    overlap_s: float = 0.0  # camera seconds that ran while another camera of the recording ran (cameras_run)
    recording_s: float = 0.0  # each recording's duration (its longest camera) once, summed over recordings

    @property
    def measured(self) -> bool:
        return bool(self.cameras)

    @property
    def total(self) -> Timing:
        """Every camera summed, its ``total_s`` the wall time: cameras run at once count their shared
        seconds once (``run.json`` ``cameras_run.wall_s``)."""
        summed = sum(self.cameras.values(), Timing())
        return replace(summed, total_s=summed.total_s - self.overlap_s) if self.overlap_s else summed

    def __add__(self, other: SpeedScore) -> SpeedScore:
        cameras = dict(self.cameras)
        for name, timing in other.cameras.items():
            cameras[name] = cameras[name] + timing if name in cameras else timing
        baselines = dict(self.baselines)
        for name, timing in other.baselines.items():
            baselines[name] = baselines[name] + timing if name in baselines else timing
        return SpeedScore(cameras, baselines, self.overlap_s + other.overlap_s, self.recording_s + other.recording_s)

    @property
    def realtime_factor(self) -> float | None:
        """Seconds of recording per wall-clock second, each recording's duration counted once (its
        cameras are seen at once): >= 1 keeps up with every camera."""
        total = self.total
        if not self.recording_s:
            return total.realtime_factor
        return self.recording_s / total.total_s if total.total_s > 0 else None

    def to_dict(self) -> dict:
        if not self.measured:
            return {"measured": False, "note": "no timings"}
        total = self.total
        baselines = {}
        for name, timing in self.baselines.items():
            ratio = total.fps / timing.fps if total.fps and timing.fps else None
            baselines[name] = {**timing.to_dict(), "speed_ratio": ratio}
        return {
            "measured": True,
            "cameras": {name: t.to_dict() for name, t in sorted(self.cameras.items())},
            "total": {**total.to_dict(), "realtime_factor": self.realtime_factor,
                      "camera_seconds_per_second": total.realtime_factor},
            "baselines": baselines,
        }


def read_speed(run_info: dict, path: Path) -> SpeedScore:
    """``run.json`` payload -> SpeedScore (empty when there are no timings)."""
    timings = run_info.get("timings") or {}
    if not isinstance(timings, dict):
        raise FormatError(path, "'timings' must be an object keyed by camera", field="timings")
    cameras = {str(cam): _timing(path, block, f"timings.{cam}") for cam, block in timings.items()}
    baselines_raw = run_info.get("baselines") or {}
    if not isinstance(baselines_raw, dict):
        raise FormatError(path, "'baselines' must be an object keyed by baseline name", field="baselines")
    baselines = {}
    for name, per_camera in baselines_raw.items():
        if not isinstance(per_camera, dict):
            raise FormatError(path, f"baselines.{name} must be an object keyed by camera", field="baselines")
        baselines[str(name)] = sum(
            (_timing(path, block, f"baselines.{name}.{cam}") for cam, block in per_camera.items()), Timing()
        )
    cameras_run = run_info.get("cameras_run")
    wall_s = cameras_run.get("wall_s") if isinstance(cameras_run, dict) else None
    summed = sum(t.total_s for t in cameras.values())
    overlap = max(0.0, summed - float(wall_s)) if isinstance(wall_s, int | float) else 0.0
    recording_s = max((t.video_s for t in cameras.values()), default=0.0)
    return SpeedScore(cameras, baselines, overlap, recording_s)

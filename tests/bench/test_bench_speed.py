"""Speed figures from run.json timings."""

from __future__ import annotations

from pathlib import Path

import pytest

from formats.errors import FormatError
from walkout.bench.speed import read_speed

RUN = {
    "timings": {
        "cam0": {
            "frames": 100,
            "video_s": 10.0,
            "total_s": 5.0,
            "stages_s": {"decode": 0.5, "detect": 4.0, "track": 0.25, "events": 0.25},
        },
        "cam1": {
            "frames": 100,
            "video_s": 10.0,
            "total_s": 15.0,
            "stages_s": {"decode": 0.5, "detect": 14.0, "track": 0.25, "events": 0.25},
        },
    },
    "baselines": {
        "decode_only": {
            "cam0": {"frames": 100, "video_s": 10.0, "total_s": 0.5},
            "cam1": {"frames": 100, "video_s": 10.0, "total_s": 0.5},
        },
        "ultralytics_track": {"cam0": {"frames": 200, "video_s": 20.0, "total_s": 10.0}},
    },
}


def test_stage_fps_and_realtime_factor():
    speed = read_speed(RUN, Path("run.json"))
    cam0 = speed.cameras["cam0"]
    assert cam0.stage_fps == {
        "decode": 100 / 0.5,
        "detect": 100 / 4.0,
        "track": 100 / 0.25,
        "events": 100 / 0.25,
    }
    assert cam0.realtime_factor == 10.0 / 5.0
    total = speed.total  # sums of frames and seconds, then divided
    assert total.fps == 200 / 20.0
    assert total.realtime_factor == 20.0 / 20.0
    assert total.stage_fps["detect"] == 200 / 18.0
    report = speed.to_dict()
    assert report["baselines"]["decode_only"]["speed_ratio"] == pytest.approx((200 / 20.0) / (200 / 1.0))
    assert report["baselines"]["ultralytics_track"]["speed_ratio"] == pytest.approx(
        (200 / 20.0) / (200 / 10.0)
    )


def test_a_recording_s_real_time_factor_counts_its_duration_once_however_many_cameras():
    timing = {"frames": 600, "video_s": 60.0, "total_s": 30.0, "stages_s": {"detect": 30.0}}
    six = {f"cam{i}": timing for i in range(6)}
    score = read_speed({"timings": six, "cameras_run": {"threads": 2, "wall_s": 90.0}}, Path("run.json"))
    assert score.realtime_factor == pytest.approx(60.0 / 90.0)  # does not keep up with its six cameras
    total = score.to_dict()["total"]
    assert total["realtime_factor"] == pytest.approx(60.0 / 90.0)
    assert total["camera_seconds_per_second"] == pytest.approx(360.0 / 90.0)
    shorter = {**six, "cam5": {**timing, "video_s": 45.0}}  # a camera whose video is shorter
    assert read_speed({"timings": shorter}, Path("run.json")).recording_s == 60.0


def test_no_timings():
    speed = read_speed({}, Path("run.json"))
    assert not speed.measured
    assert speed.to_dict() == {"measured": False, "note": "no timings"}


def test_bad_timings_name_the_file():
    with pytest.raises(FormatError, match="run.json.*timings.cam0"):
        read_speed({"timings": {"cam0": {"frames": "many"}}}, Path("run.json"))


def test_skipped_idle_frames_add_up_over_cameras():
    run = {"timings": {"cam0": {**RUN["timings"]["cam0"], "skipped": 60}, "cam1": RUN["timings"]["cam1"]}}
    speed = read_speed(run, Path("run.json"))
    assert speed.cameras["cam0"].skipped_share == 0.6
    assert speed.cameras["cam1"].skipped == 0  # a run.json from before idle frames were skipped
    assert speed.total.skipped == 60 and speed.total.skipped_share == 60 / 200
    assert speed.to_dict()["total"]["skipped_share"] == 60 / 200


def test_cameras_run_at_once_count_their_wall_time_not_the_sum_of_their_times():
    timing = {"frames": 100, "video_s": 10.0, "total_s": 8.0, "stages_s": {"detect": 8.0}}
    info = {"timings": {"cam0": timing, "cam1": timing}, "cameras_run": {"threads": 2, "wall_s": 10.0}}
    score = read_speed(info, Path("run.json"))
    assert score.total.total_s == pytest.approx(10.0)  # not 16: the cameras shared 6 s
    assert score.total.fps == pytest.approx(20.0)
    assert score.total.stages_s["detect"] == pytest.approx(16.0)  # the cameras' own stage times
    two = score + score
    assert two.total.total_s == pytest.approx(20.0)
    assert two.realtime_factor == pytest.approx(20.0 / 20.0)  # 10 s of recording each, not 40 camera-seconds
    one_at_a_time = read_speed({"timings": {"cam0": timing, "cam1": timing}}, Path("run.json"))
    assert one_at_a_time.total.total_s == pytest.approx(16.0)

"""walkout.inspect: a run directory as tidy tables, and the views drawn from them."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from formats.errors import FormatError  # noqa: E402
from walkout import inspect as wi  # noqa: E402

from .inspect_fixture import FPS, FRAMES, HEIGHT, T0, WIDTH, write_recording, write_run  # noqa: E402

SCHEMAS = {
    "tracks": wi.TRACKS_SCHEMA,
    "hands": wi.HANDS_SCHEMA,
    "events": wi.EVENTS_SCHEMA,
    "visits": wi.VISITS_SCHEMA,
    "timelines": wi.TIMELINES_SCHEMA,
    "weight_events": wi.WEIGHT_EVENTS_SCHEMA,
    "receipts": wi.RECEIPTS_SCHEMA,
    "carts": wi.CARTS_SCHEMA,
    "truth_events": wi.EVENTS_SCHEMA,
    "reaches": wi.REACHES_SCHEMA,
    "positions": wi.POSITIONS_SCHEMA,
    "discrepancies": wi.DISCREPANCIES_SCHEMA,
}


# The file each table is read from (truth events come from the recording).
SOURCES = {
    "tracks": "tracks.csv", "hands": "hands.csv", "events": "events.csv", "visits": "hands.csv",
    "timelines": "timeline.json", "weight_events": "weight_events.csv", "receipts": "receipts.json",
    "carts": "receipts.json", "truth_events": "truth/events.csv", "reaches": "reaches.csv",
    "positions": "shoppers.csv", "discrepancies": "discrepancies.csv",
}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def recording(tmp_path):
    return write_recording(tmp_path)


@pytest.fixture
def run_dir(tmp_path, recording):
    return write_run(tmp_path, recording)


@pytest.fixture
def run(run_dir):
    return wi.load_run(run_dir)  # the recording comes from run.json


def gids(ax, gid: str) -> list:
    """Every artist of an Axes with this gid."""
    return [a for a in ax.findobj() if a.get_gid() == gid]


def check_schema(frame: pd.DataFrame, schema: dict[str, str]) -> None:
    assert list(frame.columns) == list(schema)
    for column, dtype in schema.items():
        if dtype == "str":
            assert pd.api.types.is_string_dtype(frame[column]), column
        else:
            assert frame[column].dtype == np.dtype(dtype), column


# ------------------------------------------------------------------------------------------ load_run


@pytest.mark.parametrize("table", list(SCHEMAS))
def test_tables_have_documented_columns_and_types(run, table):
    check_schema(getattr(run, table), SCHEMAS[table])


@pytest.mark.parametrize(("table", "rows"), [
    ("tracks", 20 + 20), ("hands", 5 + 5 + 6), ("events", 2), ("visits", 2), ("timelines", 2),
    ("weight_events", 2), ("receipts", 3), ("carts", 1 + 2), ("truth_events", 2), ("reaches", 2),
    ("positions", 4 + 4), ("discrepancies", 2),
])
def test_tables_have_one_row_per_record(run, table, rows):
    assert len(getattr(run, table)) == rows


def test_every_time_is_on_the_shared_clock_and_since_t0(run):
    assert run.t0 == T0
    assert run.recording is not None and run.recording.name == "handmade"
    tracks = run.tracks
    assert np.allclose(tracks["t_s"], tracks["frame"] / FPS)
    assert np.allclose(tracks["timestamp"], T0 + tracks["frame"] / FPS)
    assert run.events["t_s"].tolist() == pytest.approx([0.9, 2.0])
    assert run.weight_events["start_s"].tolist() == pytest.approx([0.95, 2.45])
    assert run.receipts["t_s"].tolist() == pytest.approx([0.95, 2.0, 2.45])
    assert run.duration_s == pytest.approx(FRAMES / FPS)


def test_camera_clock_size_and_zones_come_from_the_recording(run):
    cam = run.camera("cam0")
    assert (cam.fps, cam.frames, cam.width_px, cam.height_px) == (FPS, FRAMES, WIDTH, HEIGHT)
    assert [z.plates for z in cam.zones] == [(1,), (2,)]
    assert run.camera() is cam  # the only one
    with pytest.raises(KeyError, match="cam9"):
        run.camera("cam9")


def test_hands_name_the_zone_they_are_in(run):
    in_zone = run.hands[run.hands["zone"] >= 0]
    assert set(zip(in_zone["zone"], in_zone["shelf"], in_zone["plates"], strict=True)) == {(0, "A1", "1"), (1, "A1", "2")}
    assert (run.hands.loc[run.hands["zone"] < 0, "shelf"] == "").all()
    assert run.hands.loc[run.hands["count"] > 0, "sku"].unique().tolist() == ["0001"]  # leading zeros kept


def test_visits_are_runs_of_a_hand_in_one_zone(run):
    visits = run.visits[["shopper", "zone", "shelf", "plates", "start_frame", "end_frame"]]
    assert visits.values.tolist() == [["1", 0, "A1", "1", 5, 9], ["2", 1, "A1", "2", 17, 22]]
    assert run.visits["start_s"].tolist() == pytest.approx([5 / FPS, 17 / FPS])
    assert run.visits["end_s"].tolist() == pytest.approx([(9 + 1) / FPS, (22 + 1) / FPS])  # to the end of the last frame


def test_visits_of_a_run_made_when_the_visit_settings_were_frames_are_the_same(run_dir, run):
    info = json.loads((run_dir / "run.json").read_text())
    info["config"]["events"] = {"max_gap_frames": 3, "min_visit_frames": 2}  # = 0.3 s and 0.2 s at 10 fps
    (run_dir / "run.json").write_text(json.dumps(info))
    pd.testing.assert_frame_equal(wi.load_run(run_dir).visits, run.visits)


def test_receipt_lines_are_flat_with_their_vision_event(run):
    receipts = run.receipts.set_index("status")
    assert receipts.loc["confirmed", "shopper"] == "1"
    assert receipts.loc["confirmed", "weight_event"] == "w0001"
    assert receipts.loc["confirmed", "vision_sku"] == "0001"
    assert receipts.loc["confirmed", "vision_t_s"] == pytest.approx(0.9)
    assert receipts.loc["vision_only", "weight_event"] == ""
    assert np.isnan(receipts.loc["vision_only", "delta_g"])
    assert not receipts.loc["vision_only", "counted"]
    assert receipts.loc["unattributed", "shopper"] == ""  # no shopper
    assert receipts.loc["unattributed", "vision_sku"] == ""  # no vision event
    assert receipts.loc["unattributed", "vision_quantity"] == -1


def test_every_file_run_and_fuse_write_is_loaded_with_every_column(run):
    """Each CSV's header and each receipt line's keys are columns of its table (nothing dropped)."""
    for table, name in (("tracks", "tracks.csv"), ("hands", "hands.csv"), ("events", "events.csv"),
                        ("reaches", "reaches.csv"), ("positions", "shoppers.csv"),
                        ("weight_events", "weight_events.csv"), ("discrepancies", "discrepancies.csv")):
        header = (run.path / name).read_text().splitlines()[0].split(",")
        assert set(header) <= set(getattr(run, table).columns), (name, set(header) - set(getattr(run, table).columns))
    payload = json.loads((run.path / "receipts.json").read_text())
    line = payload["shoppers"]["1"]["lines"][0]
    flat = set(run.receipts.columns)
    assert set(line) - {"vision"} <= flat and {f"vision_{k}" for k in line["vision"]} <= flat
    assert set(wi.RUN_FILES) == {"events.csv", "timeline.json", "tracks.csv", "hands.csv", "reaches.csv",
                                 "shoppers.csv", "run.json", "weight_events.csv", "receipts.json", "discrepancies.csv"}


def test_tracks_keep_the_reach_probability_and_the_store_level_shopper(tmp_path, recording):
    run_dir = write_run(tmp_path, recording)
    lines = (run_dir / "tracks.csv").read_text().splitlines()
    rows = [lines[0] + ",reaching,shopper"] + [f"{row},{0.25 * (i % 4)},s{row.split(',')[1]}"
                                               for i, row in enumerate(lines[1:])]
    (run_dir / "tracks.csv").write_text("\n".join(rows) + "\n")
    tracks = wi.load_run(run_dir).tracks
    assert tracks["reaching"].tolist()[:5] == [0.0, 0.25, 0.5, 0.75, 0.0]
    assert set(tracks["shopper"]) == {"s1", "s2"}
    assert wi.load_run(write_run(tmp_path / "other", recording)).tracks["reaching"].isna().all()  # no classifier


def test_reaches_and_floor_positions_are_on_the_clock(run):
    reaches = run.reaches
    assert reaches[["shopper", "shelf", "plates", "frames"]].values.tolist() == [["1", "A1", "1", 5], ["2", "A1", "2", 6]]
    assert reaches["start_s"].tolist() == pytest.approx([0.5, 1.7])
    assert reaches["end_s"].tolist() == pytest.approx([1.0, 2.3])
    assert run.positions["t_s"].iloc[0] == pytest.approx(0.0)
    assert set(run.positions["shopper"]) == {"1", "2"} and (run.positions["cameras"] == "cam0").all()
    predicted, _ = wi.floor_positions(run)
    assert len(predicted) == 8


def test_receipt_lines_carry_probability_candidates_readable_evidence_and_where_to_look(run):
    receipts = run.receipts.set_index("status")
    assert receipts.loc["confirmed", "probability"] == pytest.approx(0.93)
    assert receipts.loc["confirmed", "evidence"] == "offset 0.12 (+1.50); claim 1 (+0.40)"
    assert receipts.loc["confirmed", "candidates"] == "1 0.97; 2 0.03"
    assert receipts.loc["confirmed", "look_at"] == "cam0 4-11"
    assert np.isnan(receipts.loc["unattributed", "probability"])
    assert receipts.loc["unattributed", "evidence"] == "" and receipts.loc["unattributed", "look_at"] == ""
    assert receipts.loc["confirmed", "vision_action"] == "pick"
    assert receipts.loc["confirmed", "vision_confidence"] == pytest.approx(0.9)
    flagged = run.discrepancies
    assert flagged["status"].tolist() == ["vision_only", "unattributed"]  # every line but the confirmed one
    assert flagged["t_s"].tolist() == pytest.approx([2.0, 2.45])


def test_cart_timeline_draws_a_review_line(tmp_path, recording):
    run_dir = write_run(tmp_path, recording)
    payload = json.loads((run_dir / "receipts.json").read_text())
    payload["shoppers"]["1"]["lines"][0].update(status="review", probability=0.41)
    (run_dir / "receipts.json").write_text(json.dumps(payload))
    run = wi.load_run(run_dir)
    ax = wi.plot_cart_timeline(run)
    assert "review" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_timelines_and_final_carts(run):
    assert run.timelines[["shopper", "step", "action", "cart_after", "cart_units"]].values.tolist() == [
        ["1", 0, "pick", "0001×1", 1], ["2", 0, "return", "", 0],
    ]
    carts = run.carts.sort_values(["source", "shopper"])
    assert carts.values.tolist() == [["receipt", "", "0002", 1], ["receipt", "1", "0001", 1], ["vision", "1", "0001", 1]]
    assert run.shoppers() == ["1", "2"]
    assert run.fused


@pytest.mark.parametrize("kept", [("run.json",), ("events.csv",), ("weight_events.csv",)])
def test_absent_files_give_empty_tables_with_the_same_columns(tmp_path, recording, kept):
    full = write_run(tmp_path, recording)
    for path in full.iterdir():
        if path.name not in kept:
            path.unlink()
    run = wi.load_run(full, recording)
    assert set(run.missing) == set(wi.RUN_FILES) - set(kept)
    for table, schema in SCHEMAS.items():
        frame = getattr(run, table)
        check_schema(frame, schema)
        if SOURCES[table] not in (*kept, "truth/events.csv"):
            assert frame.empty, table
    assert run.t0 == T0  # from store.json


def test_header_only_files_are_empty_tables(tmp_path, recording):
    run_dir = write_run(tmp_path, recording)
    for name in ("events.csv", "tracks.csv", "hands.csv", "weight_events.csv"):
        header = (run_dir / name).read_text().splitlines()[0]
        (run_dir / name).write_text(header + "\n")
    run = wi.load_run(run_dir)
    for table in ("events", "tracks", "hands", "visits", "weight_events"):
        assert getattr(run, table).empty
        check_schema(getattr(run, table), SCHEMAS[table])


def test_without_a_recording_times_follow_from_the_events(tmp_path):
    run = wi.load_run(write_run(tmp_path, None))  # run.json names a folder that does not exist
    assert run.recording is None
    assert run.camera("cam0").video is None
    assert run.t0 == pytest.approx(T0)  # event at frame 9 is at T0 + 0.9
    assert run.tracks["t_s"].iloc[0] == pytest.approx(0.0)
    assert run.truth_events.empty
    with pytest.raises(FormatError, match="recording"):
        run.weights("A1")
    with pytest.raises(FormatError, match="no video"):
        wi.frame_at(run, "cam0", 1.0)


def test_a_weight_only_run_starts_at_the_first_thing_that_happens(tmp_path, recording):
    """Fusion without vision, on a recording without cameras (like the real AiFi weight logs)."""
    store = json.loads((recording / "store.json").read_text())
    (recording / "store.json").write_text(json.dumps({**store, "cameras": []}))
    run_dir = write_run(tmp_path, recording)
    for name in ("events.csv", "tracks.csv", "hands.csv", "timeline.json", "run.json"):
        (run_dir / name).unlink()
    run = wi.load_run(run_dir, recording)
    assert run.cameras == ()
    assert run.t0 == pytest.approx(T0 + 0.95)  # w0001 starts before the first truth event (T0 + 1.0)
    assert run.duration_s == pytest.approx(2.6 - 0.95)  # to the end of w0002
    ax = wi.plot_cart_timeline(run)
    assert len(gids(ax, "weight_event")) == 2 and len(gids(ax, "truth_event")) == 2
    assert len(gids(wi.plot_weight(run), "weight_event")) == 2  # the shelf with the most weight events


@pytest.mark.parametrize("make", [lambda p: p / "absent", lambda p: (p / "empty").mkdir() or p / "empty"])
def test_not_a_run_directory_is_an_error_naming_it(tmp_path, make):
    path = make(tmp_path)
    with pytest.raises(FormatError, match=str(path.name)):
        wi.load_run(path)


def test_a_folder_of_runs_names_them(run_dir):
    with pytest.raises(FormatError, match="pass one of: rec"):
        wi.load_run(run_dir.parent)  # `walkout run --out` folder: one run directory per recording


def test_weights_of_a_shelf_and_plates(run):
    both = run.weights("A1")
    assert set(both["plate"]) == {1, 2} and len(both) == 2 * 180
    one = run.weights("A1", plates=[2])
    assert set(one["plate"]) == {2}
    assert one["grams"].iloc[0] - one["grams"].iloc[-1] == pytest.approx(340.0)
    check_schema(one, wi.WEIGHTS_SCHEMA)


# ------------------------------------------------------------------------------------------ frames


def test_frame_index_follows_the_clock_and_stays_in_the_video(run):
    assert wi.frame_index(run, "cam0", 0.0) == 0
    assert wi.frame_index(run, "cam0", 1.24) == 12  # 12.4 frames -> the nearest
    assert wi.frame_index(run, "cam0", -5.0) == 0
    assert wi.frame_index(run, "cam0", 99.0) == FRAMES - 1


def test_frame_at_is_an_rgb_image_of_the_video_size(run):
    plain = wi.frame_at(run, "cam0", 0.9, annotate=False)
    annotated = wi.frame_at(run, "cam0", 0.9)
    assert plain.shape == annotated.shape == (HEIGHT, WIDTH, 3)
    assert plain.dtype == annotated.dtype == np.uint8
    assert plain[:, :, 0].mean() < plain[:, :, 2].mean() + 1  # fixture frames are blue-ish in BGR: R is small
    assert (plain != annotated).any()  # boxes, zones and the event banner are drawn


def test_frame_at_defaults_to_the_first_event(run):
    assert np.array_equal(wi.frame_at(run), wi.frame_at(run, "cam0", 0.9))


# ------------------------------------------------------------------------------------------ plots


def test_cart_timeline_has_a_bar_per_visit_and_a_marker_per_event(run):
    ax = wi.plot_cart_timeline(run)
    assert len(gids(ax, "visit")) == len(run.visits) == 2
    assert len(gids(ax, "event")) == len(run.events) == 2
    assert len(gids(ax, "truth_event")) == len(run.truth_events) == 2
    assert len(gids(ax, "weight_event")) == len(run.weight_events) == 2
    assert len(gids(ax, "presence")) == 2  # both shoppers were tracked
    assert [t.get_text() for t in ax.get_yticklabels()] == ["shopper 2", "shopper 1", "weight events", "truth"]
    event_colors = sorted(matplotlib.colors.to_hex(line.get_color()) for line in gids(ax, "event"))
    assert event_colors == sorted(matplotlib.colors.to_hex(wi.STATUS_COLORS[s]) for s in ("confirmed", "vision_only"))


def test_cart_timeline_draws_into_a_given_axes(run):
    fig, ax = plt.subplots()
    assert wi.plot_cart_timeline(run, ax=ax) is ax


def test_cart_timeline_of_an_empty_run(tmp_path, recording):
    run_dir = write_run(tmp_path, recording)
    for name in ("events.csv", "tracks.csv", "hands.csv", "weight_events.csv", "receipts.json", "timeline.json"):
        (run_dir / name).unlink()
    ax = wi.plot_cart_timeline(wi.load_run(run_dir))
    assert not gids(ax, "event") and not gids(ax, "visit")
    assert len(gids(ax, "truth_event")) == 2


def test_trajectory_is_a_path_of_the_track_over_the_image(run):
    ax = wi.plot_trajectory(run, 1)
    (path,) = gids(ax, "trajectory")
    assert isinstance(path, LineCollection)
    assert len(path.get_segments()) == 20 - 1  # one segment between each pair of the track's 20 frames
    first = path.get_segments()[0][0]
    assert first.tolist() == [(0 + 40) / 2, (40 + 110) / 2]  # box centre at frame 0
    assert len(gids(ax, "event")) == 1  # shopper 1 made one event
    assert len(gids(ax, "box")) == 2  # first and last box
    assert ax.get_images()[0].get_array().shape[:2] == (HEIGHT, WIDTH)


def test_trajectory_of_an_unknown_track_names_the_known_ones(run):
    with pytest.raises(KeyError, match=r"\[1, 2\]"):
        wi.plot_trajectory(run, 7)


def test_trajectory_defaults_to_the_first_event_shopper(run):
    ax = wi.plot_trajectory(run)
    assert ax.get_title().startswith("track 1 ")


def test_weight_plot_marks_weight_events_and_vision_events(run):
    ax = wi.plot_weight(run, "A1")
    assert len(gids(ax, "plate")) == 2
    assert len(gids(ax, "weight_event")) == 2
    vision = gids(ax, "vision_event")
    assert len(vision) == 2  # the confirmed pick and the vision-only return
    assert sorted(line.get_linestyle() for line in vision) == ["-", "--"]  # matched: solid; unmatched: dashed
    assert len(gids(ax, "truth_event")) == 1  # one Line2D holding both truth markers
    ys = gids(ax, "plate")[0].get_ydata()
    assert ys[0] == pytest.approx(0.0) and ys[-1] == pytest.approx(-250.0)  # change since the start


def test_weight_plot_of_one_plate(run):
    ax = wi.plot_weight(run, "A1", plates=[2])
    assert len(gids(ax, "plate")) == 1
    assert len(gids(ax, "weight_event")) == 1  # w0002
    assert len(gids(ax, "vision_event")) == 1  # the return on plate 2


def test_weight_plot_of_an_unknown_shelf(run):
    with pytest.raises(KeyError, match="Z9"):
        wi.plot_weight(run, "Z9")


def test_overview_is_one_figure_of_the_four_views(run):
    fig = wi.plot_overview(run)
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes]
    assert any(t.startswith("frame_at(") for t in titles)
    assert any(t.startswith("track 1 ") for t in titles)
    assert any(t.startswith("shelf A1") for t in titles)
    assert any(t.startswith("handmade") for t in titles)


# ------------------------------------------------------------------------------------------ truth run


def test_truth_run_is_a_run_directory_of_the_truth_boxes(tmp_path, recording):
    rows = ["frame,object,track_id,sku,x1,y1,x2,y2,visible"]
    rows += [f"{f},shopper,1,,{f},40,{f + 40},110,1.0" for f in range(10)]
    rows += [f"{f},hand,1,,35,25,45,35,1.0" for f in range(3, 10)]  # centre (40, 30): zone 0
    rows += [f"{f},product_in_hand,1,0001,36,26,44,34,0.5" for f in range(6, 10)]
    rows += ["2,product_on_shelf,0,0001,20,20,30,30,1.0"]
    (recording / "truth" / "boxes").mkdir()
    (recording / "truth" / "boxes" / "cam0.csv").write_text("\n".join(rows) + "\n")
    run_dir = wi.write_truth_run(recording, tmp_path / "truth-run")
    assert run_dir == tmp_path / "truth-run" / recording.name
    run = wi.load_run(run_dir)
    assert run.info["model"] == "truth"
    assert run.recording is not None and run.recording.path == recording.resolve()
    assert run.tracks[["frame", "track_id", "x1", "x2"]].values.tolist() == [[f, 1, f, f + 40] for f in range(10)]
    assert run.hands["frame"].tolist() == list(range(3, 10))
    assert (run.hands["zone"] == 0).all() and (run.hands["owner"] == 1).all()
    assert run.hands["count"].tolist() == [0, 0, 0, 1, 1, 1, 1]  # the Tea is in the hand from frame 6
    assert set(run.hands.loc[run.hands["count"] > 0, "sku"]) == {"0001"}
    check_schema(run.events, wi.EVENTS_SCHEMA)  # whatever vision's event stage decides
    reaches = pd.read_csv(run_dir / "reaches.csv", dtype=str)  # the hand in zone 0, frames 3-9
    assert reaches[["camera", "shopper", "frames"]].values.tolist()[0] == ["cam0", "1", "7"]


def test_truth_run_needs_truth_boxes(tmp_path, recording):
    with pytest.raises(FormatError, match="boxes"):
        wi.write_truth_run(recording, tmp_path / "truth-run")


def test_cart_timeline_draws_the_lines_fusion_gave_a_shopper_without_a_vision_event(tmp_path, recording):
    run_dir = write_run(tmp_path, recording)
    receipts = json.loads((run_dir / "receipts.json").read_text())
    line = receipts["unattributed"]["lines"].pop()  # the weight change no vision event explains...
    receipts["shoppers"]["2"]["lines"].append({**line, "status": "reached"})  # ...given to shopper 2
    (run_dir / "receipts.json").write_text(json.dumps(receipts))
    ax = wi.plot_cart_timeline(wi.load_run(run_dir, recording))
    (marker,) = gids(ax, "receipt_line")
    assert matplotlib.colors.to_hex(marker.get_color()) == matplotlib.colors.to_hex(wi.STATUS_COLORS["reached"])
    assert marker.get_ydata()[0] == 0  # shopper 2's row (rows from the bottom: shopper 2, shopper 1, ...)
    assert "reached" in [t.get_text() for t in ax.get_legend().get_texts()]


# ------------------------------------------------------------------------------------------ privacy


def test_frame_at_hides_the_heads_of_the_tracked_shoppers(run):
    from walkout.anonymize import head_boxes, hidden_mask

    raw = wi.read_frame(run.camera("cam0").video, 9)[:, :, ::-1]  # t 0.9 s: shopper 1, box (18, 40)-(58, 110)
    shown = wi.frame_at(run, "cam0", 0.9, annotate=False)
    assert wi.person_boxes(run, "cam0", 9).tolist() == [[18.0, 40.0, 58.0, 110.0]]
    heads = hidden_mask(head_boxes(wi.person_boxes(run, "cam0", 9)), raw.shape)
    assert heads.sum() > 0.03 * heads.size
    assert np.array_equal(shown[~heads], raw[~heads])  # the fixture video has no face: only the head region
    assert (shown[heads] != raw[heads]).mean() > 0.5


def test_frame_at_without_anonymisation_is_the_recorded_frame_and_warns(run, caplog):
    raw = wi.read_frame(run.camera("cam0").video, 9)[:, :, ::-1]
    with caplog.at_level("WARNING"):
        shown = wi.frame_at(run, "cam0", 0.9, annotate=False, anonymize=False)
    assert np.array_equal(shown, raw)
    assert "anonymisation is OFF" in caplog.text


def test_trajectory_shows_an_anonymised_camera_image(run):
    ax = wi.plot_trajectory(run, 1)
    (image,) = ax.get_images()
    middle = 10  # track 1 is on frames 0-19
    assert np.array_equal(image.get_array(), wi.anonymized_frame(run, "cam0", middle)[:, :, ::-1])
    assert not np.array_equal(image.get_array(), wi.read_frame(run.camera("cam0").video, middle)[:, :, ::-1])


def test_overview_frame_is_anonymised(run):
    fig = wi.plot_overview(run)
    frame_image = fig.axes[0].get_images()[0].get_array()
    assert np.array_equal(frame_image, wi.frame_at(run, "cam0", 0.9))

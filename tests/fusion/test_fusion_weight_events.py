"""Weight events: settled changes are found; spikes, drift, vibration and weight shifts are not."""

from __future__ import annotations

import pytest
from fusion_synth import T0, LogSpec, Step, make_log, write_recording

from formats.errors import FormatError
from formats.weight_events import WeightEvent, read_weight_events, weight_events_frame
from fusion.pipeline import FuseConfig
from fusion.weight_events import WeightEventConfig, detect_weight_events, plate_changes
from fusion.weights import load_weights

CHIPS = 120.0
COLA = 350.0

CASES = {
    "empty log: nothing happens": (LogSpec(), []),
    "one bag of chips taken": (LogSpec(steps=[Step("A1", 3, 10.0, -CHIPS)]), [("A1", (3,), -CHIPS)]),
    "two bags at once: one event of twice the weight": (
        LogSpec(steps=[Step("A1", 3, 10.0, -2 * CHIPS)]), [("A1", (3,), -2 * CHIPS)]),
    "a bar put back": (LogSpec(steps=[Step("A1", 4, 6.0, +50.0)]), [("A1", (4,), +50.0)]),
    "cola spans plates 1-2: one event": (
        LogSpec(steps=[Step("A1", 1, 8.0, -200.0), Step("A1", 2, 8.05, -150.0)]), [("A1", (1, 2), -COLA)]),
    "a 0.1 s spike of 300 g is no event": (LogSpec(spikes=[("A1", 3, 5.0, 300.0, 0.1)]), []),
    "a 0.8 s hand press of 80 g is no event": (LogSpec(spikes=[("A1", 3, 5.0, 80.0, 0.8)]), []),
    "slow drift of 15 g over the log is no event": (LogSpec(drift_g_per_s={("A1", 4): 0.75}), []),
    "a knock (60 g vibration) on a neighbour is no event": (LogSpec(vibrations=[("B1", 1, 4.0, 60.0, 1.5)]), []),
    "30 g shifted between neighbouring plates is no event": (
        LogSpec(steps=[Step("A1", 3, 9.0, -30.0), Step("A1", 4, 9.0, +30.0)]), []),
    "noise of 2 g is no event": (LogSpec(noise_g=2.0), []),
    "a bag put back on plate 3 as another is taken from plate 4: two events though they cancel": (
        LogSpec(steps=[Step("A1", 3, 9.0, +CHIPS), Step("A1", 4, 9.3, -CHIPS)]),
        [("A1", (3,), +CHIPS), ("A1", (4,), -CHIPS)]),
    # Shoppers one after another at one plate, 0.35 s apart: it never settles, but holds a level between.
    "three colas taken, one put back before the plate settles: two events": (
        LogSpec(steps=[Step("A1", 1, 9.0, -3 * COLA), Step("A1", 1, 9.45, +COLA, press_s=0.1)]),
        [("A1", (1,), -3 * COLA), ("A1", (1,), +COLA)]),
    "a bag put back and one taken from one plate before it settles: two events though they cancel": (
        LogSpec(steps=[Step("A1", 3, 9.0, +CHIPS), Step("A1", 3, 9.45, -CHIPS, press_s=0.1)]),
        [("A1", (3,), +CHIPS), ("A1", (3,), -CHIPS)]),
    "two bags taken from one plate before it settles: one event of both": (
        LogSpec(steps=[Step("A1", 3, 9.0, -CHIPS), Step("A1", 3, 9.45, -CHIPS, press_s=0.1)]),
        [("A1", (3,), -2 * CHIPS)]),
    "two shelves, two times: two events": (
        LogSpec(steps=[Step("A1", 3, 5.0, -CHIPS), Step("B1", 2, 12.0, -410.0)]),
        [("A1", (3,), -CHIPS), ("B1", (2,), -410.0)]),
}


@pytest.mark.parametrize(("spec", "expected"), CASES.values(), ids=CASES.keys())
def test_settled_changes_become_events(tmp_path, spec, expected):
    rec = write_recording(tmp_path / "r", make_log(spec))
    events = detect_weight_events(load_weights(rec / "weights.csv.gz"))
    assert [(e.shelf, e.plates) for e in events] == [(s, p) for s, p, _ in expected]
    for event, (_, _, delta) in zip(events, expected, strict=True):
        assert event.delta_g == pytest.approx(delta, abs=3.0)
        assert 0.5 < event.confidence <= 1.0
        assert event.start <= event.end


def test_event_times_bracket_the_step(tmp_path):
    rec = write_recording(tmp_path / "r", make_log(LogSpec(steps=[Step("A1", 3, 10.0, -CHIPS)])))
    (event,) = detect_weight_events(load_weights(rec / "weights.csv.gz"))
    assert T0 + 10.0 - 1.5 < event.start < T0 + 10.0 < event.end < T0 + 10.0 + 1.5
    assert event.id == "w0001"


def test_each_step_is_stamped_when_the_item_left_the_plate(tmp_path):
    # One bag at 10.0 s (after a 0.4 s press): one step, at the lift, not where the press began.
    rec = write_recording(tmp_path / "r", make_log(LogSpec(steps=[Step("A1", 3, 10.0, -CHIPS)])))
    (event,) = detect_weight_events(load_weights(rec / "weights.csv.gz"))
    ((t, grams),) = event.steps
    assert t - T0 == pytest.approx(10.0, abs=0.05) and grams == pytest.approx(-CHIPS, abs=3.0)
    # Two hands in turn at one plate, 0.8 s of stillness between: one event, two steps.
    spec = LogSpec(steps=[Step("A1", 3, 9.0, -2 * CHIPS), Step("A1", 3, 10.2, -CHIPS)])
    (event,) = detect_weight_events(load_weights(write_recording(tmp_path / "r2", make_log(spec)) / "weights.csv.gz"))
    assert event.delta_g == pytest.approx(-3 * CHIPS, abs=3.0)
    assert [round(t - T0, 1) for t, _ in event.steps] == [9.0, 10.2]
    assert [g for _, g in event.steps] == pytest.approx([-2 * CHIPS, -CHIPS], abs=3.0)
    # weight_events.csv lists them as time:grams
    (text,) = weight_events_frame([event])["steps"]
    assert [float(part.split(":")[1]) for part in text.split(";")] == pytest.approx([-2 * CHIPS, -CHIPS], abs=3.0)


def test_picks_linked_only_through_a_return_between_them_are_separate_events(tmp_path):
    # Crowded shelf: a bag taken from plate 3, a bar put back on plate 4 a second later, another bag
    # taken from plate 3 a second after that. Each is within the merge gap of the next, but the two
    # picks, 2 s apart, are not one hand movement: three events, not a return and a 2-bag pick.
    spec = LogSpec(steps=[Step("A1", 3, 9.0, -CHIPS), Step("A1", 4, 10.0, +50.0), Step("A1", 3, 11.0, -CHIPS)])
    events = detect_weight_events(load_weights(write_recording(tmp_path / "r", make_log(spec)) / "weights.csv.gz"))
    assert [(e.plates, round(e.delta_g / 10) * 10) for e in events] == [((3,), -CHIPS), ((4,), 50.0), ((3,), -CHIPS)]


def test_noise_relative_threshold_rejects_a_step_within_a_noisy_plates_noise(tmp_path):
    # 15 g is above min_delta_g, but this plate wobbles by +-8 g all the time (as some real plates
    # do), so a change must exceed delta_noise_k x its own noise.
    wobble = ("A1", 3, 0.0, 8.0, 1000.0)
    spec = LogSpec(vibrations=[wobble], steps=[Step("A1", 3, 10.0, -15.0, press_g=0.0)])
    rec = write_recording(tmp_path / "r", make_log(spec))
    assert detect_weight_events(load_weights(rec / "weights.csv.gz")) == []
    spec = LogSpec(vibrations=[wobble], steps=[Step("A1", 3, 10.0, -CHIPS)])
    rec = write_recording(tmp_path / "r2", make_log(spec))
    assert [e.plates for e in detect_weight_events(load_weights(rec / "weights.csv.gz"))] == [(3,)]


def test_too_few_samples_give_no_change():
    assert plate_changes("A1", 1, [T0, T0 + 0.1], [1.0, 2.0], WeightEventConfig()) == []


def test_weight_event_round_trips_through_dict():
    event = WeightEvent("w0001", "A1", (1, 2), T0, T0 + 1.0, -350.0, (-200.0, -150.0), 0.9,
                        steps=((T0 + 0.3, -200.0), (T0 + 0.8, -150.0)))
    assert WeightEvent.from_dict(event.to_dict()) == event


@pytest.mark.parametrize("events", [[], [WeightEvent("w0001", "A1", (1, 2), T0, T0 + 1, -350.0, (-200.0, -150.0), 0.9)]])
def test_events_table_has_fixed_columns_and_reads_back(events, tmp_path):
    frame = weight_events_frame(events)
    assert list(frame.columns) == ["id", "start", "end", "shelf", "plates", "delta_g", "plate_deltas_g", "confidence",
                                   "steps"]
    assert len(frame) == len(events)
    frame.to_csv(tmp_path / "weight_events.csv", index=False)
    back = read_weight_events(tmp_path / "weight_events.csv")
    assert list(back["id"]) == [e.id for e in events]
    assert list(back["delta_g"]) == [e.delta_g for e in events]
    assert list(back["plates"]) == [";".join(str(p) for p in e.plates) for e in events]


def test_a_bad_number_in_weight_events_names_file_line_and_column(tmp_path):
    path = tmp_path / "weight_events.csv"
    path.write_text("id,start,end,shelf,plates,delta_g,plate_deltas_g,confidence,steps\n"
                    "w0001,1.0,2.0,A1,1,heavy,-350,0.9,\n")
    with pytest.raises(FormatError, match=r"weight_events.csv, line 2, field 'delta_g': 'heavy' is not a number"):
        read_weight_events(path)


def test_config_rejects_unknown_settings():
    with pytest.raises(FormatError, match=r"field 'weight_events': unknown key\(s\) min_delta \(did you mean min_delta_g\?\)"):
        FuseConfig.from_dict({"weight_events": {"min_delta": 3}})
    assert FuseConfig.from_dict({"weight_events": {"min_delta_g": 3}}).weight_events.min_delta_g == 3.0


def test_plateau_splitting_can_be_switched_off(tmp_path):
    spec = LogSpec(steps=[Step("A1", 3, 9.0, +CHIPS), Step("A1", 3, 9.45, -CHIPS, press_s=0.1)])
    rec = write_recording(tmp_path / "r", make_log(spec))
    assert detect_weight_events(load_weights(rec / "weights.csv.gz"), WeightEventConfig(plateau_s=0)) == []

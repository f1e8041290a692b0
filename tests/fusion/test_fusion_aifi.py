"""Real AiFi store weight logs (cps-test-01): weight-only fusion finds exactly the two labelled picks."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusion.pipeline import fuse_recording

AIFI = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "aifi-cps-test-01"
pytestmark = pytest.mark.skipif(
    not AIFI.is_dir(), reason=f"real AiFi data not found at {AIFI} (../shared/data beside the repo)"
)
TACO_BELL_FIRE = "071063437089"
FIJI_WATER = "632565000012"


@pytest.fixture(scope="module")
def weight_only(tmp_path_factory):
    return fuse_recording(AIFI, None, tmp_path_factory.mktemp("aifi"))


def test_exactly_the_two_labelled_picks_are_found(weight_only):
    assert weight_only.receipts["unattributed"]["items"] == {TACO_BELL_FIRE: 1, FIJI_WATER: 1}
    assert weight_only.receipts["shoppers"] == {}


def test_no_false_events_from_the_other_plates(weight_only):
    events = [(e.shelf, e.plates) for e in weight_only.weight_events]
    # Taco Bell Fire is planned on G2S5 plates 4-6; the hand also leaned on plate 3.
    assert events == [("G2S5", (3, 4, 5)), ("G1S5", (10,))]
    taco, fiji = weight_only.weight_events
    assert taco.delta_g == pytest.approx(-105.53, rel=0.05)
    assert fiji.delta_g == pytest.approx(-538.0, rel=0.05)


def test_the_labelled_events_as_vision_are_confirmed(tmp_path):
    result = fuse_recording(AIFI, AIFI / "truth" / "events.csv", tmp_path)
    assert [line.status for line in result.lines] == ["confirmed", "confirmed"]
    assert result.receipts["unattributed"]["lines"] == []

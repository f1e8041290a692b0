"""Every model file (detector, hand model, held-item and reach classifiers) loads through one helper
whose errors name the file and the problem."""

from __future__ import annotations

import pytest

from vision.errors import InputError
from vision.models import load_model


def test_a_missing_model_file_is_named_with_the_callers_words(tmp_path):
    with pytest.raises(InputError, match="hand model file not found") as error:
        load_model(tmp_path / "nope.pt", "detect", "hand model file not found")
    assert str(tmp_path / "nope.pt") in str(error.value)


def test_a_file_that_is_not_a_model_is_refused_naming_it(tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"these are not weights")
    with pytest.raises(InputError, match="not a classifier ultralytics can load") as error:
        load_model(broken, "classify", "missing", what="classifier")
    assert str(broken) in str(error.value)

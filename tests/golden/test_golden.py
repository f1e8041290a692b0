"""Golden test: `walkout run` + `walkout fuse` on sample_videos/one_shopper, with the README demo's
default configs, write the files kept in tests/golden/one_shopper/ (within tolerances where values
are floats: tests/golden/golden.py says which and how much; exact for ids, skus, counts, actions).

A failure lists each difference by file, line or key, and column. If the change of behaviour is
intended, regenerate the files with ``python -m tests.golden.update`` and commit them with it:
changing the golden files is a reviewed decision, so say in the commit why the outputs changed.
"""

from __future__ import annotations

import pytest

from tests.golden.golden import FILES, GOLDEN_DIR, MODELS, SAMPLE, UPDATE_COMMAND, compare_file, produce

missing = [p for p in [SAMPLE / "store.json", *MODELS] if not p.is_file()]
pytestmark = pytest.mark.skipif(bool(missing), reason=f"golden run needs {', '.join(map(str, missing))}")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return produce(tmp_path_factory.mktemp("golden"))


@pytest.mark.parametrize("name", FILES)
def test_the_run_writes_the_golden_file(run_dir, name):
    problems = compare_file(name, GOLDEN_DIR, run_dir)
    if problems:
        pytest.fail(f"{len(problems)} difference(s) from {GOLDEN_DIR / name}:\n  " + "\n  ".join(problems)
                    + f"\nIf this change of behaviour is intended: {UPDATE_COMMAND}, and commit the files with it.",
                    pytrace=False)

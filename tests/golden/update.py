"""Regenerate the golden files: ``python -m tests.golden.update`` (from the project root).

Runs `walkout run` + `walkout fuse` on the sample (tests.golden.golden.produce) and copies what
tests/golden/test_golden.py compares into tests/golden/<sample>/, then lists what changed against the
files kept so far. Changing them is a reviewed decision: commit them with the change of behaviour
that made them differ, and say why in the commit message.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from pathlib import Path

from tests.golden.golden import FILES, GOLDEN_DIR, compare_file, produce

log = logging.getLogger("tests.golden.update")


def update(golden_dir: Path = GOLDEN_DIR) -> list[str]:
    """Make the golden files anew; returns the differences from the previous ones (empty: unchanged)."""
    with tempfile.TemporaryDirectory(prefix="walkout-golden-") as tmp:
        run_dir = produce(Path(tmp))
        changes = []
        for name in FILES:
            if (golden_dir / name).is_file():
                changes += compare_file(name, golden_dir, run_dir)
            else:
                changes.append(f"{name}: new")
        golden_dir.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.copyfile(run_dir / name, golden_dir / name)
    return changes


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    changes = update()
    for change in changes:
        log.info("%s", change)
    log.info("%s: %s", GOLDEN_DIR, f"{len(changes)} change(s)" if changes else "unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())

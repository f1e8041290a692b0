"""Golden outputs: what `walkout run` + `walkout fuse` write for one sample recording (test_golden.py).

Regenerate after an intended behaviour change with ``python -m tests.golden.update`` (golden.py says
how the files are made and compared)."""

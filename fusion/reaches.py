"""Reaches: who had a hand at which shelf, when (``reaches.csv`` of a vision run), evidence of who
made a weight change (:mod:`fusion.evidence`).

Vision may miss *what* a shopper took (a product hidden in a full hand), yet still see *that* their
hand was in the shelf's zone at the time.

reaches.csv (written by ``walkout run``; one row per run of frames a hand of a shopper spent inside
one shelf zone)::

    camera,shopper,shelf,plates,start,end,frames
    cam0,2,B1,3,1700000008.4,1700000009.3,9

plates are ';'-joined (empty: the zone covers the whole shelf); start/end Unix seconds; frames the
number of frames the hand was seen inside.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from formats.errors import FormatError
from formats.tables import REACH_COLUMNS, _read_csv


def read_reaches(path: str | Path) -> pd.DataFrame:
    """Read a reaches.csv; FormatError naming the file on a missing column or a bad value."""
    path = Path(path)
    table = _read_csv(path, REACH_COLUMNS)
    for column in ("start", "end", "frames"):
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise FormatError(path, f"{column} is not a number ({table[column].iloc[row]!r})", line=row + 2)
        table[column] = values.astype(float)
    if (table["end"] < table["start"]).any():
        row = int(np.flatnonzero((table["end"] < table["start"]).to_numpy())[0])
        raise FormatError(path, "reach ends before it starts", line=row + 2)
    table["shopper"] = table["shopper"].astype(str)
    table["shelf"] = table["shelf"].astype(str)
    table["plates"] = table["plates"].fillna("").astype(str)
    return table

"""One error type for bad input files: it always names the file and the problem."""

from __future__ import annotations

from pathlib import Path


class FormatError(ValueError):
    """A store-recording file is missing or malformed.

    The message names the file, and where known the line (1-based, counting the header as line 1)
    and the field, so a user can open the file and fix it.
    """

    def __init__(self, path: str | Path, problem: str, *, line: int | None = None, field: str | None = None):
        self.path = str(path)
        self.problem = problem
        self.line = line
        self.field = field
        where = self.path
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {problem}")

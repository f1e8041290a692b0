"""Errors for bad vision input (video, model, zones): they always name the file and the problem."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """A video, model or zone file that vision cannot use. The message names the file."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

"""Errors in preference data: every bad row of a file, reported together."""

from __future__ import annotations

from dataclasses import dataclass

from vidalign.errors import VidalignError


@dataclass(frozen=True)
class RowIssue:
    """One problem in a pair file.

    Attributes:
        file: the pair file (or "<pairs>" for pairs in memory).
        row: 1-based data row (header excluded), or None for a problem with the whole file.
        line: 1-based line in a text file where the row ends (where it starts, for a CSV
            row that cannot be read), when known.
        field: the column / key at fault, or None.
        reason: what is wrong and what was expected.
    """

    file: str
    row: int | None
    line: int | None
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f": row {self.row}" + (f" (line {self.line})" if self.line else "")
        if self.field is not None:
            where += f": {self.field}"
        return f"{where}: {self.reason}"


class PairDataError(VidalignError):
    """A pair file (or a list of pairs) is invalid. ``issues`` lists every problem found."""

    def __init__(self, issues: list[RowIssue]) -> None:
        self.issues = list(issues)
        rows = {(i.file, i.row) for i in self.issues if i.row is not None}
        head = f"{len(self.issues)} problem(s)" + (f" in {len(rows)} row(s)" if rows else "")
        super().__init__(head + ":\n" + "\n".join(f"  {issue}" for issue in self.issues))


class PairDataWarning(UserWarning):
    """A pair file is valid but worth a look (repeated rows); ``strict`` loading refuses it."""


def file_error(file: str, reason: str) -> PairDataError:
    """A :class:`PairDataError` about the whole file."""
    return PairDataError([RowIssue(file, None, None, None, reason)])

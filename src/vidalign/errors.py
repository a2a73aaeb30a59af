"""Errors meant for users. The CLI prints them without a traceback and exits with 2."""

from __future__ import annotations

from os import PathLike


class VidalignError(Exception):
    """Base of every error that reports bad input (a file, a row, a field, a setting)."""


def name_once(subject: str | PathLike[str], message: str) -> str:
    """``message`` about ``subject`` (a file), naming it once: ``"<subject>: <reason>"``.

    Messages from the layers below usually start with the file already; those are kept.
    """
    subject = str(subject)
    return message if message.startswith(subject) else f"{subject}: {message}"


def reason(subject: str | PathLike[str], message: str) -> str:
    """The reason in ``message`` without the leading ``"<subject>: "``, for a record (a
    skipped-videos list) that names the file in a column of its own."""
    return message.removeprefix(f"{subject}: ")

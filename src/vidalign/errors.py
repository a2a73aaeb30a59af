"""Errors meant for users. The CLI prints them without a traceback and exits with 2."""


class VidalignError(Exception):
    """Base of every error that reports bad input (a file, a row, a field, a setting)."""

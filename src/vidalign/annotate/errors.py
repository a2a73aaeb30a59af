"""Errors of the annotation tool."""

from vidalign.errors import VidalignError


class AnnotateError(VidalignError):
    """Bad input to the annotation tool: a database URL, a batch, a pair row, a path."""


class SchemaVersionError(AnnotateError):
    """The database was made by a vidalign with another schema version."""

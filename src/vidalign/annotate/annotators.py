"""Annotator accounts: a name and a token, stored as its hash."""

from __future__ import annotations

from sqlalchemy import select

from vidalign.annotate.db import Database
from vidalign.annotate.errors import AnnotateError
from vidalign.annotate.schema import Annotator
from vidalign.annotate.tokens import hash_token, new_token


def add_annotator(db: Database, name: str) -> tuple[int, str]:
    """Create an annotator.

    Returns:
        ``(annotator id, token)``; the token is shown only now.

    Raises:
        AnnotateError: empty or taken name.
    """
    name = name.strip()
    if not name:
        raise AnnotateError("annotator: the name must not be empty")
    token = new_token()
    with db.write() as s:
        if s.scalar(select(Annotator.id).where(Annotator.name == name)) is not None:
            raise AnnotateError(f"annotator {name!r} already exists")
        a = Annotator(name=name, token_hash=hash_token(token))
        s.add(a)
        s.flush()
        return a.id, token


def find_annotator(db: Database, token: str | None) -> Annotator | None:
    """The annotator holding ``token``, or None."""
    if not token:
        return None
    with db.read() as s:
        return s.scalar(select(Annotator).where(Annotator.token_hash == hash_token(token)))


class KnownTokens:
    """:func:`find_annotator` that remembers the tokens it found.

    An annotator's token never changes and no annotator is deleted, so a remembered token
    stays right and costs no database round trip. A token not found is looked up again each
    time, so an annotator added meanwhile (by the CLI, in another process) works at once.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._found: dict[str, Annotator] = {}

    def remembered(self, token: str | None) -> Annotator | None:
        """The annotator of ``token`` if it was found before; never touches the database."""
        return self._found.get(hash_token(token)) if token else None

    def find(self, token: str | None) -> Annotator | None:
        """The annotator holding ``token``, or None (see :func:`find_annotator`)."""
        found = self.remembered(token)
        if found is None and token:
            found = find_annotator(self.db, token)
            if found is not None:
                self._found[hash_token(token)] = found
        return found

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

"""Opening the annotation database: URL rules, SQLite durability settings, schema creation.

``--db`` takes a file path (embedded SQLite) or a SQLAlchemy URL. ``postgresql://`` URLs use
the psycopg 3 driver (``pip install vidalign[postgres]``).

SQLite runs in WAL mode with ``synchronous=FULL``: every commit fsyncs the write-ahead log
before it returns, so an acknowledged judgment survives a killed server and also a power
loss or OS crash (``NORMAL`` would only survive a killed process). The server shares each
fsync among the writes that arrive together (``vidalign.annotate.writer``). Write
transactions start with ``BEGIN IMMEDIATE`` so that "count assignments, then add one" cannot
interleave.

A database of schema version 1 is upgraded when it is opened, in one transaction: it gains
``pairs.live`` (counted from its assignments and skips) and the ``ix_pairs_queue`` index in
place of ``ix_pairs_batch_id``. Any other version but the current one is refused.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, exists, func, inspect, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from vidalign.annotate.errors import AnnotateError, SchemaVersionError
from vidalign.annotate.schema import (
    SCHEMA_VERSION,
    Assignment,
    Base,
    Judgment,
    Meta,
    Pair,
    utcnow,
)
from vidalign.annotate.tokens import hash_token, new_token

ADMIN_TOKEN_ENV = "VIDALIGN_ADMIN_TOKEN"
"""When set, this is the admin token and the one stored in the database is not accepted."""


def normalize_url(db: str) -> str:
    """Turn ``--db`` into a SQLAlchemy URL.

    Args:
        db: a file path (``annotations.db``) or a URL (``sqlite:///x.db``,
            ``postgresql://user@host/name``).

    Returns:
        The URL; file paths become absolute ``sqlite:///`` URLs.

    Raises:
        AnnotateError: the URL cannot be parsed or the file's folder does not exist.
    """
    if "://" not in db:
        path = Path(db).expanduser().resolve()
        if not path.parent.is_dir():
            raise AnnotateError(f"--db {db}: folder {path.parent} does not exist")
        return f"sqlite:///{path}"
    try:
        url = make_url(db)
    except ArgumentError as err:
        raise AnnotateError(f"--db {db}: not a database URL ({err})") from err
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event below issues BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        mode = conn.get_execution_options().get("vidalign_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


@dataclass
class Database:
    """An engine plus the two kinds of transaction the tool uses."""

    engine: Engine
    url: str
    _write_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on exit (before the caller responds) or rolls back.

        On SQLite, writers of this process queue on a lock first: SQLite admits one writer
        at a time anyway, and its busy handler polls with growing sleeps, which gave
        second-long tail latencies under 20 concurrent annotators.
        """
        bind = self.engine.execution_options(vidalign_begin="IMMEDIATE")
        lock = self._write_lock if self.is_sqlite else contextlib.nullcontext()
        with lock, Session(bind, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def admin_token_ok(self, token: str | None) -> bool:
        """Whether ``token`` is the admin token (the env var's, else the stored one)."""
        if not token:
            return False
        env = os.environ.get(ADMIN_TOKEN_ENV)
        if env:
            return hmac.compare_digest(token.encode(), env.encode())
        with self.read() as s:
            stored = s.get(Meta, "admin_token_hash")
        return stored is not None and hmac.compare_digest(hash_token(token), stored.value)

    def rotate_admin_token(self) -> str:
        """Store a new admin token and return it; the old one stops working."""
        token = new_token()
        with self.write() as s:
            s.merge(Meta(key="admin_token_hash", value=hash_token(token)))
        return token

    def dispose(self) -> None:
        self.engine.dispose()


def _upgrade_from_1(database: Database, db: str) -> None:
    """Schema version 1 to 2: add ``pairs.live`` and count it, index the queue by it.

    One transaction, so a failure leaves version 1 as it was; the version is read again
    under the write lock (SQLite) or a row lock (PostgreSQL), so that of two processes
    opening the database at once one upgrades and the other finds version 2.
    """
    with database.write() as s:
        row = s.get(Meta, "schema_version", with_for_update=True, populate_existing=True)
        if row is not None and row.value == str(SCHEMA_VERSION):
            return
        if row is None or row.value != "1":
            raise SchemaVersionError(f"{db}: schema version changed while opening it")
        conn = s.connection()
        conn.exec_driver_sql("ALTER TABLE pairs ADD COLUMN live INTEGER DEFAULT 0 NOT NULL")
        skipped = exists().where(
            Judgment.assignment_id == Assignment.id,
            Judgment.retracted_at.is_(None),
            Judgment.skip_reason.is_not(None),
        )
        live = (
            select(func.count(Assignment.id))
            .where(Assignment.pair_id == Pair.id, Assignment.kind == "regular", ~skipped)
            .scalar_subquery()
        )
        conn.execute(update(Pair).values(live=live))
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_pairs_batch_id")
        (queue_index,) = [i for i in Pair.__table__.indexes if i.name == "ix_pairs_queue"]
        queue_index.create(conn)
        row.value = str(SCHEMA_VERSION)


def open_database(db: str) -> tuple[Database, str | None]:
    """Open (and on first use create) the annotation database.

    Args:
        db: a file path or a URL, see :func:`normalize_url`.

    Returns:
        ``(database, admin_token)``; ``admin_token`` is the newly generated admin token when
        this call created the schema (print it: it is stored only as a hash), else None.

    Raises:
        SchemaVersionError: the database was created with a schema version this vidalign
            neither has nor upgrades (a newer one).
        AnnotateError: the URL is bad or the database cannot be reached.
    """
    url = normalize_url(db)
    try:
        engine = create_engine(url)
    except Exception as err:  # missing driver, bad options
        raise AnnotateError(f"--db {db}: cannot open ({err})") from err
    if engine.dialect.name == "sqlite":
        _sqlite_setup(engine)
    database = Database(engine=engine, url=url)
    try:
        has_meta = inspect(engine).has_table("meta")
    except Exception as err:
        raise AnnotateError(f"--db {db}: cannot connect ({err})") from err
    if has_meta:
        with database.read() as s:
            row = s.get(Meta, "schema_version")
        found = row.value if row else "none"
        if found == "1":
            _upgrade_from_1(database, db)
        elif found != str(SCHEMA_VERSION):
            raise SchemaVersionError(
                f"{db}: schema version {found}, this vidalign needs {SCHEMA_VERSION}; "
                "export with the vidalign that wrote it"
            )
        return database, None
    Base.metadata.create_all(engine)
    token = new_token()
    with database.write() as s:
        if s.scalar(select(Meta).where(Meta.key == "schema_version")) is not None:
            return database, None  # another process created it first
        s.add_all(
            [
                Meta(key="schema_version", value=str(SCHEMA_VERSION)),
                Meta(key="admin_token_hash", value=hash_token(token)),
                Meta(key="created_at", value=utcnow().isoformat()),
            ]
        )
    return database, token

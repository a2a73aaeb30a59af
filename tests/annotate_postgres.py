"""A throwaway PostgreSQL server for the annotate tests, on a Unix socket only (no TCP).

``PostgresServer.start()`` runs ``initdb`` into a fresh folder and ``pg_ctl start`` with
``listen_addresses=''``; ``database()`` creates an empty database and returns its
``--db`` URL; ``stop()`` stops the server and removes the folder. PostgreSQL refuses to run
as root, so under root the server runs as the ``postgres`` user that Debian's package
creates. ``unavailable()`` says why a server cannot be started here, or None.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

PORT = 5432  # only names the socket file in our own folder


def _bin_dir() -> Path | None:
    on_path = shutil.which("pg_ctl")
    found = [Path(on_path).resolve().parent] if on_path else []
    found += [Path(d) for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    return next((d for d in found if (d / "initdb").exists() and (d / "pg_ctl").exists()), None)


def _run_as() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def unavailable() -> str | None:
    """Why no throwaway server can run here (the package to install), or None."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "no PostgreSQL driver: pip install 'psycopg[binary]' (vidalign[postgres])"
    if _bin_dir() is None:
        return "no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a 'postgres' user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root without runuser to start the server as 'postgres'"
    return None


class PostgresServer:
    """One server for a test session; see the module docstring."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="vidalign-pg-"))
        self.data, self.socket = self.base / "data", self.base / "socket"
        self._names = itertools.count()

    def _pg(self, tool: str, *args: str) -> None:
        cmd = [*_run_as(), str(_bin_dir() / tool), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stdout}{done.stderr}")

    def start(self) -> PostgresServer:
        self.socket.mkdir()
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            for p in (self.base, self.socket):
                os.chown(p, user.pw_uid, user.pw_gid)
        self._pg("initdb", "-D", str(self.data), "-U", "vidalign", "-A", "trust", "-E", "UTF8",
                 "--no-sync")  # fmt: skip
        options = f"-c listen_addresses='' -k {self.socket} -p {PORT}"
        log = self.base / "server.log"
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(log), "-o", options, "-w", "start")
        return self

    def database(self) -> str:
        """A new empty database; its URL for ``--db``."""
        import psycopg

        name = f"annotate_{next(self._names)}"
        with psycopg.connect(
            host=str(self.socket), port=PORT, user="vidalign", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://vidalign@/{name}?host={self.socket}&port={PORT}"

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

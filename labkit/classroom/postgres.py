"""A throwaway PostgreSQL 15 cluster for a gradebook that several graders share.

:class:`PostgresCluster` starts a private server (its own data folder, 127.0.0.1 only, password
authentication), creates the course's role and database, and gives their SQLAlchemy URL to put in
``nbgrader_config.py`` as ``c.CourseDirectory.db_url``. On exit it stops the server and deletes the folder,
also when the body raised, and at interpreter exit if it was never stopped. A class with a lasting gradebook
points ``db_url`` at its own PostgreSQL instead.

Example (needs root and Debian's ``postgresql-15``; it starts a server, so doctests skip it):

>>> from sqlalchemy import create_engine, text
>>> with PostgresCluster(database="course", user="grader") as pg:  # doctest: +SKIP
...     print(pg.url.split(":")[0])  # what nbgrader_config.py's c.CourseDirectory.db_url would be set to
...     with create_engine(pg.url).connect() as db:
...         print(db.execute(text("SELECT current_user, current_database()")).one())
postgresql+psycopg2
('grader', 'course')
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

BIN_DIR = Path("/usr/lib/postgresql/15/bin")
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresError(RuntimeError):
    """The cluster could not start; the message says how to fix it."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_taken(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no obstacle
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


class PostgresCluster:
    """A PostgreSQL 15 server run by the ``postgres`` system user in a temporary folder, with one database
    owned by one login role; ``url`` reaches it (``postgresql+psycopg2://user:password@127.0.0.1:port/db``).

    Use it as a context manager, or call :meth:`start` and :meth:`stop` (which may be called twice).
    """

    def __init__(self, database: str = "labkit", user: str = "labkit", *, port: int | None = None,
                 bin_dir: Path = BIN_DIR) -> None:
        for what, name in (("database", database), ("user", user)):
            if not _NAME.match(name):
                raise ValueError(f"{what} name {name!r}: use lower-case letters, digits and _.")
        self.database, self.user, self.bin_dir = database, user, Path(bin_dir)
        self.port = port
        self.password = secrets.token_urlsafe(24)
        self.folder: Path | None = None
        self.pid: int | None = None

    @property
    def url(self) -> str:
        if self.pid is None:
            raise PostgresError("the cluster is not running: start it first.")
        return f"postgresql+psycopg2://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    @property
    def data(self) -> Path:
        assert self.folder is not None
        return self.folder / "data"

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run one of the server's programs as ``postgres``; raise with its output if it fails."""
        done = subprocess.run([str(self.bin_dir / args[0]), *args[1:]], user="postgres", group="postgres",
                              extra_groups=[], cwd=self.folder, capture_output=True, text=True, timeout=timeout,
                              env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"})
        if done.returncode != 0:
            log = self.folder / "server.log" if self.folder else None
            tail = log.read_text(errors="replace")[-2000:] if log and log.is_file() else ""
            raise PostgresError(f"{args[0]} failed:\n{(done.stdout + done.stderr + tail).strip()}")
        return done

    def _check(self) -> None:
        if os.geteuid() != 0:
            raise PostgresError("starting a PostgreSQL cluster needs root (it runs as the postgres user): "
                                "run as root or point db_url at your own PostgreSQL.")
        missing = [p for p in ("initdb", "pg_ctl", "postgres") if not (self.bin_dir / p).is_file()]
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing.append("the postgres user")
        if missing:
            raise PostgresError(f"PostgreSQL 15 is not installed ({', '.join(missing)} missing in {self.bin_dir}): "
                                "apt-get install postgresql-15.")
        if self.port is not None and _port_taken(self.port):
            raise PostgresError(f"port {self.port} on 127.0.0.1 is taken: stop what listens there, or leave "
                                "port=None for a free one.")

    def start(self) -> PostgresCluster:
        """Create the cluster, start the server and create the role and database (about 2 s)."""
        if self.pid is not None:
            return self
        self._check()
        self.folder = Path(tempfile.mkdtemp(prefix="labkit-pg-"))
        atexit.register(self.stop)
        try:
            self.folder.chmod(0o700)
            shutil.chown(self.folder, "postgres", "postgres")
            superuser = secrets.token_urlsafe(24)
            pwfile = self.folder / "pwfile"
            pwfile.write_text(superuser + "\n")
            pwfile.chmod(0o600)
            shutil.chown(pwfile, "postgres", "postgres")
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "scram-sha-256", f"--pwfile={pwfile}",
                      "-E", "UTF8", "--no-locale", "--no-instructions", "--no-sync")
            pwfile.unlink()
            chosen = self.port
            for _ in range(3):  # a free port can be taken before the server binds it
                self.port = chosen or free_port()
                (self.folder / "server.log").unlink(missing_ok=True)
                options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                           f"-c unix_socket_directories={self.folder}")
                try:
                    self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w",
                              "-t", "60", "-o", options, "start", timeout=90)
                    break
                except PostgresError as e:
                    if "already in use" not in str(e):
                        raise
                    if chosen:
                        raise PostgresError(f"port {chosen} on 127.0.0.1 is taken: stop what listens there, or "
                                            "leave port=None for a free one.") from None
            else:
                raise PostgresError("three free ports were taken before the server could bind them: try again.")
            self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
            self._create_role_and_database(superuser)
        except BaseException:
            self.stop()
            raise
        return self

    def _create_role_and_database(self, superuser: str) -> None:
        import psycopg2
        from psycopg2 import sql

        db = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", password=superuser,
                              dbname="postgres")
        try:
            db.autocommit = True
            with db.cursor() as cur:
                cur.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(self.user)),
                            (self.password,))
                cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(self.database),
                                                                          sql.Identifier(self.user)))
        finally:
            db.close()

    def running(self) -> bool:
        """Whether the server process is alive (a zombie is not)."""
        if self.pid is None:
            return False
        try:
            return Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (FileNotFoundError, IndexError):
            return False

    def stop(self) -> None:
        """Stop the server (fast shutdown: sessions are disconnected) and delete its folder."""
        atexit.unregister(self.stop)
        if self.folder is None:
            return
        pidfile = self.data / "postmaster.pid"
        if self.pid is None and pidfile.is_file():  # start failed after the server came up
            self.pid = int(pidfile.read_text().split()[0])
        try:
            if self.running():
                try:
                    self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop", timeout=60)
                except (PostgresError, subprocess.TimeoutExpired):
                    for sig in (signal.SIGQUIT, signal.SIGKILL):  # immediate shutdown, then no shutdown at all
                        if not self.running():
                            break
                        os.kill(self.pid, sig)
                        deadline = time.monotonic() + 10
                        while self.running() and time.monotonic() < deadline:
                            time.sleep(0.05)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
            self.pid = None

"""Where a study lives (Optuna's RDB storage) and the one lock that keeps the trial count exact.

SQLite (`studies/<study>/study.db`) by default; any SQLAlchemy URL otherwise, PostgreSQL in
particular, so that workers on several machines share a study by running the same command.

Why a lock: Optuna's `Study.ask()` always creates a trial, so workers that each check "fewer than N
trials?" and then ask can overshoot N. Holding a study-wide lock from that check until the trial
exists makes the count exact. The lock is one the database (or OS) drops when its holder dies, so a
crashed worker never blocks the others: a PostgreSQL session advisory lock, MySQL's GET_LOCK, or an
flock on a file beside the SQLite database.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import socket
import threading
from pathlib import Path

from dlbench.errors import UserError

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10
"""Each running trial writes a heartbeat this often (Optuna's RDB heartbeat)."""
GRACE_SECONDS = 60
"""A RUNNING trial without a heartbeat for this long belongs to a dead worker: it is failed and retried."""


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and study.json."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show it as given
        return url


def sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite:///"):
        return None
    p = url[len("sqlite:///"):]
    return Path(p) if p and p != ":memory:" else None


def driver_url(url: str) -> str:
    """`postgresql://` with the driver that is installed: SQLAlchemy 2.1 means psycopg 3 by it, while
    dlbench's test extra (and many servers' setups) bring psycopg2."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def open_storage(url: str):
    """Optuna's RDBStorage for `url` with heartbeats on; a clear UserError when it cannot be reached."""
    import optuna
    import sqlalchemy.exc

    given, url = url, driver_url(url)
    kwargs = {}
    if url.startswith("sqlite"):
        # several local worker processes share the file: wait for its write lock instead of failing
        kwargs = {"connect_args": {"timeout": 120}}
    elif url.startswith(("postgresql", "mysql")):
        kwargs = {"pool_pre_ping": True}
    lock = StudyLock(url, "(schema)")
    try:
        # workers starting together would race to create Optuna's tables (PostgreSQL then fails one of
        # them on a duplicate key): one at a time
        with lock:
            for attempt in (1, 2):
                try:
                    return optuna.storages.RDBStorage(
                        url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                        # a trial of a dead worker is rerun once with the same parameters, as a new trial
                        heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1))
                except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError) as e:
                    # a process outside the lock (plain Optuna, `tune show`) created the tables meanwhile
                    if attempt == 2 or "already exists" not in str(e) and "duplicate key" not in str(e):
                        raise
    except ImportError as e:
        missing = getattr(e.__cause__, "name", None) or "its driver"
        raise UserError(f"cannot open the study storage {safe_url(given)}: the database driver {missing} is not installed",
                        "pip install psycopg2-binary for PostgreSQL, or use a URL with an installed driver") from None
    except (sqlalchemy.exc.SQLAlchemyError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if isinstance(e, sqlalchemy.exc.OperationalError):
            reason = str(getattr(e, "orig", e)).strip().splitlines()[0]
        raise UserError(f"cannot open the study storage {safe_url(given)}: {reason[:300]}",
                        "check --storage (host, port, user, database) and that the server is running") from None
    finally:
        lock.close()


class StudyLock:
    """A study-wide mutex shared by every worker of one study, on any machine that reaches its storage."""

    def __init__(self, url: str, study: str):
        self.url, self.study = url, study
        self._local = threading.Lock()  # threads of one process share the OS-level lock
        self._held = False
        self._conn = None
        self._file = None
        self._kind = "none"
        path = sqlite_path(url)
        if path is not None:
            self._kind, self._path = "file", Path(str(path) + ".lock")
        elif url.startswith(("postgresql", "mysql")):
            self._kind = url.split(":", 1)[0].split("+", 1)[0]
        elif not url.startswith("sqlite"):
            log.warning("no cross-worker lock for %s: with several workers the study may get a few "
                        "more trials than asked", safe_url(url))

    def _key(self) -> int:
        return int.from_bytes(hashlib.sha256(f"dlbench-tune:{self.study}".encode()).digest()[:8], "big", signed=True)

    def _connect(self):
        if self._conn is None:
            import sqlalchemy

            engine = sqlalchemy.create_engine(driver_url(self.url), poolclass=sqlalchemy.pool.NullPool)
            # autocommit: the lock is session-level; an open transaction would only hold snapshots
            self._conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def acquire(self) -> None:
        from sqlalchemy import text

        self._local.acquire()
        try:
            if self._kind == "file":
                self._path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self._path, "a")
                fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
            elif self._kind == "postgresql":
                self._connect().execute(text("SELECT pg_advisory_lock(:k)"), {"k": self._key()})
            elif self._kind == "mysql":
                self._connect().execute(text("SELECT GET_LOCK(:k, -1)"), {"k": f"dlbench-{self._key()}"})
        except BaseException:
            self._local.release()
            raise
        self._held = True

    def release(self) -> None:
        """Idempotent: the objective releases the lock once its trial exists; `with` releases it again."""
        if not self._held:
            return
        from sqlalchemy import text

        self._held = False
        try:
            if self._kind == "file" and self._file is not None:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
                self._file.close()
                self._file = None
            elif self._kind == "postgresql":
                self._connect().execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key()})
            elif self._kind == "mysql":
                self._connect().execute(text("SELECT RELEASE_LOCK(:k)"), {"k": f"dlbench-{self._key()}"})
        finally:
            self._local.release()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()

    def close(self) -> None:
        self.release()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def worker_identity() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def local_worker_dead(attrs: dict) -> bool:
    """True when a trial's worker ran on this machine and its process is gone."""
    if attrs.get("host") != socket.gethostname() or not isinstance(attrs.get("pid"), int):
        return False
    try:
        os.kill(attrs["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False

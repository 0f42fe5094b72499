"""A throwaway PostgreSQL server for the tests and the bench: ``initdb`` and ``pg_ctl`` from
Debian's ``postgresql`` package, on 127.0.0.1 and a free port, its data in a temporary
folder, trust authentication for one user, no fsync (nothing here outlives the run).

As root (CI runs as root), PostgreSQL refuses to start: the server then runs as the
``postgres`` user the package creates, through ``runuser``. ``scripts/ensure-postgres``
installs the package when it is missing; :func:`available` says why a server cannot be
started, and the suites skip with that reason, unless ``IMAGEBRIDGE_REQUIRE_POSTGRES=1``
(set by ``.ci/run``), where it is a failure.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

REQUIRE_ENV = "IMAGEBRIDGE_REQUIRE_POSTGRES"
USER = "imagebridge"


def _bin(name: str) -> str | None:
    """``name`` from the newest ``/usr/lib/postgresql/<version>/bin``, else from PATH."""
    found = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    return found[-1] if found else shutil.which(name)


def available() -> str | None:
    """None when a server can be started here, else why not."""
    if _bin("initdb") is None or _bin("pg_ctl") is None:
        return "PostgreSQL is not installed (no initdb/pg_ctl): run scripts/ensure-postgres"
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _has_user("postgres")):
        return "running as root without a 'postgres' user and runuser to start the server as"
    return None


def required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One server: :meth:`start`, :meth:`stop`, :meth:`restart`; ``dsn`` while it runs."""

    def __init__(self, root: Path | None = None) -> None:
        self._tmp = None if root is not None else tempfile.TemporaryDirectory(prefix="ib-pg-")
        self.root = root or Path(self._tmp.name)  # type: ignore[union-attr]
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self._as_root = os.geteuid() == 0

    @property
    def dsn(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        command = list(argv)
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(argv[:2])} failed ({done.returncode}): {done.stderr[-2000:]}{log}"
            )

    def start(self) -> PostgresServer:
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError(available())
        if not self.data.exists():
            self.sockets.mkdir(parents=True, exist_ok=True)
            if self._as_root:
                shutil.chown(self.root, "postgres")
                shutil.chown(self.sockets, "postgres")
            self._run(
                initdb,
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                USER,
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            )
        options = f"-h 127.0.0.1 -p {self.port} -k {self.sockets} -F -c max_connections=200"
        self._run(
            pg_ctl,
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        pg_ctl = _bin("pg_ctl")
        assert pg_ctl is not None
        self._run(pg_ctl, "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop("immediate")
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()

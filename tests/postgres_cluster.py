"""A throwaway PostgreSQL cluster for tests: the system tier's metadata DB, and the warehouse that the
SQL source's integration tests query.

``initdb`` and ``pg_ctl`` from the installed PostgreSQL (Debian's postgresql-15), a free loopback
port, trust authentication; as root the server runs as the ``postgres`` user through ``runuser``.
The folder a cluster lives in must be reachable by that user (``chmod 0o755`` its parents).
Shared by tests/system and tests/integration: the tests folder is on ``sys.path`` (tests/conftest.py
lives there), so both import it as ``postgres_cluster``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

#: The package that brings PostgreSQL, for the message of a machine without it.
INSTALL_HINT = "apt-get install postgresql-15"


class PostgresClusterError(AssertionError):
    """A PostgreSQL command failed or the server did not start (an assertion: the test fails)."""


def free_port() -> int:
    """A free TCP port on loopback (bound and closed: free for the next process, normally)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file, for failure messages."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])


def postgres_bindir() -> Path | None:
    """The folder with initdb and pg_ctl: PostgreSQL 15 from Debian's package, else pg_config's."""
    candidates = [Path("/usr/lib/postgresql/15/bin")]
    pg_config = shutil.which("pg_config")
    if pg_config:
        completed = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if completed.returncode == 0 and completed.stdout.strip():
            candidates.append(Path(completed.stdout.strip()))
    candidates.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    return None


class PostgresCluster:
    """A throwaway PostgreSQL cluster in ``root``: trust auth, loopback only, one database.

    As root, PostgreSQL runs as the ``postgres`` user (it refuses to run as root): the folder
    is handed to that user and every server command goes through ``runuser -u postgres --``.
    """

    def __init__(self, bindir: Path, root: Path, database: str = "airflow"):
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.logfile = root / "postgres.log"
        self.database = database
        self.port = 0
        self._as_postgres: list[str] = []

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        completed = subprocess.run(
            [*self._as_postgres, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if completed.returncode != 0:
            raise PostgresClusterError(
                f"PostgreSQL command failed ({completed.returncode}): {' '.join(args)}\n"
                f"{completed.stdout}\n{completed.stderr}\nserver log:\n{tail(self.logfile)}"
            )
        return completed

    def start(self) -> PostgresCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise PostgresClusterError(
                    "Running as root, but runuser is missing: cannot start PostgreSQL as postgres"
                )
            self._as_postgres = [runuser, "-u", "postgres", "--"]
            # The folder is postgres's; its parents must let postgres through (the caller's job).
            shutil.chown(self.root, "postgres", "postgres")
            self.root.chmod(0o700)
        self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.data),
            "-U", "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
            "--no-instructions",
        )  # fmt: skip
        # A port that is free now may be taken by the time the server binds it: try a few.
        for _attempt in range(3):
            self.port = free_port()
            options = " ".join(
                [
                    f"-p {self.port}",
                    "-c listen_addresses=127.0.0.1",
                    f"-c unix_socket_directories={self.root}",
                    "-c max_connections=200",
                    # A throwaway cluster: durability buys nothing, speed does.
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                ]
            )
            started = subprocess.run(
                [*self._as_postgres, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile),
                 "-o", options, "-w", "-t", "60", "start"],
                capture_output=True, text=True, timeout=90, check=False,
            )  # fmt: skip
            if started.returncode == 0:
                break
        else:
            raise PostgresClusterError(
                f"PostgreSQL did not start:\n{started.stdout}\n{started.stderr}\n{tail(self.logfile)}"
            )
        createdb = self.bindir / "createdb"
        if createdb.is_file():
            self._run(str(createdb), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.database)
        else:
            self._run(
                str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                "-c", f"CREATE DATABASE {self.database}",
            )  # fmt: skip
        return self

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(
                [*self._as_postgres, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                 "-t", "30", "stop"],
                capture_output=True, timeout=60, check=False,
            )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)


def require_postgres_bindir(needed_for: str) -> Path:
    """PostgreSQL's bin folder; without it the test is skipped, saying how to install it, and fails
    when ``CI=true`` (CI must not pass by skipping). ``needed_for`` says what needs it."""
    bindir = postgres_bindir()
    if bindir is None:
        message = (
            "PostgreSQL is not installed (no initdb/pg_ctl in /usr/lib/postgresql/*/bin or on PATH): "
            f"{needed_for}; {INSTALL_HINT}"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return bindir

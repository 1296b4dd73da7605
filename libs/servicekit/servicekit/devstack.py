"""`make dev`: the whole stack on one machine, on embedded defaults.

Starts what is not configured (PostgreSQL, NATS JetStream, the mail catcher, the S3/KMS/SQS
emulator, the Chime SDK emulator), then every installed service (entry point group `realty.services`) at once,
each with its gRPC certificate from a development CA kept in the data dir, waits
until each answers `/readyz`, composes the supergraph from
the live subgraphs, starts the gateway and, on a fresh data dir, loads demo data. State lives in the data dir (`REALTY_DATA_DIR`,
default `.dev/`). Ctrl-C stops everything, in reverse order.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import boto3
import httpx

from servicekit.embedded import EmbeddedNats, EmbeddedPostgres, port_open, wait_for_port
from servicekit.mail import MailCatcher
from servicekit.settings import InfraSettings, ServiceSettings
from servicekit.tls import DevAuthority

EMBEDDED_POSTGRES_PORT = 55432
EMBEDDED_NATS_PORT = 44222
MOTO_PORT = 4566
CHIME_PORT = 4580


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]


@dataclass
class DevStack:
    infra: InfraSettings
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    children: list[Child] = field(default_factory=list)
    stoppers: list[tuple[str, object]] = field(default_factory=list)
    chime_url: str | None = None

    # -- infrastructure ------------------------------------------------------------------
    def start_postgres(self) -> None:
        if "DATABASE_URL" in os.environ:
            say(f"PostgreSQL: using DATABASE_URL ({self.infra.database_url})")
            return
        if port_open("127.0.0.1", EMBEDDED_POSTGRES_PORT):
            raise SystemExit(
                f"port {EMBEDDED_POSTGRES_PORT} is taken: is another `make dev` running?"
            )
        say(f"PostgreSQL: starting embedded server on 127.0.0.1:{EMBEDDED_POSTGRES_PORT}")
        server = EmbeddedPostgres(self.infra.data_dir / "postgres", EMBEDDED_POSTGRES_PORT)
        server.start()
        self.stoppers.append(("PostgreSQL", server.stop))
        self.env["DATABASE_URL"] = server.url

    def start_nats(self) -> None:
        if "NATS_URL" in os.environ:
            say(f"NATS: using NATS_URL ({self.infra.nats_url})")
            return
        if port_open("127.0.0.1", EMBEDDED_NATS_PORT):
            raise SystemExit(f"port {EMBEDDED_NATS_PORT} is taken: is another `make dev` running?")
        say(f"NATS JetStream: starting embedded server on 127.0.0.1:{EMBEDDED_NATS_PORT}")
        server = EmbeddedNats(self.infra.data_dir / "nats", EMBEDDED_NATS_PORT)
        server.start()
        self.stoppers.append(("NATS", server.stop))
        self.env["NATS_URL"] = server.url

    def start_mail(self) -> None:
        if "SMTP_HOST" in os.environ:
            say(f"Mail: using SMTP at {self.infra.smtp_host}:{self.infra.smtp_port}")
            return
        catcher = MailCatcher(self.infra.data_dir / "mail", port=self.infra.smtp_port)
        catcher.start()
        self.stoppers.append(("mail catcher", catcher.stop))
        say(f"Mail: catcher on 127.0.0.1:{self.infra.smtp_port}, messages in {catcher.mail_dir}/")

    def start_aws(self) -> None:
        if "AWS_ENDPOINT_URL" in os.environ:
            say(f"AWS: using endpoint {os.environ['AWS_ENDPOINT_URL']}")
            return
        say(f"AWS (S3, KMS, SQS): starting local emulator on 127.0.0.1:{MOTO_PORT} (log: aws.log)")
        self.env.setdefault("AWS_ACCESS_KEY_ID", "local")
        self.env.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        self.env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{MOTO_PORT}"
        binary = Path(sys.executable).parent / "moto_server"
        log = self.infra.data_dir / "aws.log"
        self.spawn("aws", [str(binary), "-H", "127.0.0.1", "-p", str(MOTO_PORT)], log=log)
        wait_for_port("127.0.0.1", MOTO_PORT, 30, self.children[-1].proc)

    def start_chime(self) -> None:
        """The Chime SDK emulator (package chimesim), its events into an SQS queue and its
        recordings into S3 of the AWS endpoint, as an EventBridge rule would deliver them."""
        if "CHIME_ENDPOINT_URL" in os.environ:
            self.chime_url = os.environ["CHIME_ENDPOINT_URL"]
            say(f"Chime: using endpoint {self.chime_url}")
            return
        binary = Path(sys.executable).parent / "chimesim"
        if not binary.exists():
            return
        if "CHIMESIM_EVENTS_QUEUE_URL" not in self.env:
            sqs = boto3.client(
                "sqs",
                endpoint_url=self.env["AWS_ENDPOINT_URL"],
                region_name=self.infra.aws_region,
                aws_access_key_id=self.env.get("AWS_ACCESS_KEY_ID"),
                aws_secret_access_key=self.env.get("AWS_SECRET_ACCESS_KEY"),
            )
            queue = sqs.create_queue(QueueName="chime-events")["QueueUrl"]
            self.env["CHIMESIM_EVENTS_QUEUE_URL"] = queue
        say(f"Chime SDK: starting emulator on 127.0.0.1:{CHIME_PORT} (log: chime.log)")
        self.env["CHIMESIM_PORT"] = str(CHIME_PORT)
        self.chime_url = self.env["CHIME_ENDPOINT_URL"] = f"http://127.0.0.1:{CHIME_PORT}"
        self.spawn("chime", [str(binary)], log=self.infra.data_dir / "chime.log")
        wait_for_port("127.0.0.1", CHIME_PORT, 30, self.children[-1].proc)

    def issue_certificate(self, settings: ServiceSettings) -> None:
        """The service's gRPC certificate from the development CA (kept in the data dir and
        reused), unless the environment names TLS files of its own."""
        if settings.infra.grpc_tls_cert_file is not None:
            return
        authority = DevAuthority(settings.infra.resolved_grpc_tls_dir())
        authority.material(settings.service_name)
        say(f"{settings.service_name}: gRPC certificate from the CA in {authority.directory}/")

    # -- processes -------------------------------------------------------------------------
    def spawn(self, name: str, argv: list[str], *, log: Path | None = None) -> Child:
        output = open(log, "ab") if log else None  # noqa: SIM115 — owned by the child
        proc = subprocess.Popen(
            argv, env=self.env, start_new_session=True, stdout=output, stderr=output
        )
        child = Child(name, proc)
        self.children.append(child)
        return child

    def wait_ready(self, child: Child, url: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.proc.poll() is not None:
                raise SystemExit(f"{child.name} exited with status {child.proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            time.sleep(0.2)
        raise SystemExit(f"{child.name} not ready at {url} after {timeout:.0f}s")

    def start_services(self) -> list[tuple[str, ServiceSettings]]:
        """Start every service at once (they wait for each other over the network), then
        wait until each one is ready."""
        entries = sorted(
            importlib.metadata.entry_points(group="realty.services"), key=lambda e: e.name
        )
        launched: list[tuple[str, ServiceSettings, Child]] = []
        for entry in entries:
            settings: ServiceSettings = entry.load()()
            self.issue_certificate(settings)
            say(f"{entry.name}: starting (http {settings.http_port}, grpc {settings.grpc_port})")
            launched.append(
                (entry.name, settings, self.spawn(entry.name, [sys.executable, "-m", entry.name]))
            )
        for name, settings, child in launched:
            self.wait_ready(child, f"http://{settings.http_host}:{settings.http_port}/readyz")
            say(f"{name}: ready")
        return [(name, settings) for name, settings, _ in launched]

    def start_gateway(self, services: list[tuple[str, ServiceSettings]]) -> str | None:
        gateway_bin = Path(sys.executable).parent / "gateway"
        if not services or not gateway_bin.exists():
            return None
        supergraph = self.infra.data_dir / "supergraph.graphql"
        args = [str(gateway_bin), "compose", "--out", str(supergraph)]
        for name, settings in services:
            args += [
                "--subgraph",
                f"{name}=http://{settings.http_host}:{settings.http_port}/graphql",
            ]
        say(f"gateway: composing the supergraph from {len(services)} subgraphs")
        subprocess.run(args, env=self.env, check=True)
        self.env["GATEWAY_SUPERGRAPH_PATH"] = str(supergraph)
        port = int(self.env.get("GATEWAY_PORT", "4000"))
        child = self.spawn("gateway", [sys.executable, "-m", "gateway"])
        self.wait_ready(child, f"http://127.0.0.1:{port}/health")
        return f"http://127.0.0.1:{port}/graphql"

    def seed_once(self, services: list[tuple[str, ServiceSettings]]) -> None:
        """On a fresh data dir, run each service's demo-data command (`<svc>.seed`) once."""
        marker = self.infra.data_dir / "seeded"
        if marker.exists():
            return
        for name, _ in services:
            if importlib.util.find_spec(f"{name}.seed") is None:
                continue
            say(f"{name}: loading demo data (python -m {name}.seed)")
            result = subprocess.run([sys.executable, "-m", f"{name}.seed"], env=self.env)
            if result.returncode != 0:
                say(f"{name}: demo data failed (exit {result.returncode}); `make seed` retries")
                return
        marker.touch()

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            try:
                child.proc.wait(15)
            except subprocess.TimeoutExpired:
                child.proc.kill()
        for name, stop in reversed(self.stoppers):
            say(f"stopping {name}")
            stop()  # type: ignore[operator]
        self.children.clear()
        self.stoppers.clear()


def main() -> None:
    infra = InfraSettings()
    infra.data_dir.mkdir(parents=True, exist_ok=True)
    stack = DevStack(infra)
    stack.env["REALTY_DATA_DIR"] = str(infra.data_dir)

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Explicitly: a stack started from a script may inherit SIGINT as ignored.
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    try:
        stack.start_postgres()
        stack.start_nats()
        stack.start_mail()
        stack.start_aws()
        stack.start_chime()
        services = stack.start_services()
        url = stack.start_gateway(services)
        stack.seed_once(services)
        print(flush=True)
        for name, settings in services:
            print(
                f"  {name:<12} http://{settings.http_host}:{settings.http_port}/graphql"
                f"  grpc {settings.grpc_host}:{settings.grpc_port}"
            )
        print(f"  mail         {infra.data_dir / 'mail'}/")
        if stack.chime_url:
            queue = stack.env.get("CHIMESIM_EVENTS_QUEUE_URL", "not configured")
            print(f"  chime        {stack.chime_url}  (events: {queue})")
        if url:
            print(f"\nGraphQL: {url}\n", flush=True)
        say("running; press Ctrl-C to stop")
        while True:
            for child in stack.children:
                if child.proc.poll() is not None:
                    raise SystemExit(f"{child.name} exited with status {child.proc.returncode}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        print(flush=True)
        say("stopping")
    finally:
        stack.stop()
        say("stopped")


if __name__ == "__main__":
    main()

"""The dev overlay gives media everything a call needs: the Chime SDK emulator as its Chime
endpoint, moto for S3, KMS and SQS, and the emulator's events delivered to the queue media
reads (as EventBridge delivers Chime's in production), recordings included.

The wiring is read from the built overlay and the settings classes (media's pydantic
settings, the emulator's `Settings.from_env`), never restated; then the emulator's
container command and environment run here against a moto server, with the cluster's
service names pointed at loopback, and a meeting's events reach media's queue reader while
a capture writes into the bucket media provisions.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from chimesim.settings import Settings as EmulatorSettings

from .dockerfiles import REPO, parse
from .manifests import (
    Doc,
    build,
    containers,
    main_container,
    of_kind,
    pod_spec,
    settings_of,
)

EMULATOR = "chimesim"


def emulator() -> Doc:
    return of_kind(build("dev"), "Deployment")[EMULATOR]


def given(container: Doc) -> dict[str, str]:
    """A container's env, with configMapKeyRef values read from the built ConfigMaps."""
    config_maps = of_kind(build("dev"), "ConfigMap")
    values: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            values[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]["configMapKeyRef"]
        values[item["name"]] = config_maps[ref["name"]]["data"][ref["key"]]
    assert not container.get("envFrom"), "the emulator is given only what it reads"
    return values


def image_environment() -> dict[str, str]:
    """What the emulator's image sets with ENV (libs/chimesim/Dockerfile)."""
    final = parse((REPO / "libs" / "chimesim" / "Dockerfile").read_text())[-1]
    return dict(w.partition("=")[::2] for i in final.of("ENV") for w in i.words())


def emulator_settings() -> EmulatorSettings:
    return EmulatorSettings.from_env({**image_environment(), **given(main_container(emulator()))})


def service_url(name: str, port_name: str) -> str:
    """http://<Service>:<port>, after checking the port leads to the container's port."""
    [service] = [s for n, s in of_kind(build("dev"), "Service").items() if n == name]
    [port] = [p for p in service["spec"]["ports"] if p["name"] == port_name]
    workload = of_kind(build("dev"), "Deployment")[name]
    ports = {
        p["name"]: p["containerPort"] for c in containers(workload) for p in c.get("ports", [])
    }
    assert ports[port["targetPort"]] == port["port"], f"{name}: Service and container ports"
    return f"http://{name}:{port['port']}"


def test_every_variable_the_emulator_is_given_is_one_it_reads() -> None:
    fields = {f.upper() for f in EmulatorSettings.__dataclass_fields__}
    libraries = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}  # botocore's, for moto
    for container in containers(emulator()):
        for name in given(container):
            assert name in libraries or name.removeprefix("CHIMESIM_") in fields, name


def test_media_calls_the_emulator_and_both_use_moto_and_one_queue() -> None:
    media = settings_of("media", "dev")
    chime = emulator_settings()
    assert media.chime_endpoint() == service_url(EMULATOR, "http")
    assert chime.port == main_container(emulator())["ports"][0]["containerPort"]
    assert chime.host == "0.0.0.0"  # the image's ENV
    moto = service_url("moto", "main")
    assert media.s3_endpoint() == media.sqs_endpoint() == chime.aws_endpoint_url == moto
    assert chime.events_queue_url is not None
    assert chime.events_queue_url.startswith(f"{moto}/")
    assert chime.events_queue_url.rsplit("/", 1)[1] == media.events_queue_name
    assert chime.region == media.media_region == media.infra.aws_region
    assert media.recordings_provision, "media makes its bucket and key in moto"


def test_the_emulator_runs_the_image_the_repository_builds() -> None:
    assert (REPO / "libs" / "chimesim" / "Dockerfile").is_file()
    for container in containers(emulator()):
        assert container["image"] == "realty/chimesim:dev", container["name"]
    [init] = pod_spec(emulator())["initContainers"]
    assert init["env"] == main_container(emulator())["env"], "the same queue and endpoint"


def _egress_to(docs: tuple[Doc, ...], labels: dict[str, str], target: str, port: int) -> bool:
    """Whether some policy selecting pods with `labels` lets them reach `target`:`port`."""
    for policy in of_kind(docs, "NetworkPolicy").values():
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        if not selector.items() <= labels.items():
            continue
        for rule in policy["spec"].get("egress", []):
            names = {
                p.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
                for p in rule.get("to", [])
            }
            if target in names and any(p["port"] == port for p in rule.get("ports", [])):
                return True
    return False


def test_the_network_lets_media_reach_the_emulator_and_the_emulator_reach_moto() -> None:
    docs = build("dev")
    deployments = of_kind(docs, "Deployment")
    media = deployments["media"]["spec"]["template"]["metadata"]["labels"]
    chime = deployments[EMULATOR]["spec"]["template"]["metadata"]["labels"]
    chime_port = emulator_settings().port
    assert _egress_to(docs, media, EMULATOR, chime_port)
    assert _egress_to(docs, chime, "moto", 4566)
    assert _egress_to(docs, media, "moto", 4566), "media's S3, KMS and SQS"
    policy = of_kind(docs, "NetworkPolicy")[EMULATOR]["spec"]
    callers = {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for rule in policy["ingress"]
        for peer in rule["from"]
    }
    assert callers == {"media"}, "only media calls Chime"
    assert EMULATOR not in of_kind(build("production"), "Deployment"), "dev only"


# --- the emulator's container, run here against moto ---------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _local(url: str, names: dict[str, str]) -> str:
    """A cluster URL (http://<service>:<port>/...) pointed at what stands in for it here."""
    parts = urlsplit(url)
    return names[parts.netloc] + url[len(f"{parts.scheme}://{parts.netloc}") :]


@pytest.fixture
def dev_moto(aws_endpoint: str) -> Iterator[str]:
    """A moto process of this test's own, as the dev cluster has one. Not the session's:
    stacks that live the whole session (the chaos suite's) read a queue of the same name
    there and would take this call's events; and not a second server in this process
    either, since moto keeps its state per process."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except OSError:
                assert process.poll() is None, "moto did not start"
                assert time.monotonic() < deadline, "moto did not get ready"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def running(dev_moto: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The emulator's init container and process, run with the dev overlay's environment,
    moto and the emulator reached where they run here; yields the service-name mapping."""
    aws_endpoint = dev_moto
    port = _free_port()
    names = {
        urlsplit(service_url("moto", "main")).netloc: aws_endpoint,
        urlsplit(service_url(EMULATOR, "http")).netloc: f"http://127.0.0.1:{port}",
    }
    [init] = pod_spec(emulator())["initContainers"]
    environment = {
        key: _local(value, names) if value.startswith("http://") else value
        for key, value in given(main_container(emulator())).items()
    }
    environment.update(CHIMESIM_HOST="127.0.0.1", CHIMESIM_PORT=str(port))
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    command = [sys.executable if w == "python" else w for w in init["command"]]
    created = subprocess.run(
        command, env={**base, **environment}, capture_output=True, text=True, timeout=60
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == environment["CHIMESIM_EVENTS_QUEUE_URL"]
    main = main_container(emulator())
    process_command = main.get("command") or [sys.executable, "-m", "chimesim"]
    # Its log goes to a file: a pipe nobody reads would stall the emulator once full.
    log = tmp_path / "chimesim.log"
    log_file = log.open("wb")
    process = subprocess.Popen(
        process_command,
        env={**base, **environment},
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    try:
        health = f"http://127.0.0.1:{port}{main['readinessProbe']['httpGet']['path']}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(health, timeout=1) as answer:
                    assert answer.status == 200
                break
            except OSError:
                assert process.poll() is None, log.read_text(errors="replace")
                assert time.monotonic() < deadline, "the emulator did not get ready"
                time.sleep(0.2)
        for kind in ("startupProbe", "livenessProbe"):  # readiness answered above
            probe = main[kind]["httpGet"]
            assert probe["port"] == main["ports"][0]["name"]
            url = f"http://127.0.0.1:{port}{probe['path']}"
            with urllib.request.urlopen(url, timeout=5) as answer:
                assert answer.status == 200, kind
        yield names
    finally:
        process.terminate()
        process.wait(timeout=10)
        log_file.close()


def _control(base: str, path: str) -> None:
    request = urllib.request.Request(f"{base}/_emulator{path}", method="POST", data=b"{}")
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200


def test_a_call_in_dev_reaches_media_through_the_queue_and_records(
    running: dict[str, str], tmp_path: Path
) -> None:
    from media.eventbridge import ChimeSignal, PipelineSignal
    from media.queue import ChimeEventQueue
    from media.storage import RecordingStorage

    media = settings_of("media", "dev")
    chime_url = _local(media.chime_endpoint(), running)
    s3_url = _local(media.s3_endpoint(), running)
    region = media.media_region
    # Media's start-up: its recordings bucket and key (provisioned in dev), its queue.
    storage = RecordingStorage(
        bucket=media.recordings_bucket,
        kms_key=media.recordings_kms_key,
        region=region,
        endpoint_url=s3_url,
        provision=media.recordings_provision,
    )
    key_arn = asyncio.run(storage.ensure_ready())
    signals: list[Any] = []

    async def handler(signal: ChimeSignal | PipelineSignal) -> None:
        signals.append(signal)

    queue = ChimeEventQueue(
        queue_name=media.events_queue_name,
        region=region,
        handler=handler,
        endpoint_url=_local(media.sqs_endpoint(), running),
        wait_seconds=1,
    )

    meetings: Any = boto3.client("chime-sdk-meetings", endpoint_url=chime_url, region_name=region)
    pipelines: Any = boto3.client(
        "chime-sdk-media-pipelines", endpoint_url=chime_url, region_name=region
    )
    meeting = meetings.create_meeting(
        ClientRequestToken="dev-call", MediaRegion=region, ExternalMeetingId="tour-dev"
    )["Meeting"]
    attendee = meetings.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="buyer-1")
    attendee_id = attendee["Attendee"]["AttendeeId"]
    _control(chime_url, f"/meetings/{meeting['MeetingId']}/attendees/{attendee_id}/join")
    capture = pipelines.create_media_capture_pipeline(
        SourceType="ChimeSdkMeeting",
        SourceArn=meeting["MeetingArn"],
        SinkType="S3Bucket",
        SinkArn=storage.sink_arn("dev-call"),
        SseAwsKeyManagementParams={"AwsKmsKeyId": key_arn},
        SinkIamRoleArn=media.recordings_sink_role_arn,
    )["MediaCapturePipeline"]
    pipelines.delete_media_capture_pipeline(MediaPipelineId=capture["MediaPipelineId"])

    wanted = {
        ("ChimeSignal", "MeetingStarted"),
        ("ChimeSignal", "AttendeeJoined"),
        ("PipelineSignal", "MediaPipelineInProgress"),
    }

    def seen() -> set[tuple[str, str]]:
        return {
            (type(s).__name__, str(s.kind)) for s in signals if s.meeting_id == meeting["MeetingId"]
        }

    async def receive_until_seen() -> None:
        # Events may go out just after the call that caused them answered: wait for them.
        deadline = time.monotonic() + 30
        while not wanted <= seen() and time.monotonic() < deadline:
            await queue.poll_once()

    asyncio.run(receive_until_seen())
    emulator_log = tmp_path / "chimesim.log"
    assert wanted <= seen(), (seen(), emulator_log.read_text(errors="replace")[-4000:])
    s3: Any = boto3.client("s3", endpoint_url=s3_url, region_name=region)

    def artifacts() -> list[str]:
        written = s3.list_objects_v2(Bucket=media.recordings_bucket, Prefix="dev-call/")
        return [item["Key"] for item in written.get("Contents", [])]

    deadline = time.monotonic() + 30
    keys = artifacts()
    while not any(k.startswith("dev-call/meeting-events/") for k in keys):
        assert time.monotonic() < deadline, f"no capture artifacts: {keys}"
        time.sleep(0.2)
        keys = artifacts()
    assert any(k.startswith("dev-call/audio/") for k in keys), keys
    assert any(k.startswith("dev-call/meeting-events/") for k in keys), keys

"""The manifests and the code agree: every variable a container is given is one its
process reads (its settings classes, or a library named below), every setting without a
default is given, the settings validate as each overlay configures them (production's
rules included), and every probe's path and port is one the process serves."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from .manifests import (
    OVERLAYS,
    PROCESSES,
    SERVICES,
    build,
    containers,
    environ,
    environment,
    image_environment,
    main_container,
    of_kind,
    pod_spec,
    process_environment,
    settings_classes,
    settings_of,
)

# Read by libraries, not by a settings class: botocore's credentials (dev's emulator only;
# production's come from the IAM role) and OpenTelemetry's exporter.
LIBRARY_VARIABLES = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"})
LIBRARY_PREFIXES = ("OTEL_",)

each_overlay = pytest.mark.parametrize("overlay", OVERLAYS)
each_process = pytest.mark.parametrize("process", PROCESSES)


def variables_read(settings: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads (upper case)."""
    prefix = str(settings.model_config.get("env_prefix", "")).upper()
    names: set[str] = set()
    for field_name, info in settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices)
        elif isinstance(info.default_factory, type) and issubclass(
            info.default_factory, BaseSettings
        ):
            continue  # a nested settings class (`infra`) reads its own variables
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def test_the_reader_of_variables_sees_prefixes_and_aliases() -> None:
    from gateway.settings import GatewaySettings
    from identity.settings import Settings

    assert {"IDENTITY_HTTP_PORT", "IDENTITY_ACCESS_TOKEN_TTL"} <= variables_read(Settings)
    assert "IDENTITY_INFRA" not in variables_read(Settings)
    assert {"GATEWAY_REDIS_URL", "REDIS_URL", "REALTY_ENV"} <= variables_read(GatewaySettings)


@each_overlay
@each_process
def test_every_variable_given_is_read_by_the_process(overlay: str, process: str) -> None:
    read = set().union(*(variables_read(s) for s in settings_classes(process)))
    workload = of_kind(build(overlay), "Deployment")[process]
    for container in containers(workload):
        given = environment(build(overlay), container)
        unread = {
            name
            for name in given
            if name not in read
            and name not in LIBRARY_VARIABLES
            and not name.startswith(LIBRARY_PREFIXES)
        }
        assert not unread, f"{process}/{container['name']}: nobody reads {sorted(unread)}"


@each_overlay
@each_process
def test_required_settings_are_given_and_the_settings_validate(overlay: str, process: str) -> None:
    given = process_environment(overlay, process)
    for settings in settings_classes(process):
        prefix = str(settings.model_config.get("env_prefix", "")).upper()
        for field_name, info in settings.model_fields.items():
            if info.is_required():
                assert f"{prefix}{field_name}".upper() in given, f"{process}: {field_name}"
    # Construction runs every validator, production's refusals included (a development
    # feed secret, Argon2 below OWASP's floor, a token lifetime past the verifiers').
    with environ(given):
        for settings in settings_classes(process):
            settings()


def test_production_is_production_and_dev_is_not() -> None:
    for process in SERVICES:
        assert settings_of(process, "production").infra.production
        assert not settings_of(process, "dev").infra.production
        assert settings_of(process, "production").infra.nats_stream_replicas == 3
        assert settings_of(process, "production").infra.aws_endpoint_url is None
    assert settings_of("gateway", "production").production
    assert not settings_of("gateway", "production").serve_graphiql


@each_overlay
def test_services_reach_one_another_at_their_service_names_and_ports(overlay: str) -> None:
    services = of_kind(build(overlay), "Service")
    for process in SERVICES:
        settings = settings_of(process, overlay)
        for field_name in type(settings).model_fields:
            if not field_name.endswith("_grpc"):
                continue
            peer = field_name.removesuffix("_grpc")
            host, _, port = getattr(settings, field_name).partition(":")
            assert host == peer, f"{process}.{field_name}"
            ports = {p["name"]: p["port"] for p in services[peer]["spec"]["ports"]}
            assert int(port) == ports["grpc"] == settings_of(peer, overlay).grpc_port
        jwks = settings.infra.jwks_url
        identity = settings_of("identity", overlay)
        assert jwks == f"http://identity:{identity.http_port}/.well-known/jwks.json"


def _service_routes(process: str) -> set[str]:
    from servicekit.http import probe_routes

    return {route.path for route in probe_routes({})}  # type: ignore[attr-defined]


def _gateway_routes() -> set[str]:
    from gateway.app import build_app
    from gateway.settings import GatewaySettings

    app = build_app(GatewaySettings(), bus=None, redis=None)
    return {getattr(route, "path", "") for route in app.routes}


def _probe_port(probe: dict[str, Any], ports: dict[str, int]) -> int:
    port = probe["httpGet"]["port"]
    return ports[port] if isinstance(port, str) else int(port)


@each_overlay
@each_process
def test_every_probe_path_and_port_is_served(overlay: str, process: str) -> None:
    workload = of_kind(build(overlay), "Deployment")[process]
    container = main_container(workload)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    settings = settings_of(process, overlay)
    http_port = settings.port if process == "gateway" else settings.http_port
    assert ports["http"] == http_port
    routes = _gateway_routes() if process == "gateway" else _service_routes(process)
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container[kind]
        if "httpGet" in probe:
            assert probe["httpGet"]["path"] in routes, f"{process} {kind}"
            assert _probe_port(probe, ports) == http_port
    serves_grpc = (
        process != "gateway"
        and getattr(type(settings), "serves_grpc", True)
        and importlib.util.find_spec(f"{process}.rpc") is not None
    )
    if not serves_grpc:
        assert "grpc" not in ports, f"{process} serves no gRPC"
        return
    assert ports["grpc"] == settings.grpc_port
    command = container["startupProbe"]["exec"]["command"]
    script, port, name = command[2], command[3], command[4]
    assert (int(port), name) == (settings.grpc_port, process)
    assert "grpc_health" in script and "HealthStub" in script
    given = environment(build(overlay), container)
    for variable in re.findall(r"GRPC_TLS_\w+", script):
        assert variable in given, f"{process}: the probe reads {variable}"


@each_overlay
def test_the_gateway_serves_the_supergraph_its_init_container_composes(overlay: str) -> None:
    workload = of_kind(build(overlay), "Deployment")["gateway"]
    [compose] = [c for c in pod_spec(workload)["initContainers"] if c["name"] == "compose"]
    command = compose["command"]
    out = command[command.index("--out") + 1]
    assert out == image_environment("gateway")["GATEWAY_SUPERGRAPH_PATH"]
    subgraphs = dict(
        command[i + 1].split("=", 1) for i, word in enumerate(command) if word == "--subgraph"
    )
    assert set(subgraphs) == set(SERVICES)
    for name, url in subgraphs.items():
        assert url == f"http://{name}:{settings_of(name, overlay).http_port}/graphql"
    directory = out.rsplit("/", 1)[0]
    mounts = {m["mountPath"]: m for m in main_container(workload)["volumeMounts"]}
    assert mounts[directory]["readOnly"] is True


@each_overlay
def test_migrations_run_before_each_service_serves(overlay: str) -> None:
    deployments = of_kind(build(overlay), "Deployment")
    for process in SERVICES:
        [migrate] = [c for c in pod_spec(deployments[process])["initContainers"]]
        main = main_container(deployments[process])
        assert migrate["command"] == ["python", "-m", "servicekit.migrate"]
        assert migrate["image"] == main["image"], "the new version's migrations"
        assert migrate["envFrom"] == main["envFrom"], "the same database"
    from servicekit import migrations

    source = Path(migrations.__file__ or "").read_text()
    assert "pg_advisory_xact_lock" in source, "replicas migrate one at a time"


def _cores(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


@each_process
def test_each_pod_runs_no_more_processes_than_its_cpu_limit(process: str) -> None:
    """A process count left to the code would follow the node's cores (services read the
    CPU affinity, which in a container is the whole node): the memory limit is sized for
    the processes the CPU limit gives."""
    workload = of_kind(build("production"), "Deployment")[process]
    limit = _cores(main_container(workload)["resources"]["limits"]["cpu"])
    settings = settings_of(process)
    count = settings.worker_count if process == "gateway" else settings.resolved_processes()
    assert 1 <= count <= max(1, int(limit)), f"{process}: {count} processes"

"""The Kubernetes manifests build, validate against the Kubernetes schemas and hold the
shape a platform engineer signs off: hardened pods, probes, graceful termination longer
than a request, autoscaling and disruption budgets in production, the gRPC certificates,
the load balancer's TLS, WebSocket timeout and WAF, and network policies that allow
exactly who calls whom (read from the services' settings, not restated)."""

from __future__ import annotations

import copy
import re

import kubernetes_validate
import pytest
import yaml
from servicekit.runtime import HTTP_KEEP_ALIVE_SECONDS

from .manifests import (
    CUSTOM_GROUPS,
    K8S,
    NAMESPACE,
    OVERLAYS,
    PROCESSES,
    SERVICES,
    Doc,
    build,
    containers,
    main_container,
    of_kind,
    pod_spec,
    settings_of,
    workloads,
)

# EKS's version in deploy/terraform (variables.tf: kubernetes_version).
KUBERNETES_VERSION = "1.31.0"
each_overlay = pytest.mark.parametrize("overlay", OVERLAYS)


@each_overlay
def test_the_overlay_builds_every_process(overlay: str) -> None:
    docs = build(overlay)
    deployments = of_kind(docs, "Deployment")
    assert set(PROCESSES) <= set(deployments)
    for kind in ("Service", "ServiceAccount", "NetworkPolicy"):
        assert set(PROCESSES) <= set(of_kind(docs, kind)), kind
    assert all(
        d["metadata"].get("namespace") == NAMESPACE for d in docs if d["kind"] != "Namespace"
    )


def test_terraform_and_the_manifests_agree_on_the_namespace() -> None:
    variables = K8S.parent / "terraform" / "variables.tf"
    if not variables.is_file():
        pytest.skip("deploy/terraform is not there")
    match = re.search(
        r'variable "kubernetes_namespace".*?default\s*=\s*"([^"]+)"', variables.read_text(), re.S
    )
    assert match and match.group(1) == NAMESPACE


@each_overlay
def test_every_object_validates_against_the_kubernetes_schemas(overlay: str) -> None:
    checked = 0
    for doc in build(overlay):
        if doc["apiVersion"].startswith(CUSTOM_GROUPS):
            # No schemas for cert-manager's and External Secrets' resources ship offline:
            # their required fields are checked in test_custom_resources_name_what_they_need.
            continue
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked > 40


def test_the_schema_check_refuses_a_wrong_manifest() -> None:
    deployment = copy.deepcopy(of_kind(build("production"), "Deployment")["identity"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["paht"] = (
        "/x"
    )
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    del deployment["spec"]["selector"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=False)


@each_overlay
def test_custom_resources_name_what_they_need(overlay: str) -> None:
    docs = build(overlay)
    for cert in of_kind(docs, "Certificate").values():
        spec = cert["spec"]
        assert spec["secretName"] and spec["issuerRef"]["name"] in of_kind(docs, "Issuer")
    stores = of_kind(docs, "SecretStore")
    for name, external in of_kind(docs, "ExternalSecret").items():
        spec = external["spec"]
        process = name.removesuffix("-secrets")
        assert spec["secretStoreRef"] == {"kind": "SecretStore", "name": process}
        # Each process reads its own secret with its own role (terraform: read_own_secret).
        auth = stores[process]["spec"]["provider"]["aws"]["auth"]["jwt"]
        assert auth["serviceAccountRef"]["name"] == process
        assert spec["target"]["name"] == name and (spec.get("data") or spec.get("dataFrom"))
        keys = {d["remoteRef"]["key"] for d in spec.get("data", [])}
        assert keys <= {f"realty/production/{process}"}


@each_overlay
def test_every_pod_is_hardened(overlay: str) -> None:
    for name, workload in workloads(build(overlay)).items():
        pod = pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in containers(workload):
            context = container["securityContext"]
            where = f"{name}/{container['name']}"
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in context["capabilities"], where
            assert context.get("runAsUser", pod["securityContext"].get("runAsUser", 0)) >= 10000, (
                where
            )
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], f"{where}: a writable /tmp"
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) <= set(resources["limits"]), (
                where
            )
            assert container["imagePullPolicy"] == "Always", where
            assert ":" in container["image"] or "@" in container["image"], f"{where}: pinned"


@each_overlay
def test_probes_and_termination(overlay: str) -> None:
    deployments = of_kind(build(overlay), "Deployment")
    for name in PROCESSES:
        pod = pod_spec(deployments[name])
        container = main_container(deployments[name])
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert "startupProbe" in container
        pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep"
        settings = settings_of(name)
        longest = float(
            getattr(settings, "request_timeout_seconds", 30.0)
        )  # gateway: its subgraphs'
        grpc_drain = 5.0 if name != "gateway" else 0.0
        needed = int(pre_stop[1]) + longest + grpc_drain
        assert pod["terminationGracePeriodSeconds"] > needed, f"{name}: {needed} s to stop"
        zones = [
            t
            for t in pod["topologySpreadConstraints"]
            if t["topologyKey"] == "topology.kubernetes.io/zone"
        ]
        assert zones and zones[0]["labelSelector"]["matchLabels"]["app.kubernetes.io/name"] == name
        # Hard across production's three zones; soft in dev, whose nodes may have no zone.
        hard = "DoNotSchedule" if overlay == "production" else "ScheduleAnyway"
        assert zones[0]["whenUnsatisfiable"] == hard


def test_production_runs_several_replicas_with_autoscaling_and_budgets() -> None:
    docs = build("production")
    deployments = of_kind(docs, "Deployment")
    autoscalers = of_kind(docs, "HorizontalPodAutoscaler")
    budgets = of_kind(docs, "PodDisruptionBudget")
    for name in PROCESSES:
        # The autoscaler owns the count: a `replicas` applied on each deploy would scale
        # the process back down to it.
        assert "replicas" not in deployments[name]["spec"], name
        hpa = autoscalers[name]["spec"]
        assert hpa["scaleTargetRef"]["name"] == name
        assert 3 <= hpa["minReplicas"] < hpa["maxReplicas"], "one per zone at least"
        assert budgets[name]["spec"]["maxUnavailable"] == 1
        sa = of_kind(docs, "ServiceAccount")[name]
        assert re.fullmatch(
            rf"arn:aws:iam::\d{{12}}:role/realty-production-{name}",
            sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        )


def test_dev_runs_one_of_each_with_everything_in_the_cluster() -> None:
    docs = build("dev")
    deployments = workloads(docs)
    assert {"postgres", "nats", "redis", "moto", "mailpit", "chimesim"} <= set(deployments)
    assert all(w["spec"]["replicas"] == 1 for w in deployments.values())
    assert not of_kind(docs, "ExternalSecret") and not of_kind(docs, "HorizontalPodAutoscaler")
    assert not of_kind(docs, "Ingress")


@each_overlay
def test_each_grpc_party_mounts_its_certificate(overlay: str) -> None:
    docs = build(overlay)
    certificates = {
        c["spec"]["secretName"]: c["spec"] for c in of_kind(docs, "Certificate").values()
    }
    deployments = of_kind(docs, "Deployment")
    for name in SERVICES:
        settings = settings_of(name)
        serves = getattr(type(settings), "serves_grpc", True) and _has_rpc(name)
        calls = _grpc_peers(name)
        pod = pod_spec(deployments[name])
        secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        if not (serves or calls):
            assert not secrets & set(certificates), f"{name} needs no gRPC certificate"
            continue
        secret = f"{name}-grpc-tls"
        assert secret in secrets, name
        spec = certificates[secret]
        assert spec["uris"] == [f"spiffe://realtyforyou/{name}"]
        assert name in spec["dnsNames"] and {"server auth", "client auth"} <= set(spec["usages"])


def _has_rpc(name: str) -> bool:
    return (K8S.parents[1] / "services" / name / name / "rpc.py").is_file()


def _grpc_peers(name: str) -> set[str]:
    """The services `name` calls over gRPC: its settings' `<peer>_grpc` addresses."""
    if name == "gateway":
        return set()
    return {
        f.removesuffix("_grpc") for f in type(settings_of(name)).model_fields if f.endswith("_grpc")
    }


def _policy(docs: tuple[Doc, ...], name: str) -> Doc:
    spec: Doc = of_kind(docs, "NetworkPolicy")[name]["spec"]
    assert spec["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": name}
    return spec


def _peers(rules: list[Doc], key: str, port: int) -> set[str]:
    found: set[str] = set()
    for rule in rules:
        if not any(p["port"] == port for p in rule.get("ports", [])):
            continue
        for peer in rule[key]:
            labels = peer.get("podSelector", {}).get("matchLabels", {})
            if "app.kubernetes.io/name" in labels and "namespaceSelector" not in peer:
                found.add(labels["app.kubernetes.io/name"])
    return found


@each_overlay
def test_network_policies_allow_exactly_the_callers(overlay: str) -> None:
    docs = build(overlay)
    deny = of_kind(docs, "NetworkPolicy")["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    callers: dict[str, set[str]] = {n: set() for n in SERVICES}
    for name in SERVICES:
        for peer in _grpc_peers(name):
            callers[peer].add(name)
    for name in SERVICES:
        settings = settings_of(name)
        spec = _policy(docs, name)
        grpc_in = _peers(spec["ingress"], "from", settings.grpc_port)
        assert grpc_in == callers[name], f"{name}: gRPC from {grpc_in}, callers {callers[name]}"
        for peer in _grpc_peers(name):
            assert peer in _peers(spec["egress"], "to", settings_of(peer).grpc_port), (name, peer)
        http_in = _peers(spec["ingress"], "from", settings.http_port)
        expected = {"gateway"} | (
            {*SERVICES, "gateway"} - {"identity"} if name == "identity" else set()
        )
        assert http_in == expected, f"{name}: HTTP from {http_in}"
        if name != "identity":  # every service reads identity's signing keys
            assert "identity" in _peers(spec["egress"], "to", settings_of("identity").http_port)
    gateway = _policy(docs, "gateway")
    reached = {
        n for n in SERVICES if n in _peers(gateway["egress"], "to", settings_of(n).http_port)
    }
    assert reached == set(SERVICES), "the gateway reaches every subgraph"
    assert all("ipBlock" in p for p in gateway["ingress"][0]["from"]), "only the load balancer"


def test_production_reaches_rds_and_elasticache_in_the_private_subnets_only() -> None:
    policies = of_kind(build("production"), "NetworkPolicy")
    for name, port in (("postgres-clients", 5432), ("redis-clients", 6379)):
        [rule] = policies[name]["spec"]["egress"]
        assert [p["port"] for p in rule["ports"]] == [port]
        assert all(peer["ipBlock"]["cidr"].startswith("10.40.") for peer in rule["to"])
    [aws] = policies["aws-clients"]["spec"]["egress"]
    assert [p["port"] for p in aws["ports"]] == [443]
    assert "169.254.0.0/16" in aws["to"][0]["ipBlock"]["except"], "no instance metadata"
    deployments = of_kind(build("production"), "Deployment")
    labels = {n: deployments[n]["spec"]["template"]["metadata"]["labels"] for n in PROCESSES}
    assert "realty.io/postgres" not in labels["gateway"] and "realty.io/redis" in labels["gateway"]
    assert all(labels[n]["realty.io/postgres"] == "true" for n in SERVICES)


def test_the_load_balancer_terminates_tls_with_waf_and_outlasts_websocket_keepalive() -> None:
    [ingress] = of_kind(build("production"), "Ingress").values()
    notes = ingress["metadata"]["annotations"]
    prefix = "alb.ingress.kubernetes.io/"
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert notes[prefix + "certificate-arn"].startswith("arn:aws:acm:")
    assert notes[prefix + "ssl-policy"].startswith("ELBSecurityPolicy-TLS13")
    assert notes[prefix + "wafv2-acl-arn"].startswith("arn:aws:wafv2:")
    assert notes[prefix + "ssl-redirect"] == "443"
    attributes = dict(
        a.split("=", 1) for a in notes[prefix + "load-balancer-attributes"].split(",")
    )
    assert attributes["routing.http2.enabled"] == "true"
    idle = int(attributes["idle_timeout.timeout_seconds"])
    gateway = settings_of("gateway")
    # uvicorn pings a WebSocket every 20 s (its default, which the gateway keeps); a
    # request may run for a service's whole deadline.
    assert idle > 20 and idle > settings_of("identity").request_timeout_seconds
    assert idle > gateway.ws_reverify_seconds
    # The balancer must close an idle connection before its targets do (else a 502).
    assert idle < gateway.keep_alive_seconds
    assert idle < HTTP_KEEP_ALIVE_SECONDS
    assert notes[prefix + "healthcheck-path"] == "/readyz"
    backends = {
        path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {"gateway", "listings", "scheduling"}
    [namespace] = of_kind(build("production"), "Namespace").values()
    labels = namespace["metadata"]["labels"]
    assert labels["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled", (
        "rollouts wait for the ALB"
    )
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_nats_values_make_a_three_node_jetstream_cluster() -> None:
    values = yaml.safe_load((K8S / "production" / "nats-values.yaml").read_text())
    assert values["config"]["cluster"] == {"enabled": True, "port": 6222, "replicas": 3}
    assert values["config"]["jetstream"]["enabled"] is True
    assert values["config"]["jetstream"]["fileStore"]["pvc"]["enabled"] is True
    assert "topology.kubernetes.io/zone" in values["podTemplate"]["topologySpreadConstraints"]
    [shared] = [
        c
        for n, c in of_kind(build("production"), "ConfigMap").items()
        if n.startswith("realty-shared")
    ]
    assert shared["data"]["NATS_STREAM_REPLICAS"] == "3"
    assert shared["data"]["NATS_URL"] == f"nats://{values['fullnameOverride']}:4222"


def test_production_names_the_aws_resources_terraform_makes() -> None:
    terraform = K8S.parent / "terraform"
    if not terraform.is_dir():
        pytest.skip("deploy/terraform is not there")
    text = "\n".join(p.read_text() for p in sorted(terraform.glob("*.tf")))
    text = text.replace("${local.name}", "realty-production").replace(
        "${var.environment}", "production"
    )
    named = {
        "listings": ("LISTINGS_PHOTOS_BUCKET", "LISTINGS_KMS_KEY_ALIAS"),
        "media": ("MEDIA_RECORDINGS_BUCKET", "MEDIA_EVENTS_QUEUE_NAME"),
    }
    config_maps = of_kind(build("production"), "ConfigMap")
    for process, variables in named.items():
        data = config_maps[f"{process}-config"]["data"]
        for variable in variables:
            assert f'"{data[variable]}"' in text, f"{variable}={data[variable]} not in terraform"
    sink = config_maps["media-config"]["data"]["MEDIA_RECORDINGS_SINK_ROLE_ARN"]
    assert f'"{sink.rsplit("/", 1)[1]}"' in text
    # The secrets terraform generates are the keys each process's ExternalSecret copies.
    block = re.search(r"generated_secrets\s*=\s*\{(.*?)\n\s*\}\n", text, re.S)
    assert block, "terraform's generated_secrets"
    generated = re.findall(r"^\s*(\w+)\s*=\s*\{\s*([A-Z][A-Z0-9_]+)\s*=", block.group(1), re.M)
    assert generated, "terraform's generated_secrets"
    externals = of_kind(build("production"), "ExternalSecret")
    for process, key in generated:
        keys = {d["secretKey"] for d in externals[f"{process}-secrets"]["spec"]["data"]}
        assert key in keys, f"{process}: {key}"

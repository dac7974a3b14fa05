"""The Kubernetes manifests (deploy/k8s) validate offline and hold together.

kubernetes-validate ships the API schemas in its wheel, so validation needs no network. Beyond the schemas,
each check below is a function returning the problems it finds: every service has a Deployment with several
replicas, probes on /healthz and /readyz, resource requests, a Service, an HPA and a PDB that select its pods;
every referenced ConfigMap, Secret and key exists; the environment variables are settings the services read;
no HPA can scale a service beyond the partitions of the pipeline topics it consumes (read from the AsyncAPI
documents; the low-volume retry topics are left out on purpose, see docs/operations.md). The last test feeds
each check a broken copy to show that it can fail.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from eligibility.settings import EligibilitySettings
from notifications.settings import NotificationsSettings
from payments.settings import PaymentsSettings
from registration.settings import RegistrationSettings
from subsidy_contracts.topics import ALL_TOPICS
from subsidy_runtime.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
ASYNCAPI = ROOT / "docs" / "asyncapi"
KUBERNETES_VERSION = "1.31.0"
APP_SERVICES = ("registration", "eligibility", "payments", "notifications")
SETTINGS: dict[str, type[ServiceSettings]] = {
    "registration": RegistrationSettings,
    "eligibility": EligibilitySettings,
    "payments": PaymentsSettings,
    "notifications": NotificationsSettings,
}
Docs = list[dict[str, Any]]
Problems = list[str]


def load_manifests() -> Docs:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    docs: Docs = []
    for name in kustomization["resources"]:
        docs.extend(d for d in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")) if d)
    return docs


def find(docs: Docs, kind: str, name: str | None = None) -> Docs:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    return dict(deployment["spec"]["template"]["metadata"]["labels"])


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def consumed_topics(service: str) -> set[str]:
    doc = json.loads((ASYNCAPI / f"{service}.json").read_text(encoding="utf-8"))
    addresses = {key: channel["address"] for key, channel in doc["channels"].items()}
    return {
        addresses[op["channel"]["$ref"].split("/")[-1]]
        for op in doc["operations"].values()
        if op["action"] == "receive"
    }


# ------------------------------------------------------------------------------------------------ checks
def check_schemas(docs: Docs) -> Problems:
    problems = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(
                f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}: {exc.message} at {list(exc.path)}"
            )
    return problems


def check_deployments(docs: Docs) -> Problems:
    problems = []
    for svc in APP_SERVICES:
        deployments = find(docs, "Deployment", svc)
        if len(deployments) != 1:
            problems.append(f"{svc}: {len(deployments)} Deployments")
            continue
        d = deployments[0]
        spec = d["spec"]
        if spec.get("replicas", 1) < 2:
            problems.append(f"{svc}: {spec.get('replicas', 1)} replica(s), not several")
        if not selects(spec["selector"]["matchLabels"], pod_labels(d)):
            problems.append(f"{svc}: the Deployment's selector does not match its pods")
        c = container(d)
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            got = (c.get(probe) or {}).get("httpGet", {}).get("path")
            if got != path:
                problems.append(f"{svc}: {probe} on {got!r}, not {path}")
        requests = (c.get("resources") or {}).get("requests") or {}
        if not {"cpu", "memory"} <= set(requests):
            problems.append(f"{svc}: resource requests {requests}")
        if not (c.get("resources") or {}).get("limits", {}).get("memory"):
            problems.append(f"{svc}: no memory limit")
        if c.get("args", [])[:2] != ["subsidy_runtime.serve", f"{svc}.app:app"]:
            problems.append(f"{svc}: runs {c.get('args')}")
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
        if ports.get("http") != 8080:
            problems.append(f"{svc}: container port http is {ports.get('http')}, the services listen on 8080")
    return problems


def check_companions(docs: Docs) -> Problems:
    """A Service, an HPA (minReplicas >= 2, targeting the Deployment) and a PDB for every service."""
    problems = []
    for svc in APP_SERVICES:
        deployment = next(iter(find(docs, "Deployment", svc)), None)
        if deployment is None:
            continue
        labels = pod_labels(deployment)
        services = [s for s in find(docs, "Service") if selects(s["spec"].get("selector") or {}, labels)]
        if not services:
            problems.append(f"{svc}: no Service selects its pods")
        elif any(p.get("targetPort") not in ("http", 8080) for s in services for p in s["spec"]["ports"]):
            problems.append(f"{svc}: a Service port does not target the container's http port")
        hpas = [h for h in find(docs, "HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == svc]
        if len(hpas) != 1 or hpas[0]["spec"]["scaleTargetRef"]["kind"] != "Deployment":
            problems.append(f"{svc}: {len(hpas)} HPAs target its Deployment")
        elif hpas[0]["spec"].get("minReplicas", 1) < 2:
            problems.append(f"{svc}: the HPA may scale down to {hpas[0]['spec'].get('minReplicas', 1)} replica")
        pdbs = [p for p in find(docs, "PodDisruptionBudget") if selects(p["spec"]["selector"]["matchLabels"], labels)]
        if len(pdbs) != 1:
            problems.append(f"{svc}: {len(pdbs)} PodDisruptionBudgets select its pods")
    return problems


def check_partitions(docs: Docs) -> Problems:
    """A replica beyond a topic's partition count would get none of it: the HPA maximum must fit."""
    partitions = {t.name: t.partitions for t in ALL_TOPICS}
    problems = []
    for hpa in find(docs, "HorizontalPodAutoscaler"):
        svc = hpa["spec"]["scaleTargetRef"]["name"]
        for topic in sorted(consumed_topics(svc)):
            if topic.endswith(".retry.v1"):
                continue  # low volume by design: extra replicas simply own no retry partition
            if topic not in partitions:
                problems.append(f"{svc} consumes {topic}, which is not in the topic registry")
            elif hpa["spec"]["maxReplicas"] > partitions[topic]:
                problems.append(
                    f"{svc}: HPA maxReplicas {hpa['spec']['maxReplicas']} > {partitions[topic]} partitions of {topic}"
                )
    return problems


def check_references(docs: Docs) -> Problems:
    """Every ConfigMap, Secret and key a pod refers to exists; every variable is a setting the service reads."""
    data: dict[tuple[str, str], set[str]] = {}
    for kind in ("ConfigMap", "Secret"):
        for d in find(docs, kind):
            data[(kind, d["metadata"]["name"])] = set(d.get("data") or {}) | set(d.get("stringData") or {})
    problems = []
    for workload in find(docs, "Deployment") + find(docs, "Job"):
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        for volume in pod.get("volumes") or []:
            if "secret" in volume and ("Secret", volume["secret"]["secretName"]) not in data:
                problems.append(f"{name}: volume from missing Secret {volume['secret']['secretName']}")
        for c in pod["containers"]:
            names: set[str] = set()
            for source in c.get("envFrom") or []:
                kind, ref = (
                    ("ConfigMap", source["configMapRef"])
                    if "configMapRef" in source
                    else ("Secret", source["secretRef"])
                )
                if (kind, ref["name"]) not in data:
                    problems.append(f"{name}: envFrom missing {kind} {ref['name']}")
                names |= data.get((kind, ref["name"]), set())
            for var in c.get("env") or []:
                names.add(var["name"])
                ref_from = var.get("valueFrom") or {}
                for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    if key in ref_from:
                        ref = ref_from[key]
                        if ref["key"] not in data.get((kind, ref["name"]), set()):
                            problems.append(f"{name}: {var['name']} from missing {kind} key {ref['name']}/{ref['key']}")
            if workload["kind"] == "Deployment" and name in SETTINGS:
                read = {f.upper() for f in SETTINGS[name].model_fields}
                required = {"SERVICE_NAME", "DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "HTTP_HOST", "HTTP_PORT"}
                if name == "notifications":
                    required.add("SMS_GATEWAY_URL")
                if required - names:
                    problems.append(f"{name}: missing environment {sorted(required - names)}")
                unread = names - read - {"SMS_GATEWAY_URL"}
                if unread:
                    problems.append(f"{name}: sets {sorted(unread)}, which its settings do not read")
    return problems


CHECKS: dict[str, Callable[[Docs], Problems]] = {
    "schemas": check_schemas,
    "deployments": check_deployments,
    "companions": check_companions,
    "partitions": check_partitions,
    "references": check_references,
}


@pytest.fixture(scope="module")
def manifests() -> Docs:
    return load_manifests()


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_manifests(manifests: Docs, check: str) -> None:
    assert CHECKS[check](manifests) == []


def test_validation_uses_only_the_bundled_schemas(manifests: Docs, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline: any attempt to open a socket during validation fails the test."""
    import socket

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("kubernetes-validate tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert check_schemas(manifests) == []
    assert {d["kind"] for d in manifests} >= {
        "Namespace", "ConfigMap", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job",
    }  # fmt: skip


def _mutate(docs: Docs, kind: str, name: str, change: Callable[[dict[str, Any]], None]) -> Docs:
    broken = copy.deepcopy(docs)
    change(find(broken, kind, name)[0])
    return broken


MUTATIONS: list[tuple[str, str, str, Callable[[dict[str, Any]], None]]] = [
    ("schemas", "Deployment", "eligibility", lambda d: d["spec"].__setitem__("replicas", "three")),
    ("schemas", "Service", "payments", lambda d: d["spec"].__setitem__("portz", [])),
    ("deployments", "Deployment", "payments", lambda d: d["spec"].__setitem__("replicas", 1)),
    (
        "deployments",
        "Deployment",
        "registration",
        lambda d: d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"].__setitem__("path", "/"),
    ),
    (
        "companions",
        "PodDisruptionBudget",
        "notifications",
        lambda d: d["spec"]["selector"].__setitem__("matchLabels", {"x": "y"}),
    ),
    ("partitions", "HorizontalPodAutoscaler", "payments", lambda d: d["spec"].__setitem__("maxReplicas", 24)),
    (
        "references",
        "Deployment",
        "eligibility",
        lambda d: d["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "DATABSE_URL", "value": "x"}),
    ),
]


@pytest.mark.parametrize(
    ("check", "kind", "name", "change"), MUTATIONS, ids=[f"{m[0]}-{m[1]}-{m[2]}" for m in MUTATIONS]
)
def test_each_check_detects_a_mutation(
    manifests: Docs, check: str, kind: str, name: str, change: Callable[[dict[str, Any]], None]
) -> None:
    assert CHECKS[check](_mutate(manifests, kind, name, change)) != []

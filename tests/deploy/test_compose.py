"""docker-compose.yml stays consistent with the local stack (deploy/local/stack.sh and env.sh).

Docker may not run where the tests run, so compose is checked structurally: the same services, the same
environment variable names the services read, one database role per service, the Kafka version of
deploy/local/kafka/pom.xml with automatic topic creation off, topics from the one registry, health checks on
/readyz, Prometheus scraping the four services, and the developer stack's host ports.

Every check is a function returning the problems it found; the tests assert there are none, and
`test_each_check_detects_a_mutation` feeds each one a broken copy of the file to show that it can fail.
"""

from __future__ import annotations

import copy
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from eligibility.settings import EligibilitySettings
from notifications.settings import NotificationsSettings
from payments.settings import PaymentsSettings
from registration.settings import RegistrationSettings
from subsidy_runtime.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
STACK_SH = ROOT / "deploy" / "local" / "stack.sh"
ENV_SH = ROOT / "deploy" / "local" / "env.sh"
KAFKA_POM = ROOT / "deploy" / "local" / "kafka" / "pom.xml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.compose.yml"
GRAFANA_PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
GRAFANA_DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"

APP_SERVICES = ("registration", "eligibility", "payments", "notifications")
INFRA_SERVICES = ("kafka", "postgres", "provision", "topics", "sms-gateway", "smtp-server", "prometheus", "grafana")
ONE_SHOT_JOBS = ("provision", "topics")
APP_CONTAINER_PORT = 8080
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - what a container must listen on; this only compares strings
SETTINGS: dict[str, type[ServiceSettings]] = {
    "registration": RegistrationSettings,
    "eligibility": EligibilitySettings,
    "payments": PaymentsSettings,
    "notifications": NotificationsSettings,
}

# What every service needs in both stacks; notifications also needs the gateway's address.
CORE_ENV = frozenset({"SERVICE_NAME", "KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "HTTP_PORT", "LOG_LEVEL"})
EXTRA_REQUIRED_ENV = {"notifications": frozenset({"SMS_GATEWAY_URL"})}
# Set in containers but not by stack.sh: a container must listen on every interface, while the local stack
# relies on the settings' 127.0.0.1 default. Still a setting the services read (checked below).
CONTAINER_ONLY_ENV = frozenset({"HTTP_HOST"})

# Host ports: compose service -> the env.sh variable that names the developer stack's port.
HOST_PORT_VARIABLES = {
    "registration": "REGISTRATION_HTTP_PORT",
    "eligibility": "ELIGIBILITY_HTTP_PORT",
    "payments": "PAYMENTS_HTTP_PORT",
    "notifications": "NOTIFICATIONS_HTTP_PORT",
    "sms-gateway": "SMS_GATEWAY_PORT",
    "smtp-server": "SMTP_PORT",
    "kafka": "KAFKA_PORT",
    "postgres": "PG_PORT",
    "prometheus": "PROMETHEUS_PORT",
}

_DEFAULTED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):-([^}]*)\}")
_PORT_MAPPING = re.compile(r"^\$\{([A-Z_][A-Z0-9_]*):-(\d+)\}:(\d+)$")


# --------------------------------------------------------------------------------------------- readers
def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def local_service_env_names(stack_sh: str) -> frozenset[str]:
    """The KEY names `service_env()` in stack.sh prints as KEY=VALUE."""
    body = re.search(r"^service_env\(\)\s*\{(.*?)^\}", stack_sh, re.MULTILINE | re.DOTALL)
    assert body is not None, "service_env() not found in stack.sh"
    return frozenset(re.findall(r"""echo\s+["']?([A-Z_][A-Z0-9_]*)=""", body.group(1)))


def env_sh_dev_ports(env_sh: str) -> dict[str, int]:
    """Each `X_PORT="${X_PORT:-$((N + _port_base * M))}"` of env.sh, as its developer-stack value N."""
    pattern = re.compile(
        r"""^([A-Z_][A-Z0-9_]*_PORT)="\$\{\1:-\$\(\((\d+)\s*\+\s*_port_base(?:\s*\*\s*\d+)?\)\)\}"$""",
        re.MULTILINE,
    )
    return {name: int(value) for name, value in pattern.findall(env_sh)}


def env_sh_services(env_sh: str) -> list[str]:
    match = re.search(r'^SERVICES="([^"]*)"$', env_sh, re.MULTILINE)
    assert match is not None, "SERVICES= not found in env.sh"
    return match.group(1).split()


def pom_kafka_version(pom: str) -> str:
    match = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", pom)
    assert match is not None, "<kafka.version> not found in the pom"
    return match.group(1)


def with_defaults(value: str) -> str:
    """A compose value as it is when no variable is set: ${X:-d} -> d, $$ -> $."""
    return _DEFAULTED.sub(lambda m: m.group(2), value).replace("$$", "$")


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (str(item).partition("=") for item in env)
        return {key: value for key, _, value in pairs}
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


def healthcheck_text(service: dict[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test") or []
    return test if isinstance(test, str) else " ".join(str(part) for part in test)


def option(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


# ---------------------------------------------------------------------------------------------- checks
Problems = list[str]


def check_services_defined(compose: dict[str, Any]) -> Problems:
    services = compose.get("services") or {}
    return [f"service {name!r} is missing" for name in (*INFRA_SERVICES, *APP_SERVICES) if name not in services]


def check_app_commands(compose: dict[str, Any]) -> Problems:
    problems = []
    for svc in APP_SERVICES:
        service = compose["services"].get(svc, {})
        expected = [
            "subsidy_runtime.serve",
            f"{svc}.app:app",
            "--host",
            ALL_INTERFACES,
            "--port",
            str(APP_CONTAINER_PORT),
        ]
        if command(service) != expected:
            problems.append(f"{svc}: command {command(service)} is not {expected}")
        if not (ROOT / "services" / svc / svc / "app.py").is_file():
            problems.append(f"{svc}: services/{svc}/{svc}/app.py does not exist")
        if (service.get("build") or {}).get("context") != ".":
            problems.append(f"{svc}: not built from the repository's Dockerfile (build.context '.')")
    return problems


def check_env_names(compose: dict[str, Any], local_names: frozenset[str]) -> Problems:
    """Compose passes no name the local stack does not (but HTTP_HOST), and every core name it passes."""
    problems = []
    for svc in APP_SERVICES:
        names = set(environment(compose["services"].get(svc, {})))
        unknown = names - local_names - CONTAINER_ONLY_ENV
        if unknown:
            problems.append(f"{svc}: {sorted(unknown)} not set by stack.sh service_env()")
        required = (CORE_ENV | EXTRA_REQUIRED_ENV.get(svc, frozenset())) & local_names
        missing = required - names
        if missing:
            problems.append(f"{svc}: {sorted(missing)} set by stack.sh but not by compose")
    return problems


def check_env_names_are_settings(compose: dict[str, Any]) -> Problems:
    """Every variable compose gives a service is a setting that service reads, and SERVICE_NAME is its name."""
    problems = []
    for svc in APP_SERVICES:
        env = environment(compose["services"].get(svc, {}))
        fields = {name.upper() for name in SETTINGS[svc].model_fields}
        unread = set(env) - fields
        if unread:
            problems.append(f"{svc}: {sorted(unread)} are not settings of {SETTINGS[svc].__name__}")
        if env.get("SERVICE_NAME") != svc:
            problems.append(f"{svc}: SERVICE_NAME is {env.get('SERVICE_NAME')!r}")
        if env.get("HTTP_PORT") != str(APP_CONTAINER_PORT):
            problems.append(f"{svc}: HTTP_PORT is {env.get('HTTP_PORT')!r}, the command says {APP_CONTAINER_PORT}")
    return problems


def check_database_urls(compose: dict[str, Any]) -> Problems:
    """One login role per service, with the password the provision job gives that role."""
    problems = []
    provision = compose["services"].get("provision", {})
    provision_env = environment(provision)
    database = option(command(provision), "--database")
    for svc in APP_SERVICES:
        raw = environment(compose["services"].get(svc, {})).get("DATABASE_URL", "")
        url = urlsplit(with_defaults(raw))
        if url.scheme not in ("postgresql", "postgres"):
            problems.append(f"{svc}: DATABASE_URL {raw!r} is not a PostgreSQL DSN")
            continue
        if url.username != svc:
            problems.append(f"{svc}: DATABASE_URL logs in as {url.username!r}, not as its own role {svc!r}")
        if url.password != f"{svc}_local":
            problems.append(f"{svc}: DATABASE_URL's default password is {url.password!r}, not '{svc}_local'")
        password_var = f"{svc.upper()}_DB_PASSWORD"
        raw_password = raw.split("://", 1)[-1].split("@", 1)[0].split(":", 1)[-1]
        if raw_password != provision_env.get(password_var):
            problems.append(
                f"{svc}: DATABASE_URL password {raw_password!r} differs from the provision job's "
                f"{password_var}={provision_env.get(password_var)!r}"
            )
        if url.hostname != "postgres" or url.port != 5432:
            problems.append(f"{svc}: DATABASE_URL points at {url.hostname}:{url.port}, not postgres:5432")
        if url.path.lstrip("/") != database:
            problems.append(f"{svc}: DATABASE_URL database {url.path!r} is not the provisioned {database!r}")
    return problems


def check_provision_job(compose: dict[str, Any], local_services: list[str]) -> Problems:
    problems = []
    args = command(compose["services"].get("provision", {}))
    if args[:1] != ["subsidy_runtime.provision"]:
        problems.append(f"provision runs {args[:1]}, not subsidy_runtime.provision")
    services = (option(args, "--services") or "").split()
    if services != local_services:
        problems.append(f"provision --services {services} differs from env.sh SERVICES {local_services}")
    admin_url = urlsplit(with_defaults(option(args, "--admin-url") or ""))
    if admin_url.hostname != "postgres":
        problems.append(f"provision --admin-url host is {admin_url.hostname!r}, not postgres")
    return problems


def check_kafka(compose: dict[str, Any], kafka_version: str) -> Problems:
    problems = []
    kafka = compose["services"].get("kafka", {})
    if kafka.get("image") != f"apache/kafka:{kafka_version}":
        problems.append(f"kafka image {kafka.get('image')!r} is not apache/kafka:{kafka_version} (pom.xml)")
    env = environment(kafka)
    if env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "").lower() != "false":
        problems.append("kafka: KAFKA_AUTO_CREATE_TOPICS_ENABLE must be 'false' (topics come from the registry)")
    if "broker" not in env.get("KAFKA_PROCESS_ROLES", "") or "controller" not in env.get("KAFKA_PROCESS_ROLES", ""):
        problems.append("kafka: not a single KRaft node (KAFKA_PROCESS_ROLES broker,controller)")
    if not env.get("CLUSTER_ID"):
        problems.append("kafka: the apache/kafka image needs CLUSTER_ID in KRaft mode")
    if "PLAINTEXT://kafka:9092" not in env.get("KAFKA_ADVERTISED_LISTENERS", ""):
        problems.append("kafka: containers reach the broker as kafka:9092, which is not advertised")
    if not healthcheck_text(kafka):
        problems.append("kafka: no healthcheck")
    for svc in APP_SERVICES:
        bootstrap = environment(compose["services"].get(svc, {})).get("KAFKA_BOOTSTRAP_SERVERS")
        if bootstrap != "kafka:9092":
            problems.append(f"{svc}: KAFKA_BOOTSTRAP_SERVERS is {bootstrap!r}, not kafka:9092")
    return problems


def check_topics_job(compose: dict[str, Any]) -> Problems:
    problems = []
    args = command(compose["services"].get("topics", {}))
    if args[:2] != ["subsidy_contracts.admin", "ensure-topics"]:
        problems.append(f"topics job runs {args[:2]}, not subsidy_contracts.admin ensure-topics (the registry)")
    if option(args, "--bootstrap") != "kafka:9092":
        problems.append(f"topics job --bootstrap is {option(args, '--bootstrap')!r}, not kafka:9092")
    return problems


def check_depends_on(compose: dict[str, Any]) -> Problems:
    problems = []
    services: dict[str, Any] = compose.get("services") or {}
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            problems.append(f"{name}: depends_on without conditions")
            depends = {target: {} for target in depends}
        for target, spec in depends.items():
            condition = (spec or {}).get("condition")
            if target not in services:
                problems.append(f"{name}: depends on {target!r}, which is not defined")
                continue
            if condition == "service_healthy" and not healthcheck_text(services[target]):
                problems.append(f"{name}: waits for {target} to be healthy, but {target} has no healthcheck")
            if condition == "service_completed_successfully" and target not in ONE_SHOT_JOBS:
                problems.append(f"{name}: waits for {target} to complete, but it is not a one-shot job")
            if condition not in ("service_started", "service_healthy", "service_completed_successfully"):
                problems.append(f"{name}: depends on {target} with condition {condition!r}")
    expected = {
        "kafka": "service_healthy",
        "postgres": "service_healthy",
        "provision": "service_completed_successfully",
        "topics": "service_completed_successfully",
    }
    for svc in APP_SERVICES:
        depends = services.get(svc, {}).get("depends_on") or {}
        for target, condition in expected.items():
            if not isinstance(depends, dict) or (depends.get(target) or {}).get("condition") != condition:
                problems.append(f"{svc}: must depend on {target} with condition {condition}")
    notifications = services.get("notifications", {}).get("depends_on") or {}
    if (notifications.get("sms-gateway") or {}).get("condition") != "service_healthy":
        problems.append("notifications: must wait for a healthy sms-gateway")
    for job in ONE_SHOT_JOBS:
        if services.get(job, {}).get("restart", "no") not in ("no", False):
            problems.append(f"{job}: a one-shot job must not restart")
    return problems


def check_readyz_healthchecks(compose: dict[str, Any]) -> Problems:
    problems = []
    for svc in APP_SERVICES:
        text = healthcheck_text(compose["services"].get(svc, {}))
        if f":{APP_CONTAINER_PORT}/readyz" not in text:
            problems.append(f"{svc}: healthcheck {text!r} does not probe /readyz on port {APP_CONTAINER_PORT}")
    return problems


def check_sms_gateway(compose: dict[str, Any]) -> Problems:
    problems = []
    gateway = compose["services"].get("sms-gateway", {})
    args = command(gateway)
    if "deploy.local.simulators.sms_gateway:app" not in args:
        problems.append(f"sms-gateway does not run the simulator: {args}")
    port = option(args, "--port")
    url = environment(compose["services"].get("notifications", {})).get("SMS_GATEWAY_URL", "")
    if url != f"http://sms-gateway:{port}":
        problems.append(f"notifications: SMS_GATEWAY_URL {url!r} is not http://sms-gateway:{port}")
    if "/healthz" not in healthcheck_text(gateway):
        problems.append("sms-gateway: healthcheck does not probe /healthz")
    return problems


def check_host_ports(compose: dict[str, Any], dev_ports: dict[str, int]) -> Problems:
    """Host ports are env.sh's variables with the developer stack's defaults; container ports are the served ones."""
    problems = []
    for name, variable in HOST_PORT_VARIABLES.items():
        service = compose["services"].get(name, {})
        mappings = [_PORT_MAPPING.match(str(p)) for p in service.get("ports") or []]
        found = [m for m in mappings if m is not None]
        if len(found) != 1:
            problems.append(f"{name}: expected one port mapping '${{{variable}:-N}}:PORT', got {service.get('ports')}")
            continue
        var, default, container = found[0].group(1), int(found[0].group(2)), int(found[0].group(3))
        if var != variable:
            problems.append(f"{name}: host port variable {var} is not env.sh's {variable}")
        if default != dev_ports.get(variable):
            problems.append(f"{name}: host port {default} differs from env.sh's dev default {dev_ports.get(variable)}")
        served = APP_CONTAINER_PORT if name in APP_SERVICES else None
        if name == "sms-gateway":
            served = int(option(command(service), "--port") or 0)
        if served is not None and container != served:
            problems.append(f"{name}: maps to container port {container}, but listens on {served}")
    return problems


def check_prometheus(compose: dict[str, Any], config: dict[str, Any]) -> Problems:
    problems = []
    prometheus = compose["services"].get("prometheus", {})
    mounts = [str(v) for v in prometheus.get("volumes") or []]
    if "./deploy/prometheus/prometheus.compose.yml:/etc/prometheus/prometheus.yml:ro" not in mounts:
        problems.append(f"prometheus does not mount deploy/prometheus/prometheus.compose.yml: {mounts}")
    if not str(prometheus.get("image", "")).startswith("prom/prometheus:"):
        problems.append(f"prometheus image is {prometheus.get('image')!r}")
    jobs = {str(job.get("job_name")): job for job in config.get("scrape_configs") or []}
    if sorted(jobs) != sorted(APP_SERVICES):
        problems.append(f"prometheus scrapes {sorted(jobs)}, not exactly {sorted(APP_SERVICES)}")
    default_interval = (config.get("global") or {}).get("scrape_interval", "1m")
    for name, job in jobs.items():
        targets = [t for sc in job.get("static_configs") or [] for t in sc.get("targets") or []]
        if targets != [f"{name}:{APP_CONTAINER_PORT}"]:
            problems.append(f"prometheus job {name}: targets {targets}, not ['{name}:{APP_CONTAINER_PORT}']")
        if job.get("metrics_path", "/metrics") != "/metrics":
            problems.append(f"prometheus job {name}: metrics_path {job.get('metrics_path')!r}")
        if job.get("scrape_interval", default_interval) != "5s":
            problems.append(f"prometheus job {name}: scrape interval is not 5s")
    return problems


def check_grafana(compose: dict[str, Any], dashboards_provider: dict[str, Any]) -> Problems:
    problems = []
    grafana = compose["services"].get("grafana", {})
    if not str(grafana.get("image", "")).startswith("grafana/grafana:"):
        problems.append(f"grafana image is {grafana.get('image')!r}")
    mounts = [str(v) for v in grafana.get("volumes") or []]
    for mount in (
        "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro",
        "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro",
    ):
        if mount not in mounts:
            problems.append(f"grafana does not mount {mount}")
    paths = [(p.get("options") or {}).get("path") for p in dashboards_provider.get("providers") or []]
    if paths != ["/var/lib/grafana/dashboards"]:
        problems.append(f"grafana dashboard provider reads {paths}, not the mounted /var/lib/grafana/dashboards")
    return problems


def check_dockerfile(dockerfile: str, dockerignore: str) -> Problems:
    problems = []
    if not re.search(r"^FROM python:3\.11-slim-bookworm\b", dockerfile, re.MULTILINE):
        problems.append("Dockerfile: base image is not python:3.11-slim-bookworm")
    if '"uv==0.13.8"' not in dockerfile:
        problems.append("Dockerfile: uv is not pinned to 0.13.8 (the local stack's version)")
    if not re.search(r"^RUN uv sync --locked --no-dev(?! --no-install-workspace)", dockerfile, re.MULTILINE):
        problems.append("Dockerfile: the workspace is not installed with `uv sync --locked --no-dev`")
    if 'ENTRYPOINT ["/app/.venv/bin/python", "-m"]' not in dockerfile:
        problems.append("Dockerfile: ENTRYPOINT is not the environment's `python -m`")
    user = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    if not user or user[-1].split(":")[0] in ("root", "0"):
        problems.append("Dockerfile: the image does not run as a non-root user")
    ignored = {line.strip() for line in dockerignore.splitlines() if line.strip() and not line.startswith("#")}
    for entry in (".cache", ".run", ".venv", ".git"):
        if entry not in ignored:
            problems.append(f".dockerignore does not exclude {entry}")
    if not ignored & {"__pycache__", "**/__pycache__"}:
        problems.append(".dockerignore does not exclude __pycache__")
    return problems


# ----------------------------------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def local_names() -> frozenset[str]:
    names = local_service_env_names(STACK_SH.read_text(encoding="utf-8"))
    assert names >= CORE_ENV, f"stack.sh service_env() was not parsed as expected: {sorted(names)}"
    return names


@pytest.fixture(scope="module")
def dev_ports() -> dict[str, int]:
    ports = env_sh_dev_ports(ENV_SH.read_text(encoding="utf-8"))
    assert set(HOST_PORT_VARIABLES.values()) <= set(ports), f"env.sh ports were not parsed: {ports}"
    return ports


@pytest.fixture(scope="module")
def kafka_version() -> str:
    return pom_kafka_version(KAFKA_POM.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def prometheus_config() -> dict[str, Any]:
    data = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def dashboards_provider() -> dict[str, Any]:
    data = yaml.safe_load((GRAFANA_PROVISIONING / "dashboards" / "dashboards.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_readers_parse_the_local_scripts(dev_ports: dict[str, int], kafka_version: str) -> None:
    assert dev_ports["REGISTRATION_HTTP_PORT"] == 8081
    assert dev_ports["NOTIFICATIONS_HTTP_PORT"] == 8084
    assert dev_ports["SMS_GATEWAY_PORT"] == 8090
    assert dev_ports["PG_PORT"] == 55432
    assert re.fullmatch(r"\d+\.\d+\.\d+", kafka_version)
    assert env_sh_services(ENV_SH.read_text(encoding="utf-8")) == list(APP_SERVICES)
    assert with_defaults("a${X:-b}c$$d") == "abc$d"


def test_services_are_defined(compose: dict[str, Any]) -> None:
    assert check_services_defined(compose) == []
    assert check_app_commands(compose) == []


def test_environment_names_match_the_local_stack(compose: dict[str, Any], local_names: frozenset[str]) -> None:
    assert check_env_names(compose, local_names) == []
    assert check_env_names_are_settings(compose) == []


def test_each_service_logs_in_as_its_own_role(compose: dict[str, Any]) -> None:
    assert check_database_urls(compose) == []
    assert check_provision_job(compose, env_sh_services(ENV_SH.read_text(encoding="utf-8"))) == []


def test_kafka_is_the_local_version_without_automatic_topics(compose: dict[str, Any], kafka_version: str) -> None:
    assert check_kafka(compose, kafka_version) == []


def test_topics_come_from_the_registry(compose: dict[str, Any]) -> None:
    assert check_topics_job(compose) == []


def test_dependencies_exist_and_wait_for_the_right_state(compose: dict[str, Any]) -> None:
    assert check_depends_on(compose) == []


def test_application_healthchecks_probe_readyz(compose: dict[str, Any]) -> None:
    assert check_readyz_healthchecks(compose) == []
    assert check_sms_gateway(compose) == []


def test_host_ports_are_the_developer_stack_ports(compose: dict[str, Any], dev_ports: dict[str, int]) -> None:
    assert check_host_ports(compose, dev_ports) == []


def test_prometheus_scrapes_the_four_services(compose: dict[str, Any], prometheus_config: dict[str, Any]) -> None:
    assert check_prometheus(compose, prometheus_config) == []


def test_grafana_is_provisioned(compose: dict[str, Any], dashboards_provider: dict[str, Any]) -> None:
    assert check_grafana(compose, dashboards_provider) == []
    datasources = yaml.safe_load((GRAFANA_PROVISIONING / "datasources" / "prometheus.yml").read_text(encoding="utf-8"))
    assert [d["url"] for d in datasources["datasources"]] == ["http://prometheus:9090"]
    assert GRAFANA_DASHBOARDS.is_dir()


def test_the_image_is_the_locked_environment() -> None:
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    assert check_dockerfile(dockerfile, DOCKERIGNORE.read_text(encoding="utf-8")) == []


# ------------------------------------------------------------------------------------- negative tests
def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation setting compose[path] (dot-separated keys) to value; None deletes the key."""

    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value

    return mutate


_LOCAL_NAMES = local_service_env_names(STACK_SH.read_text(encoding="utf-8"))
_DEV_PORTS = env_sh_dev_ports(ENV_SH.read_text(encoding="utf-8"))
_LOCAL_SERVICES = env_sh_services(ENV_SH.read_text(encoding="utf-8"))
_KAFKA_VERSION = pom_kafka_version(KAFKA_POM.read_text(encoding="utf-8"))
_PROMETHEUS = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
_DASHBOARDS = yaml.safe_load((GRAFANA_PROVISIONING / "dashboards" / "dashboards.yml").read_text(encoding="utf-8"))

MUTATIONS: list[tuple[str, Callable[[dict[str, Any]], None], Callable[[dict[str, Any]], Problems]]] = [
    ("a service is missing", _set("services.payments", None), check_services_defined),
    ("the topics job is missing", _set("services.topics", None), check_services_defined),
    (
        "a service serves another app",
        _set("services.eligibility.command", ["subsidy_runtime.serve", "payments.app:app", "--port", "8080"]),
        check_app_commands,
    ),
    (
        "a variable the local stack does not pass",
        _set("services.registration.environment.DB_POOL_MAX_SIZE", "50"),
        lambda d: check_env_names(d, _LOCAL_NAMES),
    ),
    (
        "a misspelt variable",
        _set("services.payments.environment.KAFKA_BOOTSTRAP_SERVER", "kafka:9092"),
        lambda d: check_env_names(d, _LOCAL_NAMES),
    ),
    (
        "a core variable is missing",
        _set("services.eligibility.environment.LOG_LEVEL", None),
        lambda d: check_env_names(d, _LOCAL_NAMES),
    ),
    (
        "notifications without the gateway",
        _set("services.notifications.environment.SMS_GATEWAY_URL", None),
        lambda d: check_env_names(d, _LOCAL_NAMES),
    ),
    (
        "a variable no setting reads",
        _set("services.registration.environment.SMS_GATEWAY_URL", "http://sms-gateway:8090"),
        check_env_names_are_settings,
    ),
    (
        "a wrong service name",
        _set("services.payments.environment.SERVICE_NAME", "registration"),
        check_env_names_are_settings,
    ),
    (
        "a service logs in as another role",
        _set(
            "services.payments.environment.DATABASE_URL",
            "postgresql://registration:${REGISTRATION_DB_PASSWORD:-registration_local}@postgres:5432/subsidy",
        ),
        check_database_urls,
    ),
    (
        "a password the provision job does not set",
        _set("services.eligibility.environment.DATABASE_URL", "postgresql://eligibility:secret@postgres:5432/subsidy"),
        check_database_urls,
    ),
    (
        "another database",
        _set(
            "services.notifications.environment.DATABASE_URL",
            "postgresql://notifications:${NOTIFICATIONS_DB_PASSWORD:-notifications_local}@postgres:5432/other",
        ),
        check_database_urls,
    ),
    (
        "provision misses a service",
        _set(
            "services.provision.command",
            [
                "subsidy_runtime.provision",
                "--admin-url",
                "postgresql://a:b@postgres:5432/postgres",
                "--database",
                "subsidy",
                "--services",
                "registration eligibility payments",
            ],
        ),
        lambda d: check_provision_job(d, _LOCAL_SERVICES),
    ),
    (
        "another Kafka version",
        _set("services.kafka.image", "apache/kafka:3.8.0"),
        lambda d: check_kafka(d, _KAFKA_VERSION),
    ),
    (
        "automatic topic creation",
        _set("services.kafka.environment.KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true"),
        lambda d: check_kafka(d, _KAFKA_VERSION),
    ),
    (
        "automatic topic creation by default",
        _set("services.kafka.environment.KAFKA_AUTO_CREATE_TOPICS_ENABLE", None),
        lambda d: check_kafka(d, _KAFKA_VERSION),
    ),
    (
        "a service on the host's broker",
        _set("services.registration.environment.KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:39092"),
        lambda d: check_kafka(d, _KAFKA_VERSION),
    ),
    (
        "topics from elsewhere",
        _set("services.topics.command", ["some_script", "create", "--bootstrap", "kafka:9092"]),
        check_topics_job,
    ),
    (
        "a dependency that does not exist",
        _set("services.payments.depends_on.zookeeper", {"condition": "service_started"}),
        check_depends_on,
    ),
    (
        "waiting for health without a healthcheck",
        _set("services.kafka.healthcheck", None),
        check_depends_on,
    ),
    (
        "not waiting for the topics",
        _set("services.eligibility.depends_on.topics", {"condition": "service_started"}),
        check_depends_on,
    ),
    (
        "a healthcheck on /healthz",
        _set(
            "services.payments.healthcheck",
            {"test": ["CMD", "python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/healthz')"]},
        ),
        check_readyz_healthchecks,
    ),
    ("no healthcheck", _set("services.notifications.healthcheck", None), check_readyz_healthchecks),
    (
        "the gateway on another port",
        _set("services.notifications.environment.SMS_GATEWAY_URL", "http://sms-gateway:9999"),
        check_sms_gateway,
    ),
    (
        "another host port",
        _set("services.registration.ports", ["${REGISTRATION_HTTP_PORT:-18081}:8080"]),
        lambda d: check_host_ports(d, _DEV_PORTS),
    ),
    (
        "another host port variable",
        _set("services.eligibility.ports", ["${PAYMENTS_HTTP_PORT:-8082}:8080"]),
        lambda d: check_host_ports(d, _DEV_PORTS),
    ),
    (
        "a fixed host port",
        _set("services.sms-gateway.ports", ["8090:8090"]),
        lambda d: check_host_ports(d, _DEV_PORTS),
    ),
    (
        "the wrong container port",
        _set("services.payments.ports", ["${PAYMENTS_HTTP_PORT:-8083}:8083"]),
        lambda d: check_host_ports(d, _DEV_PORTS),
    ),
    (
        "prometheus without its configuration",
        _set("services.prometheus.volumes", []),
        lambda d: check_prometheus(d, _PROMETHEUS),
    ),
    (
        "grafana without dashboards",
        _set("services.grafana.volumes", ["./deploy/grafana/provisioning:/etc/grafana/provisioning:ro"]),
        lambda d: check_grafana(d, _DASHBOARDS),
    ),
]


@pytest.mark.parametrize(("mutate", "check"), [(m, c) for _, m, c in MUTATIONS], ids=[n for n, _, _ in MUTATIONS])
def test_each_check_detects_a_mutation(
    compose: dict[str, Any],
    mutate: Callable[[dict[str, Any]], None],
    check: Callable[[dict[str, Any]], Problems],
) -> None:
    assert check(compose) == [], "the unmutated file must pass the check"
    broken = copy.deepcopy(compose)
    mutate(broken)
    assert check(broken) != []


def test_prometheus_check_detects_a_missing_or_extra_job(compose: dict[str, Any]) -> None:
    missing = copy.deepcopy(_PROMETHEUS)
    missing["scrape_configs"] = [j for j in missing["scrape_configs"] if j["job_name"] != "payments"]
    assert check_prometheus(compose, missing) != []
    extra = copy.deepcopy(_PROMETHEUS)
    extra["scrape_configs"].append({"job_name": "kafka", "static_configs": [{"targets": ["kafka:9092"]}]})
    assert check_prometheus(compose, extra) != []
    slow = copy.deepcopy(_PROMETHEUS)
    slow["global"]["scrape_interval"] = "1m"
    assert check_prometheus(compose, slow) != []


def test_local_script_readers_detect_a_change(compose: dict[str, Any]) -> None:
    # A service_env() that stops passing LOG_LEVEL makes compose's LOG_LEVEL unknown to the local stack.
    stack = STACK_SH.read_text(encoding="utf-8")
    without_log_level = re.sub(r'^\s*echo "LOG_LEVEL=.*$', "", stack, flags=re.MULTILINE)
    assert check_env_names(compose, local_service_env_names(without_log_level)) != []
    # env.sh moving the developer ports moves what compose must publish.
    env_sh = ENV_SH.read_text(encoding="utf-8").replace("$((8081 +", "$((9081 +")
    assert check_host_ports(compose, env_sh_dev_ports(env_sh)) != []
    # A new Kafka version in the pom needs the same image tag.
    pom = KAFKA_POM.read_text(encoding="utf-8").replace(f">{_KAFKA_VERSION}<", ">4.0.0<")
    assert check_kafka(compose, pom_kafka_version(pom)) != []


def test_dockerfile_check_detects_a_root_image() -> None:
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    dockerignore = DOCKERIGNORE.read_text(encoding="utf-8")
    assert check_dockerfile(re.sub(r"^USER .*$", "USER root", dockerfile, flags=re.MULTILINE), dockerignore) != []
    assert check_dockerfile(dockerfile, dockerignore.replace(".venv\n", "")) != []

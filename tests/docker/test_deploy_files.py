"""The deployment files in docker/, checked as far as a machine without a Docker engine can.

What runs for real here: the shipped Mosquitto configuration, password script and
ACL in a real Mosquitto; the Dockerfile's pip steps in a temporary virtualenv;
the hub's and the edge's real metric registries against the dashboard's queries.
What cannot run here: the images themselves (python:3.11-slim, postgres,
influxdb, grafana, prometheus) and ``docker compose config``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from community_hub_tools.broker.mosquitto import free_port
from edge.gateway import EdgeGateway
from edge.settings import EdgeSettings, edge_env_names
from hub.runtime import HubRuntime
from hub.settings import Settings, env_names
from tests.support.secured_broker import MissingMosquitto, SecuredBroker

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE_FILE = DOCKER / "compose.yaml"
HUB_SERVICES = ("hub-1", "hub-2")
EDGE_SERVICE = "edge"
BRIDGES = {"zigbee2mqtt": "z2m-" + "b" * 30, "tuya-bridge": "tuya-" + "c" * 30}
# ${NAME}, ${NAME:?message}, ${NAME:-default}...; $$ is an escaped dollar.
_VARIABLE = re.compile(r"(?<!\$)\$\{(\w+)([^}]*)\}")


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environments are mappings (merge keys need them)"
    return {str(k): str(v) for k, v in env.items()}


def _placeholders(text: str) -> str:
    """Every ${VAR...} replaced as compose would, with a secret-looking value."""
    return _VARIABLE.sub(lambda m: f"secret-{m.group(1).lower()}-" + "x" * 32, text)


def _env_example() -> dict[str, str]:
    pairs = {}
    for line in (DOCKER / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value
    return pairs


# -- compose.yaml ---------------------------------------------------------------------


def test_compose_has_the_services_of_a_site_and_everything_it_mounts_exists() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {
        "mqtt-users",
        "mosquitto",
        "postgres",
        "influxdb",
        *HUB_SERVICES,
        EDGE_SERVICE,
        "prometheus",
        "grafana",
    }
    declared_volumes = set(compose["volumes"])
    for name, service in services.items():
        if "build" in service:
            context = (DOCKER / service["build"]["context"]).resolve()
            assert context == REPO, name
            assert (context / service["build"]["dockerfile"]).is_file(), name
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared_volumes, f"{name} uses undeclared volume {source}"
        for secret in service.get("secrets", []):
            assert secret in compose["secrets"], f"{name} uses undeclared secret {secret}"
        for dependency in service.get("depends_on", []):
            assert dependency in services, f"{name} depends on unknown {dependency}"
    # The hub and edge images are built by compose, non-root, with a health check.
    assert all(services[s]["image"] == "community-hub:latest" for s in (*HUB_SERVICES, "edge"))


def _set_environment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Only ``env``'s settings, as the container's process reads them."""
    for key in [k for k in os.environ if k.startswith(("HUB_", "EDGE_"))]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key.endswith("_CREDENTIALS"):  # .env holds a JSON object there
            value = json.dumps({"device-1": _placeholders(value)})
        monkeypatch.setenv(key, _placeholders(value))


def test_every_setting_compose_sets_is_a_real_setting_and_validates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = _compose()["services"]
    hub_names = env_names()  # read now: settings others add count
    for name in HUB_SERVICES:
        env = _environment(services[name])
        unknown = sorted(k for k in env if k.startswith(("HUB_", "EDGE_")) and k not in hub_names)
        assert not unknown, f"{name} sets settings that do not exist: {unknown}"
        _set_environment(monkeypatch, env)
        settings = Settings()
        assert settings.mode == "production"
        settings.check_broker_credentials()  # what `community-hub hub` checks at start
        assert settings.mqtt.username == "hub"
        assert settings.resolved_database_url.startswith("postgresql+asyncpg://hub:")
        assert settings.metrics.token is not None and settings.influx.url
    # The edge reads its own EDGE_* names, not the hub's (nor their deprecated HUB_* forms).
    edge_names, _renamed = edge_env_names()
    env = _environment(services[EDGE_SERVICE])
    unknown = sorted(k for k in env if not (k.startswith("EDGE_") and k in edge_names))
    assert not unknown, f"the edge sets settings that are not the edge's: {unknown}"
    _set_environment(monkeypatch, env)
    edge = EdgeSettings()
    assert edge.mode == "production"
    edge.check_broker_credentials()  # what `community-hub edge` checks at start
    edge.check_edge_credentials()
    assert edge.mqtt_username == edge.gateway_id  # the ACL's %u
    assert edge.edge_metrics_port is not None and edge.metrics_token is not None
    hubs = [_environment(services[s]) for s in HUB_SERVICES]
    assert len({env["HUB_MQTT_CLIENT_ID"] for env in hubs}) == len(hubs), "client ids must differ"
    assert {env["HUB_MQTT_SHARED_GROUP"] for env in hubs} == {"hubs"}


def test_secrets_come_from_env_and_the_example_lists_each_one_empty() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    used = {m.group(1): m.group(2) for m in _VARIABLE.finditer(text)}
    example = _env_example()
    assert used, "compose takes its secrets from .env"
    for name, modifier in used.items():
        assert modifier.startswith(":?"), f"${{{name}}} must be required, not defaulted"
        assert name in example, f"{name} is missing from docker/.env.example"
        assert example[name] == "", f"{name} has a value in .env.example: no default secrets"
    secrets = _compose()["secrets"]
    assert all(spec.get("environment") in example for spec in secrets.values())
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert "docker/.env" in ignored


def test_influxdb_is_initialised_with_what_the_hubs_and_grafana_use() -> None:
    services = _compose()["services"]
    influx = _environment(services["influxdb"])
    hub = _environment(services["hub-1"])
    assert influx["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert hub["HUB_INFLUX_ORG"] == influx["DOCKER_INFLUXDB_INIT_ORG"]
    assert hub["HUB_INFLUX_BUCKET"] == influx["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert hub["HUB_INFLUX_TOKEN"] == influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
    datasources = yaml.safe_load(
        (DOCKER / "grafana/provisioning/datasources/datasources.yaml").read_text()
    )["datasources"]
    influx_ds = next(d for d in datasources if d["type"] == "influxdb")
    assert influx_ds["jsonData"]["organization"] == influx["DOCKER_INFLUXDB_INIT_ORG"]
    assert influx_ds["jsonData"]["defaultBucket"] == influx["DOCKER_INFLUXDB_INIT_BUCKET"]
    # The token is interpolated from Grafana's environment, which compose fills from .env.
    token_var = influx_ds["secureJsonData"]["token"].lstrip("$").strip("{}")
    grafana_env = _environment(services["grafana"])
    assert grafana_env[token_var] == influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]


# -- Mosquitto: configuration, password script, ACL -------------------------------------


class Client:
    """A paho client that records the CONNACK, SUBACKs and messages (blocking waits)."""

    def __init__(self, port: int, username: str | None, password: str | None) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=uuid.uuid4().hex[:12])
        if username is not None:
            self.client.username_pw_set(username, password)
        self.connack = threading.Event()
        self.refused: bool | None = None
        self.suback = threading.Event()
        self.granted: list[bool] = []
        self.topics: list[str] = []
        self.arrived = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.refused = bool(reason.is_failure)
        self.connack.set()

    def _on_subscribe(self, _c: Any, _u: Any, _m: int, reasons: Any, _p: Any) -> None:
        self.granted = [not r.is_failure for r in reasons]
        self.suback.set()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self.arrived:
            self.topics.append(message.topic)
            self.arrived.notify_all()

    def connected(self) -> bool:
        assert self.connack.wait(5), "no CONNACK"
        return self.refused is False

    def subscribe(self, *filters: str) -> list[bool]:
        self.suback.clear()
        self.client.subscribe([(f, 1) for f in filters])
        assert self.suback.wait(5), "no SUBACK"
        return self.granted

    def publish(self, topic: str) -> None:
        self.client.publish(topic, b"x", qos=1).wait_for_publish(5)

    def wait_for(self, topic: str) -> list[str]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: topic in self.topics, 5), self.topics
            return list(self.topics)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def secured_broker(tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """The shipped mosquitto.conf and ACL with the password file the compose script makes,
    plus the lock bridges' accounts the ACL names (an operator adds them the same way)."""
    try:
        broker = SecuredBroker(tmp_path, extra_users=BRIDGES)
    except MissingMosquitto:
        if os.environ.get("CI", "").lower() == "true":  # as the broker fixture: no silent skip
            raise
        pytest.skip("Mosquitto (with mosquitto_passwd) is not installed")
    assert oct(broker.passwd.stat().st_mode & 0o777) == "0o600"
    broker.start()
    try:
        yield broker.port, broker.passwords
    finally:
        broker.stop()


def test_mosquitto_accepts_the_shipped_config_and_its_users_and_acl_hold(
    secured_broker: tuple[int, dict[str, str]],
) -> None:
    port, passwords = secured_broker
    hub_password, edge_password = passwords["HUB_MQTT_PASSWORD"], passwords["EDGE_MQTT_PASSWORD"]

    for username, password in ((None, None), ("edge-1", "wrong"), ("edge-2", edge_password)):
        stranger = Client(port, username, password)
        try:
            assert not stranger.connected(), f"{username} must be refused"
        finally:
            stranger.close()

    hub = Client(port, "hub", hub_password)
    edge = Client(port, "edge-1", edge_password)
    try:
        assert hub.connected() and edge.connected()
        # The hub may read the edge topics, plain or through a shared group ($share/...),
        # and its own status topics (where a stray write would show).
        assert (
            hub.subscribe(
                "$share/hubs/chub/v1/edge/+/events/alarm/+",
                "chub/v1/edge/+/events/telemetry/+",
                "chub/v1/edge/+/deadletters",
                "chub/v1/edge/+/status",
                "chub/v1/edge/+/availability/+",
                "chub/v1/edge/+/command-results/+",
                "chub/v1/edge/+/commands/+",
                "chub/v1/hub/#",
            )
            == [True] * 8
        )
        # A gateway reads its own commands, nobody else's, and no events. (Mosquitto 2.0
        # grants any SUBSCRIBE and applies "read" when it delivers, so delivery is checked.)
        edge.subscribe(
            "chub/v1/edge/edge-1/commands/+",
            "chub/v1/edge/edge-2/commands/+",
            "chub/v1/edge/+/events/alarm/+",
        )

        allowed = [
            "chub/v1/edge/edge-1/events/alarm/watch:1",
            "chub/v1/edge/edge-1/events/telemetry/watch:1",
            "chub/v1/edge/edge-1/deadletters",
            "chub/v1/edge/edge-1/status",
            "chub/v1/edge/edge-1/availability/watch:1",
            "chub/v1/edge/edge-1/command-results/watch:1",
        ]
        refused = [
            "chub/v1/edge/edge-2/events/alarm/watch:1",  # another gateway's topic
            "chub/v1/edge/edge-1/commands/watch:1",  # only hubs send commands
            "chub/v1/hub/hub-1/status",  # the hubs' own topics
        ]
        for topic in refused + allowed:
            edge.publish(topic)
        # QoS 1 from one client arrives in order: once the last allowed one is in,
        # a refused one that got through would be in too.
        received = hub.wait_for(allowed[-1])
        assert sorted(received) == sorted(allowed)

        # A lock bridge's account publishes its own base topic and nothing under chub/,
        # not even as a "gateway" named after itself (it once opened a real SOS ticket).
        for bridge, password in BRIDGES.items():
            forger = Client(port, bridge, password)
            try:
                assert forger.connected()
                for topic in (
                    f"chub/v1/edge/{bridge}/events/alarm/watch:1",
                    f"chub/v1/edge/{bridge}/command-results/z2m:front_door",
                    "chub/v1/edge/edge-1/events/alarm/watch:1",
                ):
                    forger.publish(topic)
            finally:
                forger.close()
        edge.publish("chub/v1/edge/edge-1/events/alarm/watch:2")
        received = hub.wait_for("chub/v1/edge/edge-1/events/alarm/watch:2")
        assert not [t for t in received if "/zigbee2mqtt/" in t or "/tuya-bridge/" in t]
        assert received.count("chub/v1/edge/edge-1/events/alarm/watch:1") == 1

        # A gateway reads the hub's confirmations of its own items and the hubs' status.
        edge.subscribe("chub/v1/edge/edge-1/committed", "chub/v1/hub/+/status")
        hub.publish("chub/v1/edge/edge-2/committed")
        hub.publish("chub/v1/edge/edge-1/committed")
        hub.publish("chub/v1/hub/hub-1/status")
        seen = edge.wait_for("chub/v1/hub/hub-1/status")
        assert "chub/v1/edge/edge-1/committed" in seen
        assert "chub/v1/edge/edge-2/committed" not in seen

        # The hub sends commands; a gateway gets its own only.
        hub.publish("chub/v1/edge/edge-2/commands/watch:2")
        hub.publish("chub/v1/edge/edge-1/commands/watch:1")
        seen = edge.wait_for("chub/v1/edge/edge-1/commands/watch:1")
        assert [t for t in seen if "/commands/" in t] == ["chub/v1/edge/edge-1/commands/watch:1"]
    finally:
        hub.close()
        edge.close()

    # The broker's compose health check: an authenticated subscribe round trip.
    check = _compose()["services"]["mosquitto"]["healthcheck"]["test"][1].replace("$$", "$")
    command = shlex.split(check.replace("-p 1883", f"-p {port}"))
    for password, ok in ((hub_password, True), ("wrong", False)):
        args = [password if a == "$HUB_MQTT_PASSWORD" else a for a in command]
        result = subprocess.run(args, capture_output=True, timeout=10)
        assert (result.returncode == 0) is ok, result.stderr


# -- Grafana and Prometheus --------------------------------------------------------------


def _telemetry_schema() -> dict[str, tuple[set[str], set[str]]]:
    """measurement -> (fields, tags), read from the schema hub/telemetry documents in code."""
    from hub.telemetry import extract

    schema: dict[str, tuple[set[str], set[str]]] = {}
    line = re.compile(r"^- ``(\w+)``: ([\w, ]+); tags (.+)$")
    for text in (extract.__doc__ or "").splitlines():
        if match := line.match(text.strip()):
            fields = {f.strip() for f in match.group(2).split(",")}
            tags = {t.strip().split()[0] for t in match.group(3).split(",")}
            schema[match.group(1)] = (fields, tags)
    return schema


def _dashboards() -> list[dict[str, Any]]:
    files = sorted((DOCKER / "grafana/dashboards").glob("*.json"))
    assert files
    return [json.loads(path.read_text(encoding="utf-8")) for path in files]


def _targets(dashboard: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target


def test_grafana_provisioning_points_at_what_compose_mounts() -> None:
    grafana = _compose()["services"]["grafana"]
    mounts = dict(m.split(":")[:2] for m in grafana["volumes"] if m.startswith("."))
    providers = yaml.safe_load(
        (DOCKER / "grafana/provisioning/dashboards/dashboards.yaml").read_text()
    )["providers"]
    assert providers[0]["options"]["path"] in mounts.values()
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    datasources = yaml.safe_load(
        (DOCKER / "grafana/provisioning/datasources/datasources.yaml").read_text()
    )["datasources"]
    uids = {d["uid"] for d in datasources}
    services = _compose()["services"]
    for source in datasources:
        host_port = source["url"].split("//", 1)[1]
        assert host_port.split(":")[0] in services, source["url"]
    for dashboard in _dashboards():
        for title, target in _targets(dashboard):
            assert target["datasource"]["uid"] in uids, title
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), "panel ids are unique"


def test_flux_queries_name_only_the_telemetry_schema() -> None:
    schema = _telemetry_schema()
    assert {"vitals", "battery", "charger", "gate_passes"} <= set(schema)
    assert {"heart_rate", "systolic", "diastolic"} <= schema["vitals"][0]
    bucket = _environment(_compose()["services"]["influxdb"])["DOCKER_INFLUXDB_INIT_BUCKET"]
    builtin = {"_measurement", "_field", "_value", "_time", "_start", "_stop"}
    checked = 0
    for dashboard in _dashboards():
        queries = [(t, q["query"]) for t, q in _targets(dashboard) if "query" in q]
        queries += [("$" + v["name"], v["query"]) for v in dashboard["templating"]["list"]]
        for title, query in queries:
            assert set(re.findall(r'bucket: "([^"]+)"', query)) == {bucket}, title
            measurements = re.findall(r'r\._measurement == "(\w+)"', query)
            fields = set(re.findall(r'r\._field == "(\w+)"', query))
            tags = set(re.findall(r"\br\.(\w+)", query)) - builtin
            tags |= set(re.findall(r'tag: "(\w+)"', query))
            for columns in re.findall(r"columns: \[([^\]]*)\]", query):
                tags |= set(re.findall(r'"(\w+)"', columns)) - builtin
            if not measurements:  # a template variable over tag values
                assert tags <= set().union(*(t for _f, t in schema.values())), title
                continue
            assert len(measurements) == 1 and measurements[0] in schema, title
            known_fields, known_tags = schema[measurements[0]]
            assert fields and fields <= known_fields, f"{title}: {fields - known_fields}"
            assert tags <= known_tags, f"{title}: {tags - known_tags}"
            checked += 1
    assert checked >= 6


async def _exposed_metric_names(tmp_path: Path) -> set[str]:
    """Every sample name the hub's and the edge's registries can show, from the real code."""
    settings = Settings(data_dir=tmp_path)
    runtime = HubRuntime(settings)
    await runtime.db.migrate()
    try:
        text = (await runtime.metrics.render()).decode()
    finally:
        await runtime.db.close()
    edge = EdgeGateway(
        EdgeSettings(data_dir=tmp_path, edge_outbox_path=tmp_path / "outbox.sqlite3")
    )
    text += generate_latest(edge.metrics.registry).decode()
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_sum", "_count"),
        "gauge": ("",),
    }
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + s for s in suffixes.get(family.type, ("",))}
    return names


async def test_prometheus_queries_use_only_metrics_the_hub_and_edge_expose(
    tmp_path: Path,
) -> None:
    exposed = await _exposed_metric_names(tmp_path)
    assert "chub_edge_outbox_backlog" in exposed and "chub_alert_latency_seconds_bucket" in exposed
    promql_words = {"sum", "by", "rate", "increase", "max", "histogram_quantile", "le"}
    checked = 0
    for dashboard in _dashboards():
        for title, target in _targets(dashboard):
            if "expr" not in target:
                continue
            expression = target["expr"]
            names = set(re.findall(r"\b(chub_\w+)", expression))
            assert names, f"{title}: {target['expr']}"
            assert names <= exposed, f"{title}: {names - exposed}"
            assert not set(re.findall(r"\b([a-z_]+)\(", expression)) - promql_words
            checked += 1
    assert checked >= 6


def test_prometheus_scrapes_the_hubs_with_the_token_and_the_edge_port() -> None:
    compose = _compose()
    services = compose["services"]
    config = yaml.safe_load((DOCKER / "prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    hub_port = _environment(services["hub-1"])["HUB_API_PORT"]
    assert jobs["hub"]["static_configs"][0]["targets"] == [f"{s}:{hub_port}" for s in HUB_SERVICES]
    credentials = jobs["hub"]["authorization"]["credentials_file"]
    secret = Path(credentials).name
    assert credentials == f"/run/secrets/{secret}"
    assert secret in services["prometheus"]["secrets"]
    assert compose["secrets"][secret]["environment"] == "HUB_METRICS_TOKEN"
    edge_env = _environment(services[EDGE_SERVICE])
    edge_port = edge_env["EDGE_METRICS_PORT"]
    assert jobs["edge"]["static_configs"][0]["targets"] == [f"{EDGE_SERVICE}:{edge_port}"]
    # The edge asks for the same token when it has one, and compose gives it one.
    assert jobs["edge"]["authorization"]["credentials_file"] == credentials
    assert "HUB_METRICS_TOKEN" in edge_env["EDGE_METRICS_TOKEN"]
    assert (
        "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"
        in (services["prometheus"]["volumes"])
    )


def test_the_edge_health_check_passes_against_its_token_guarded_metrics(
    tmp_path: Path,
) -> None:
    """The compose health check of the edge, run against the edge's real metrics server."""
    services = _compose()["services"]
    edge_env = _environment(services[EDGE_SERVICE])
    check = services[EDGE_SERVICE]["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    token = _placeholders(edge_env["EDGE_METRICS_TOKEN"])
    port = free_port()
    settings = EdgeSettings(
        data_dir=tmp_path,
        edge_outbox_path=tmp_path / "outbox.sqlite3",
        edge_metrics_port=port,
        metrics_token=token,
    )
    script = check[3].replace(f":{edge_env['EDGE_METRICS_PORT']}/", f":{port}/")
    assert script != check[3], "the check must ask the edge's metrics port"
    metrics = EdgeGateway(settings).metrics
    metrics.start()
    try:

        def run(env_token: str) -> int:
            env = {**os.environ, "EDGE_METRICS_TOKEN": env_token}
            return subprocess.run(
                [sys.executable, "-c", script], env=env, capture_output=True, timeout=30
            ).returncode

        assert run(token) == 0
        assert run("a-wrong-token-" + "y" * 20) != 0  # 401: the check does not pass blindly
    finally:
        metrics.stop()


# -- Dockerfile ------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) with continuation lines joined and comments dropped."""
    text = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n(\s*#.*\n)*", " ", text)
    steps = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, arguments = line.strip().partition(" ")
            steps.append((instruction.upper(), arguments.strip()))
    return steps


def test_the_dockerfile_is_multi_stage_slim_and_runs_as_a_user() -> None:
    steps = _dockerfile()
    froms = [args for op, args in steps if op == "FROM"]
    assert len(froms) == 2 and all(f.startswith("python:3.11-slim") for f in froms)
    user = [args for op, args in steps if op == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert any(op == "HEALTHCHECK" and "/healthz" in args for op, args in steps)
    assert ("ENTRYPOINT", '["community-hub"]') in steps
    assert ("CMD", '["hub"]') in steps


def test_the_image_installs_a_chinese_font_from_the_distribution() -> None:
    steps = _dockerfile()
    runtime = steps[[i for i, (op, _) in enumerate(steps) if op == "FROM"][-1] :]
    installs = [args for op, args in runtime if op == "RUN" and "apt-get install" in args]
    assert any("fonts-noto-cjk" in args for args in installs), installs
    # Before the user switch: apt runs as root, the hub does not.
    user_at = next(i for i, (op, _) in enumerate(runtime) if op == "USER")
    font_at = next(i for i, (op, a) in enumerate(runtime) if op == "RUN" and "fonts-noto" in a)
    assert font_at < user_at


@dataclass(frozen=True)
class ImageInstall:
    """The Dockerfile's pip steps, run here: its wheel, and the virtualenv it went into."""

    wheel: Path
    venv: Path
    site: str
    install_step: str


def _checkout_dependencies(target: Path) -> Path:
    """This checkout's site-packages without either project (links to everything else).

    The virtualenv gets its dependencies from there, not from the network; the projects
    themselves are left out so the venv holds the product's wheel and nothing of the
    tools, as the image does.
    """
    ours = next(p for p in map(Path, sys.path) if p.name == "site-packages" and p.is_dir())
    target.mkdir()
    for entry in ours.iterdir():
        if entry.name.startswith(("community_hub", "__editable__", "_community_hub")):
            continue
        (target / entry.name).symlink_to(entry)
    return target


@pytest.fixture(scope="module")
def image_install(tmp_path_factory: pytest.TempPathFactory) -> ImageInstall:
    """COPY exactly what the Dockerfile copies, build the wheel as it does, install it.

    ``pip check`` then proves the wheel declares nothing missing.
    """
    tmp_path = tmp_path_factory.mktemp("image")
    steps = _dockerfile()
    src = tmp_path / "src"
    src.mkdir()
    for op, args in steps:
        if op != "COPY" or args.startswith("--from"):
            continue
        *sources, _target = args.split()
        for pattern in sources:
            matches = list(REPO.glob(pattern.rstrip("/")))
            if not pattern.endswith("*"):
                assert matches, f"COPY {pattern}: not in the repository"
            for match in matches:
                if match.is_dir():
                    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
                    shutil.copytree(match, src / match.name, ignore=ignore)
                else:
                    shutil.copy2(match, src / match.name)
    wheel_step = next(args for op, args in steps if op == "RUN" and "pip wheel" in args)
    assert wheel_step == "pip wheel --no-deps --wheel-dir /wheels ."
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--wheel-dir", str(wheels), "."], cwd=src, check=True
    )
    (wheel,) = wheels.glob("community_hub-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dependencies = _checkout_dependencies(tmp_path / "dependencies")
    # After the venv's own site-packages: the wheel's code wins over this checkout's.
    Path(site, "zz_checkout_dependencies.pth").write_text(f"{dependencies}\n")
    venv_pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*venv_pip, "install", "--no-deps", str(wheel)], check=True)
    check = subprocess.run([*venv_pip, "check"], capture_output=True, text=True)
    missing = [line for line in check.stdout.splitlines() if "community-hub" in line]
    assert not missing, missing
    install_step = next(args for op, args in steps if op == "RUN" and "pip install" in args)
    return ImageInstall(wheel, venv, site, install_step)


def test_the_dockerfile_build_steps_run_in_a_fresh_virtualenv(
    image_install: ImageInstall, tmp_path: Path
) -> None:
    python = image_install.venv / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import hub; print(hub.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(image_install.site), where
    command = image_install.venv / "bin" / "community-hub"
    for subcommand in ([], ["hub"], ["edge"]):
        assert shlex.join(["community-hub", *subcommand, "--help"]) in image_install.install_step
        result = subprocess.run(
            [str(command), *subcommand, "--help"], capture_output=True, text=True, cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        assert "usage: community-hub" in result.stdout


def test_the_product_wheel_carries_none_of_the_tools(image_install: ImageInstall) -> None:
    with zipfile.ZipFile(image_install.wheel) as wheel:
        names = wheel.namelist()
        info = {name.rpartition("/")[2]: name for name in names if ".dist-info/" in name}
        entry_points = wheel.read(info["entry_points.txt"]).decode()
        metadata = wheel.read(info["METADATA"]).decode()
    packages = {name.split("/")[0] for name in names if name.endswith(".py")}
    assert packages == {"api", "device_adapters", "edge", "hub"}, packages
    moved = ("hub/bench/", "hub/demo/", "hub/broker/", "edge/sim/", "edge/simulator.py")
    assert not [name for name in names if name.startswith(moved)]
    assert "community_hub.commands" not in entry_points
    # The tools come only with the demo extra, which the image does not install.
    wants_tools = [
        line
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "community-hub-tools" in line
    ]
    assert wants_tools == ['Requires-Dist: community-hub-tools; extra == "demo"'], wants_tools


def test_without_the_tools_the_demo_says_in_one_line_how_to_install_them(
    image_install: ImageInstall, tmp_path: Path
) -> None:
    command = image_install.venv / "bin" / "community-hub"
    for argv in (["demo"], ["demo", "--api-port", "8001"], ["bench", "codecs"]):
        done = subprocess.run(
            [str(command), *argv], capture_output=True, text=True, cwd=tmp_path, timeout=60
        )
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        (line,) = done.stderr.splitlines()
        assert line.startswith(f"community-hub {argv[0]}: ")
        assert "pip install 'community-hub[demo]'" in line
    listed = subprocess.run(
        [str(command), "--help"], capture_output=True, text=True, cwd=tmp_path, check=True
    ).stdout
    assert "demo" in listed and "not installed: one of the tools" in listed

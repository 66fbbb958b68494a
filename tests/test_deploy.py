"""Deployment files checked by the tools that consume them and against the code: the
compose file (docker-compose, and its environment against the config schema), Prometheus
config and alert rules (promtool check and a firing and a quiet unit test per alert), the
Grafana dashboard, and that every metric they use is one the node or consumer exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from marketprism_fast.config import config_from_data
from marketprism_fast.service.consumer_service import CONSUMER_FAMILIES
from marketprism_fast.service.metrics import FAMILIES

from .helpers import REPO

DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
PROMETHEUS = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "marketprism.json"
OPERATIONS = REPO / "docs" / "operations.md"
# Metrics Prometheus makes itself, usable in rules beside the exported ones.
PROMETHEUS_OWN = {"up"}


def _exported() -> set[str]:
    names = set()
    for f in (*FAMILIES, *CONSUMER_FAMILIES):
        if f.type == "histogram":
            names |= {f.name + "_bucket", f.name + "_sum", f.name + "_count"}
        else:
            names.add(f.exposed)
    return names


def _metric_names(expr: str) -> set[str]:
    # label values and strings are not metric names
    expr = re.sub(r'"[^"]*"', '""', expr)
    return {m for m in re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b", expr) if m.startswith("marketprism_") or m in PROMETHEUS_OWN}


def _alerts() -> list[dict]:
    doc = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [a["expr"] for a in dash["annotations"]["list"] if "expr" in a]
    exprs += [v["definition"] for v in dash["templating"]["list"]]
    return exprs


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (scripts/setup.sh installs it)")
    return path


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


# ----------------------------------------------------------------- compose


def test_compose_file_is_valid():
    result = _run(_tool("docker-compose"), "-f", str(COMPOSE), "config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_stack_shape():
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    assert {"node", "consumer", "clickhouse", "nats", "redis", "prometheus", "grafana"} <= set(services)
    # health-gated start: servers, then the consumer, then the node
    assert services["node"]["depends_on"]["nats"]["condition"] == "service_healthy"
    assert services["node"]["depends_on"]["consumer"]["condition"] == "service_healthy"
    assert services["consumer"]["depends_on"]["clickhouse"]["condition"] == "service_healthy"
    for name in ("node", "consumer", "clickhouse", "nats", "redis", "prometheus"):
        assert "healthcheck" in services[name], name
    assert "-js" in services["nats"]["command"]
    # the config the README documents, mounted read-only; the spool on a volume
    mounts = services["node"]["volumes"]
    assert "../config/marketprism.yaml:/etc/marketprism/marketprism.yaml:ro" in mounts
    assert (COMPOSE.parent / "../config/marketprism.yaml").resolve().is_file()
    spool = next(m for m in mounts if m.startswith("spool:"))
    target = spool.split(":")[1]
    env = services["node"]["environment"]
    assert env["MPF_SINKS__NATS__SPOOL__DIRECTORY"].startswith(target)
    assert set(doc["volumes"]) >= {"spool", "clickhouse-data", "nats-data"}


@pytest.mark.parametrize("service", ["node", "consumer"])
def test_compose_environment_is_valid_config(service):
    """The environment the stack gives the node and consumer, applied to the documented
    config file, passes the config schema (keys exist, values have their types)."""
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    env = {k: str(v) for k, v in services[service]["environment"].items()}
    env["CLICKHOUSE_PASSWORD"] = "x"  # ${CLICKHOUSE_PASSWORD:-...} as compose would resolve it
    data = yaml.safe_load((REPO / "config" / "marketprism.yaml").read_text())
    config = config_from_data(data, env)
    assert config.http.host == "0.0.0.0"
    assert config.sinks.nats.url == "nats://nats:4222"
    if service == "node":
        assert config.sinks.enabled() == ["nats", "redis"]
        assert config.http.port == 8080
    else:
        assert config.sinks.clickhouse.url == "clickhouse://clickhouse:9000" and config.http.port == 8081
    prometheus = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    targets = {t for job in prometheus["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert f"{service}:{config.http.port}" in targets


# ----------------------------------------------------------------- prometheus


def test_promtool_check_config_and_rules():
    promtool = _tool("promtool")
    result = _run(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    result = _run(promtool, "check", "rules", str(PROMETHEUS / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_alert_unit_tests_pass():
    result = subprocess.run([_tool("promtool"), "test", "rules", "alerts_test.yml"], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_quiet_and_has_a_runbook():
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    firing, quiet = set(), set()
    for t in tests:
        for check in t["alert_rule_test"]:
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    names = [rule["alert"] for rule in _alerts()]
    assert len(names) == len(set(names))
    assert set(names) == firing == quiet
    runbooks = set(re.findall(r"^### (MarketPrism\w+)$", OPERATIONS.read_text(), re.M))
    for rule in _alerts():
        assert rule["alert"] in runbooks, f"no runbook section '### {rule['alert']}' in docs/operations.md"
        assert rule["annotations"]["runbook_url"] == f"docs/operations.md#{rule['alert'].lower()}"


def test_rules_and_dashboard_use_only_exported_metrics():
    exported = _exported() | PROMETHEUS_OWN
    used_by_rules = set().union(*(_metric_names(rule["expr"]) for rule in _alerts()))
    used_by_dashboard = set().union(*(_metric_names(e) for e in _dashboard_exprs()))
    assert used_by_rules - exported == set()
    assert used_by_dashboard - exported == set()
    # and they are not empty by accident: the dashboard covers throughput, frame age, gaps,
    # reconnects, sink latency, backlog, spool, memory and CPU
    for needed in ("marketprism_records_total", "marketprism_connection_last_frame_age_seconds", "marketprism_book_gaps_total",
                   "marketprism_connection_reconnects_total", "marketprism_sink_flush_seconds_bucket", "marketprism_sink_backlog_batches",
                   "marketprism_sink_spool_bytes", "marketprism_process_resident_memory_bytes", "marketprism_process_cpu_seconds_total"):
        assert needed in used_by_dashboard, needed


def test_dashboard_is_provisioned_against_the_provisioned_datasource():
    dash = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"][0]
    uids = {t["datasource"]["uid"] for p in dash["panels"] for t in p.get("targets", [])}
    assert uids == {datasource["uid"]}
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/marketprism.yml").read_text())["providers"][0]
    compose = yaml.safe_load(COMPOSE.read_text())["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in compose


# ----------------------------------------------------------------- docs


def test_operations_guide_references_are_what_the_code_generates():
    from marketprism_fast.service import opsdoc

    text = OPERATIONS.read_text()
    assert opsdoc.with_generated(text) == text, "docs/operations.md is stale: python -m marketprism_fast.service.opsdoc --write"
    for f in CONSUMER_FAMILIES:
        assert f"`{f.exposed}`" in text
    # the node's metrics and the config options are referenced where they are generated
    assert "](metrics.md)" in text and "](../config/README.md)" in text
    assert (REPO / "docs" / "metrics.md").is_file() and (REPO / "config" / "README.md").is_file()


def test_operations_guide_shows_the_status_page_screenshot():
    text = OPERATIONS.read_text()
    assert "](images/status-page.png)" in text
    assert (REPO / "docs" / "images" / "status-page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_migration_guide_maps_every_old_variable_subject_and_kind():
    from marketprism_fast.config import LEGACY_VARIABLES
    from marketprism_fast.records import KINDS
    from marketprism_fast.sinks.nats import _LEGACY_TYPE

    text = (REPO / "docs" / "migration.md").read_text()
    old = ["SYMBOLS", "ENABLE_BINANCE", "NATS_URL", "CLICKHOUSE_URL", "CLICKHOUSE_DIRECT_WRITE", "REDIS_URL", "REDIS_CACHE", "HTTP_PORT", "LOG_LEVEL"]
    assert set(old) <= set(LEGACY_VARIABLES)
    for name in LEGACY_VARIABLES:
        assert f"| `{name}` |" in text, f"docs/migration.md does not map {name}"
    for kind, legacy in _LEGACY_TYPE.items():
        assert f"`market.{{exchange}}.{{symbol}}.{legacy}" in text, legacy
        assert f"`mpf.batch.{kind}.{{exchange}}`" in text, kind
    for kind in KINDS:
        assert f"`{kind.table}`" in text, kind.table


# ----------------------------------------------------------------- image


def _dockerignore_regex(pattern: str) -> re.Pattern:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + "(?:/.*)?")  # a matched directory takes everything below it


def _in_build_context(path: str, rules: list[str]) -> bool:
    included = True
    for rule in rules:
        negated = rule.startswith("!")
        pattern = rule[1:] if negated else rule
        if _dockerignore_regex(pattern.strip("/")).fullmatch(path):
            included = negated  # the last matching rule wins
    return included


def test_image_build_context_keeps_the_status_page():
    """The image installs the package from the build context: files the package ships as
    data (the status page) must not be left out by .dockerignore."""
    ignore = REPO / ".dockerignore"
    if not ignore.exists():
        pytest.skip("no .dockerignore: the whole tree is the build context")
    rules = [line.strip() for line in ignore.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert _in_build_context("marketprism_fast/parser.py", rules)
    page = "marketprism_fast/service/static/status.html"
    assert _in_build_context(page, rules), (
        f".dockerignore leaves {page} out of the image (the node's status page at /): add the line '!{page}' after the rule that excludes it"
    )


def test_consumer_metrics_pass_promtool_and_name_every_family():
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import generate_latest

    from marketprism_fast.config import Config
    from marketprism_fast.service.consumer_service import ConsumerService

    service = ConsumerService(Config())
    service.stats.rows_inserted = 1234
    registry = CollectorRegistry(auto_describe=False)

    class _Collector:
        def collect(self):
            return service.families()

    registry.register(_Collector())
    text = generate_latest(registry).decode()
    for f in CONSUMER_FAMILIES:
        assert f"\n{f.exposed}" in "\n" + text, f.exposed
    assert "marketprism_consumer_rows_inserted_total 1234.0" in text
    assert 'marketprism_consumer_pending_messages{durable="clickhouse"} NaN' in text  # no NATS asked yet
    result = subprocess.run([_tool("promtool"), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr

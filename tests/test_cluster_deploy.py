"""The documented multi-machine set-up (deploy/): no Docker engine runs here, so its files
are checked for what would break a deployment: compose services, the shared config, the
systemd units."""

from __future__ import annotations

import configparser

import yaml

from storywatch.config import load_config
from tests.conftest import REPO

DEPLOY = REPO / "deploy"


def test_compose_runs_a_scheduler_three_workers_and_their_services() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"postgres", "rabbitmq", "redis", "scheduler", "worker"} <= set(services)
    assert services["scheduler"]["command"][-1] == "run"
    assert services["worker"]["command"][-1] == "worker"
    assert services["worker"]["deploy"]["replicas"] == 3
    for name in ("scheduler", "worker"):
        service = services[name]
        assert "./storywatch.toml:/etc/storywatch/storywatch.toml:ro" in service["volumes"]
        assert service["environment"]["STORYWATCH_CONFIG"] == "/etc/storywatch/storywatch.toml"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert (REPO / service["build"]["dockerfile"]).exists()
    # The broker keeps its queues on a volume: a restart must not lose queued crawls.
    assert any("/var/lib/rabbitmq" in v for v in services["rabbitmq"]["volumes"])


def test_the_deployed_config_is_valid_and_points_at_the_compose_services() -> None:
    config = load_config(DEPLOY / "storywatch.toml")
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"]
    assert config.cluster is not None
    assert "@postgres:5432/" in config.storage.url and "postgres" in services
    assert "@rabbitmq:5672/" in config.cluster.broker_url and "rabbitmq" in services
    assert config.cluster.slots_url() == "redis://redis:6379/0" and "redis" in services


def test_systemd_units_start_the_scheduler_and_workers_with_a_stop_timeout() -> None:
    for unit, command in (("storywatch-scheduler.service", " run"),
                          ("storywatch-worker@.service", " worker")):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read(DEPLOY / "systemd" / unit, encoding="utf-8")
        service = parser["Service"]
        assert service["ExecStart"].endswith(command)
        assert service["Restart"] == "always"
        # Above daemon.grace_period (30 s): the crawls in hand may finish.
        assert int(service["TimeoutStopSec"]) > 30
        assert "STORYWATCH_CONFIG=" in service["Environment"]

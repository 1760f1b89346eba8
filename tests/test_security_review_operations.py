"""Security review (issue 19): /metrics and /openapi.json are not public on a worker bound to 0.0.0.0.

They answer the operations networks (loopback by default, judged by the real client behind trusted
proxies) or an admin session; liveness and readiness stay open for load balancers.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from tests.apiclient import running_app, staff_headers
from tests.factories import build_world

from ansim.settings import Settings

REMOTE = ("203.0.113.9", 40000)
PROTECTED = ("/metrics", "/openapi.json")


def test_finding_metrics_and_the_api_description_are_refused_to_a_remote_caller(
    engine: Engine, database_url: str
) -> None:
    build_world(engine)
    with running_app(engine, database_url, peer=REMOTE) as client:
        for path in PROTECTED:
            client.cookies.clear()  # a login below leaves its session cookie in the client
            refused = client.get(path)
            assert refused.status_code == 403, path
            assert "operations networks" in refused.json()["detail"]
            dispatcher = staff_headers(client, "dispatcher")
            assert client.get(path, headers=dispatcher).status_code == 403, path
            client.cookies.clear()
            assert client.get(path, headers=staff_headers(client, "admin")).status_code == 200
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200


def test_finding_the_operations_networks_admit_loopback_and_the_configured_scraper(
    engine: Engine, database_url: str
) -> None:
    build_world(engine)
    with running_app(engine, database_url) as client:  # loopback: the benchmarks' probe
        assert client.get("/openapi.json").json()["info"]["title"] == "ansim"
        assert "ansim_store_up" in client.get("/metrics").text
    with running_app(
        engine, database_url, peer=REMOTE, operations_networks=["203.0.113.0/24"]
    ) as client:
        for path in PROTECTED:
            assert client.get(path).status_code == 200, path


def test_finding_a_trusted_proxy_on_loopback_does_not_make_everyone_local(
    engine: Engine, database_url: str
) -> None:
    build_world(engine)
    with running_app(engine, database_url, trusted_proxies=["127.0.0.1/32"]) as client:
        forwarded = {"X-Forwarded-For": "203.0.113.9"}
        for path in PROTECTED:
            assert client.get(path, headers=forwarded).status_code == 403, path
            assert client.get(path).status_code == 200, path  # the operator on the host itself


def test_finding_a_mistyped_network_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="does not appear to be an IPv4 or IPv6 network"):
        Settings(operations_networks=["10.0.0.0/33"])

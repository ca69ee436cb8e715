"""The sandbox's per-request latency: every API request waits at least ``latency`` seconds.

Only lower bounds are asserted: how much longer a request takes depends on the machine.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from airflow_provider_bombora.sandbox import SandboxServer

LATENCY = 0.3


@pytest.fixture
def http():
    with requests.Session() as session:
        session.trust_env = False  # never through a proxy from the environment
        yield session


def _timed(http: requests.Session, method: str, url: str, **kwargs) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = http.request(method, url, timeout=30, **kwargs)
    return response, time.monotonic() - started


def _token(http: requests.Session, server: SandboxServer) -> str:
    response = http.post(
        f"{server.url}/oauth/token",
        json={"client_id": server.client_id, "client_secret": server.client_secret},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def test_latency_set_at_start_delays_every_api_request(http):
    with SandboxServer(port=0, latency=LATENCY) as server:
        assert server.configure()["latency"] == LATENCY
        response, elapsed = _timed(
            http,
            "POST",
            f"{server.url}/oauth/token",
            json={"client_id": server.client_id, "client_secret": server.client_secret},
        )
        assert response.status_code == 200
        assert elapsed >= LATENCY
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        for method, path, body in (
            ("GET", "/account-list/v1/account-list", None),
            ("POST", "/account-list/v1/account-list", {"type": "Manual", "metadata": {"name": "Slow"}}),
            ("GET", "/no-such-route", None),
        ):
            response, elapsed = _timed(http, method, f"{server.url}{path}", json=body, headers=headers)
            assert response.status_code in (200, 404), response.text
            assert elapsed >= LATENCY, (method, path, elapsed)
        # Errors wait too: a request without a token is answered 401 after the latency.
        response, elapsed = _timed(http, "GET", f"{server.url}/account-list/v1/account-list")
        assert response.status_code == 401
        assert elapsed >= LATENCY


def test_latency_through_configure_and_back_to_zero(http):
    with SandboxServer(port=0) as server:
        assert server.configure()["latency"] == 0.0
        assert server.configure(latency=LATENCY)["latency"] == LATENCY
        token = _token(http, server)
        response, elapsed = _timed(
            http, "GET", f"{server.url}/account-list/v1/account-list", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
        assert elapsed >= LATENCY
        # The request log still sees the request, with its status.
        assert server.request_log()[-1]["status"] == 200
        server.configure(latency=0)
        assert server.configure()["latency"] == 0.0


def test_bad_latency_values_change_nothing():
    with SandboxServer(port=0, latency=LATENCY) as server:
        for bad in (-1, "slow", True, 61):
            with pytest.raises(ValueError, match="latency"):
                server.configure(latency=bad)
        assert server.configure()["latency"] == LATENCY
    with pytest.raises(ValueError, match="latency"):
        SandboxServer(port=0, latency=-0.5)


def test_latency_with_a_fault_delay_adds_up(http):
    with SandboxServer(port=0, latency=LATENCY) as server:
        token = _token(http, server)
        server.inject_fault("GET", "/account-list/v1/account-list", action="delay", delay=0.2)
        response, elapsed = _timed(
            http, "GET", f"{server.url}/account-list/v1/account-list", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
        assert elapsed >= LATENCY + 0.2


def test_cli_latency_flag(http):
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_bombora.sandbox", "--port", "0", "--latency", str(LATENCY)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    try:
        first_line = process.stdout.readline()
        assert "listening on " in first_line, first_line
        url = first_line.split("listening on ", 1)[1].strip()
        assert http.get(f"{url}/_sandbox/settings", timeout=30).json()["latency"] == LATENCY
        response, elapsed = _timed(http, "GET", f"{url}/account-list/v1/account-list")
        assert response.status_code == 401
        assert elapsed >= LATENCY
    finally:
        process.terminate()
        process.wait(timeout=30)

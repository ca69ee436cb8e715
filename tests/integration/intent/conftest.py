"""Fixtures of the Intent API tests: the session's sandbox with a small intent data set, and
authenticated calls to it with plain ``requests`` (never the provider's hook)."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_bombora.sandbox import SandboxServer
from airflow_provider_bombora.sandbox.state import Settings

DATA = "/intent/v1/data"
DEFINITION = "/intent/v1/signal-definition"
# Defaults of the data settings but a small data set, so that full reads stay fast, and a fixed
# week (a Wednesday), so that tests may compare weeks.
DATA_SETTINGS = {
    "intent_seed": 20240101,
    "intent_companies": 1500,
    "intent_date": "2024-06-05",
    "page_token_lifetime": 900,
    "max_page_bytes": 10_000_000,
}


@pytest.fixture(autouse=True)
def server(sandbox_server):
    """The session's sandbox (tests/conftest.py), reset, with the small data set; afterwards the
    data settings are back to their defaults for the other modules that share the server."""
    sandbox_server.reset()
    sandbox_server.configure(processing_delay=0.0, **DATA_SETTINGS)
    yield sandbox_server
    defaults = Settings()
    sandbox_server.configure(**{name: getattr(defaults, name) for name in DATA_SETTINGS})


@pytest.fixture
def api(server):
    with requests.Session() as session:
        session.trust_env = False  # never through a proxy from the environment
        yield Api(server, session)


class Api:
    """Authenticated calls to the sandbox."""

    def __init__(self, server: SandboxServer, http: requests.Session):
        self.server = server
        self.http = http
        self.token = self.authenticate()

    def authenticate(self) -> str:
        """A new access token, for a token call of its own, as after a reset."""
        response = self.http.post(
            f"{self.server.url}/oauth/token",
            json={"client_id": self.server.client_id, "client_secret": self.server.client_secret},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]
        return self.token

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.http.request(method, self.server.url + path, headers=headers, timeout=30, **kwargs)

    def start(self, body: dict) -> str:
        response = self.call("POST", DATA, json=body)
        assert response.status_code == 200, response.text
        return response.json()["pageToken"]

    def page(self, token: str, limit: int | None = None) -> requests.Response:
        params = {"pageToken": token} if limit is None else {"pageToken": token, "limit": limit}
        return self.call("GET", DATA, params=params)

    def pages(self, body: dict, limit: int | None = None) -> list[dict]:
        """Every page of the answer to ``body``, as parsed bodies."""
        pages = []
        token: str | None = self.start(body)
        while token is not None:
            response = self.page(token, limit)
            assert response.status_code == 200, response.text
            pages.append(response.json())
            token = pages[-1]["nextPageToken"]
        return pages

    def rows(self, body: dict, limit: int | None = None) -> list[dict]:
        return [row for page in self.pages(body, limit) for row in page["data"]]

    def create_definition(self, name: str, topics: list[dict], description: str | None = None) -> dict:
        body = {"metadata": {"name": name, "description": description}, "topics": topics}
        response = self.call("POST", DEFINITION, json=body)
        assert response.status_code == 202, response.text
        return response.json()


@pytest.fixture
def topic_ids(server):
    return server.topic_ids("Intent Data", "Cloud Security", "Customer Data Platform")

"""Fixtures of the hook's unit tests: a mocked API (requests-mock), no real waits, and a log
checked for secrets after every test."""

from __future__ import annotations

import logging

import pytest
import structlog
from airflow.sdk import Connection
from hook_doubles import TOKEN_URL, assert_no_secrets, make_connection, token_answer

from airflow_provider_bombora.hooks import base as hook_base
from airflow_provider_bombora.hooks.bombora import BomboraHook


@pytest.fixture(autouse=True)
def no_real_waits(monkeypatch) -> list[float]:
    """Record the waits between attempts instead of sleeping: the full-length waits of the policy."""
    waits: list[float] = []
    monkeypatch.setattr(BomboraHook, "_sleep", lambda self, seconds: waits.append(seconds))
    return waits


@pytest.fixture(autouse=True)
def log_text(caplog):
    """All log output of a test (structlog events and stdlib records), checked for secrets after it."""
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:

        def text() -> str:
            lines = []
            for event in events:
                message = event.get("event", "")
                if event.get("positional_args"):
                    message = message % event["positional_args"]
                lines.append(f"{event.get('log_level')} {message} {event!r}")
            return "\n".join(lines) + "\n" + caplog.text

        yield text
    assert_no_secrets(text())


@pytest.fixture
def masked(monkeypatch) -> list:
    values: list = []
    monkeypatch.setattr(hook_base, "mask_secret", lambda secret, name=None: values.append(secret))
    return values


@pytest.fixture
def use_connection(monkeypatch):
    """Make ``BomboraHook.get_connection`` return a connection built from the given fields."""

    def use(**fields) -> Connection:
        connection = make_connection(**fields)
        monkeypatch.setattr(BomboraHook, "get_connection", classmethod(lambda cls, conn_id: connection))
        return connection

    return use


@pytest.fixture
def api(requests_mock, use_connection):
    """The default connection and a token endpoint that always grants ``TOKEN``."""
    use_connection()
    requests_mock.post(TOKEN_URL, **token_answer())
    return requests_mock

"""What the hook's unit tests share: the mocked API's addresses, the credentials, and checks."""

from __future__ import annotations

import json
from typing import TypeVar
from urllib.parse import urlsplit

import pytest
from airflow.sdk import Connection

from airflow_provider_bombora.hooks.bombora import BomboraHook

REAL_SLEEP = BomboraHook._sleep
CLIENT_ID = "client-id-7f3a"
SECRET = "very-secret-client-secret-91c2"
TOKEN = "access-token-first-5d0e"
TOKEN_2 = "access-token-second-a81b"
BASE = "https://api.bombora.com"
TOKEN_URL = f"{BASE}/oauth/token"
LISTS_PATH = "/account-list/v1/account-list"
LISTS_URL = BASE + LISTS_PATH
LIST_ID = "0b7d7c3e-1111-4e2a-9f00-000000000001"
LIST_URL = f"{LISTS_URL}/{LIST_ID}"


def token_answer(token: str = TOKEN, expires_in: int = 86400) -> dict:
    return {"json": {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}}


def make_connection(*, host=None, login=CLIENT_ID, password=SECRET, port=None, extra=None) -> Connection:
    return Connection(
        conn_id="bombora_default",
        conn_type="bombora",
        host=host,
        login=login,
        password=password,
        port=port,
        extra=json.dumps(extra) if extra is not None else None,
    )


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in (SECRET, TOKEN, TOKEN_2):
            assert secret not in text


E = TypeVar("E", bound=Exception)


def raised(exc_type: type[E], call, *args, **kwargs) -> E:
    """The exception ``call`` raises, checked to be ``exc_type`` and to contain no secret."""
    with pytest.raises(exc_type) as info:
        call(*args, **kwargs)
    error = info.value
    assert_no_secrets(str(error), repr(error), repr(error.args), repr(vars(error)))
    return error


def paths(api, method: str | None = None) -> list[str]:
    return [urlsplit(request.url).path for request in api.request_history if method is None or request.method == method]


def count(api, url: str) -> int:
    return sum(1 for request in api.request_history if request.url == url)

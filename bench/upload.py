"""Benchmark 1: upload throughput of account batches into an empty list.

Four clients send the same domains to the same server, one after the other, repeated and
interleaved so that a noisy neighbour slows them alike; each repeat uploads into a list
created for it (the setup: token, list, connection, is not timed):

* ``provider``: :meth:`BomboraHook.add_accounts` with batches of ``batch_size``;
* ``ceiling``: a bare ``requests.Session`` posting the same batches, serialised beforehand:
  what any client of ``requests`` can reach against this server;
* ``HttpHook``: what a user writes without the provider: a loop of
  ``HttpHook(method="POST").run(...)`` of apache-airflow-providers-http, one call a batch;
* ``per-account``: the provider sending one account per request, on a small sample.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import requests

from airflow_provider_bombora.hooks.bombora import BomboraHook
from airflow_provider_bombora.hooks.wire import ACCOUNT_LISTS_PATH, TOKEN_PATH, json_bytes
from bench.servers import RunningServer

PROVIDER = "provider (BomboraHook.add_accounts)"
CEILING = "ceiling (bare requests.Session)"
HTTP_HOOK = "HttpHook.run loop"
PER_ACCOUNT = "provider, 1 account/request"


@dataclass(frozen=True)
class UploadFigure:
    """One client's upload against one server: the fastest of its repeats."""

    server: str
    client: str
    accounts: int
    requests: int
    seconds: float
    repeats: int

    @property
    def accounts_per_second(self) -> float:
        return self.accounts / self.seconds


def _connection_id(server: RunningServer, kind: str) -> str:
    """Set an Airflow connection to ``server`` in the environment and return its id."""
    conn_id = f"bench_{kind}_{server.name.replace(' ', '_')}"
    connection = json.loads(server.connection_json)
    if kind == "http":
        # The credentials go in the token request's body; HttpHook would send them as basic auth.
        connection = {"conn_type": "http", "host": server.url}
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(connection)
    return conn_id


def _batches(domains: Sequence[str], batch_size: int) -> list[Sequence[str]]:
    return [domains[start : start + batch_size] for start in range(0, len(domains), batch_size)]


def _accounts_body(batch: Sequence[str]) -> bytes:
    """The body the provider sends for ``batch``, by the hook's own serialiser."""
    return json_bytes([{"domain": domain} for domain in batch])


class _Uploads:
    """The clients of one server; each method sets up (untimed) and returns the upload's seconds."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.bombora_conn_id = _connection_id(server, "bombora")
        self.http_conn_id = _connection_id(server, "http")
        connection = json.loads(server.connection_json)
        self.credentials = {"client_id": connection["login"], "client_secret": connection["password"]}

    def _new_list(self) -> str:
        return BomboraHook(self.bombora_conn_id).create_account_list(f"bench-upload-{uuid.uuid4()}")

    def provider(self, domains: Sequence[str], batch_size: int) -> float:
        hook = BomboraHook(self.bombora_conn_id)
        # Created by the hook being measured, so that its token and connection are ready too.
        list_id = hook.create_account_list(f"bench-upload-{uuid.uuid4()}")
        start = time.perf_counter()
        hook.add_accounts(list_id, domains, batch_size)
        return time.perf_counter() - start

    def ceiling(self, domains: Sequence[str], batch_size: int) -> float:
        session = requests.Session()
        token = session.post(self.server.url + TOKEN_PATH, json=self.credentials).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        url = f"{self.server.url}{ACCOUNT_LISTS_PATH}/{self._new_list()}/accounts"
        bodies = [_accounts_body(batch) for batch in _batches(domains, batch_size)]
        start = time.perf_counter()
        for body in bodies:
            session.post(url, data=body, headers=headers).raise_for_status()
        return time.perf_counter() - start

    def http_hook(self, domains: Sequence[str], batch_size: int) -> float:
        from airflow.providers.http.hooks.http import HttpHook

        http = HttpHook(method="POST", http_conn_id=self.http_conn_id)
        token_answer = http.run(TOKEN_PATH, json.dumps(self.credentials), {"Content-Type": "application/json"})
        headers = {"Authorization": f"Bearer {token_answer.json()['access_token']}", "Content-Type": "application/json"}
        endpoint = f"{ACCOUNT_LISTS_PATH}/{self._new_list()}/accounts"
        start = time.perf_counter()
        for batch in _batches(domains, batch_size):
            # HttpHook.run annotates `data` as dict | str | None, but it passes it to requests,
            # which sends bytes as they are: the same body as the other clients send.
            http.run(endpoint, _accounts_body(batch), headers)  # type: ignore[arg-type]
        return time.perf_counter() - start


def http_hook_installed() -> bool:
    """Whether apache-airflow-providers-http (the ``bench`` extra) is installed."""
    return importlib.util.find_spec("airflow.providers.http") is not None


def measure_uploads(
    servers: Sequence[RunningServer],
    domains: Sequence[str],
    *,
    batch_size: int,
    per_account_sample: int,
    repeats: int,
) -> list[UploadFigure]:
    """Upload ``domains`` with each client to each server; the per-account client sends a sample.

    Each figure is the fastest of ``repeats`` runs: on a shared machine noise only slows a run down.
    The HttpHook client is left out when apache-airflow-providers-http is not installed.
    """
    figures = []
    for server in servers:
        uploads = _Uploads(server)
        sample = domains[:per_account_sample]
        clients: list[tuple[str, Callable[[Sequence[str], int], float], Sequence[str], int]] = [
            (PROVIDER, uploads.provider, domains, batch_size),
            (CEILING, uploads.ceiling, domains, batch_size),
            (HTTP_HOOK, uploads.http_hook, domains, batch_size),
            (PER_ACCOUNT, uploads.provider, sample, 1),
        ]
        if not http_hook_installed():
            clients = [client for client in clients if client[0] != HTTP_HOOK]
        seconds: dict[str, list[float]] = {name: [] for name, *_ in clients}
        for _ in range(repeats):
            for name, upload, accounts, size in clients:
                seconds[name].append(upload(accounts, size))
        figures += [
            UploadFigure(
                server=server.name,
                client=name,
                accounts=len(accounts),
                requests=math.ceil(len(accounts) / size),
                seconds=min(seconds[name]),
                repeats=repeats,
            )
            for name, _upload, accounts, size in clients
        ]
    return figures

"""The sandbox server's construction and connection strings, with no server running.

Constructing a ``SandboxServer`` binds its loopback socket but serves nothing until ``start()``,
so these tests need no running server (moved from tests/integration/test_sandbox.py).
"""

from __future__ import annotations

import pytest

from airflow_provider_bombora.sandbox import SandboxServer


@pytest.fixture
def unstarted():
    """Build SandboxServers that are never started; their sockets are closed afterwards."""
    servers = []

    def build(*args, **kwargs) -> SandboxServer:
        servers.append(SandboxServer(*args, **kwargs))
        return servers[-1]

    yield build
    for server in servers:
        server.stop()


def test_binding_is_loopback_only_unless_allowed():
    with pytest.raises(ValueError, match="allow_remote"):
        SandboxServer("192.0.2.10")
    with pytest.raises(ValueError, match=r"Refusing to bind the Bombora sandbox to 'example\.com'"):
        SandboxServer("example.com")
    local = SandboxServer("localhost")
    assert local.url == f"http://127.0.0.1:{local.port}"
    local.stop()
    local.stop()  # idempotent, also when never started


def test_connection_uri_and_json_round_trip_through_airflow(unstarted):
    from airflow.models.connection import Connection

    server = unstarted()
    for connection in (
        Connection(conn_id="bombora_default", uri=server.connection_uri()),
        Connection.from_json(server.connection_json(), conn_id="bombora_default"),
    ):
        assert connection.conn_type == "bombora"
        assert connection.host == server.url
        assert (connection.login, connection.password) == (server.client_id, server.client_secret)

    odd = unstarted(client_id="id with space", client_secret="p@ss/word:%")
    connection = Connection(conn_id="bombora_default", uri=odd.connection_uri())
    assert (connection.host, connection.login, connection.password) == (odd.url, odd.client_id, odd.client_secret)

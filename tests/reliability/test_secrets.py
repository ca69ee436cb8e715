"""Secrets: the client secret and the access tokens never appear in clear, and the transport
never exposes them (no plain http off loopback, TLS verified unless explicitly turned off).

The sandbox here is a dedicated one whose Client ID and secret are random, so that a match in
any text is a leak and nothing else. The access tokens are those the sandbox issued, read from
its in-process state (``app.state.sandbox.tokens``): nothing is patched to learn them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import socket
import threading
import time
import traceback
from pathlib import Path
from types import SimpleNamespace

import pendulum
import pytest
import requests
import uvicorn
from helpers import LISTS, MAPPINGS, TOKEN, UPLOADS, seed_owned_list

from airflow_provider_bombora.exceptions import BomboraApiError, BomboraAuthError, BomboraConfigError
from airflow_provider_bombora.hooks.bombora import BomboraHook
from airflow_provider_bombora.hooks.bombora_async import BomboraAsyncHook
from airflow_provider_bombora.sandbox import SandboxServer
from airflow_provider_bombora.sandbox.app import create_app

DAGS = Path(__file__).resolve().parents[2] / "dags"
CLIENT_ID = f"client-{secrets.token_hex(8)}"
SECRET = f"secret-{secrets.token_urlsafe(24)}"


@pytest.fixture(scope="module")
def secret_server():
    with SandboxServer(port=0, client_id=CLIENT_ID, client_secret=SECRET) as server:
        yield server


@pytest.fixture
def bombora(secret_server, monkeypatch):
    """The dedicated sandbox, reset, with ``bombora_default`` pointing at it."""
    secret_server.reset()
    secret_server.configure(processing_delay=0.0, token_lifetime=86400, log_bodies=True)
    monkeypatch.setenv("AIRFLOW_CONN_BOMBORA_DEFAULT", secret_server.connection_json())
    return secret_server


def issued_tokens(server) -> list[str]:
    return list(server.app.state.sandbox.tokens)


def assert_clean(text: str, tokens: list[str], where: str) -> None:
    assert SECRET not in text, f"the client secret appears in {where}"
    for token in tokens:
        assert token not in text, f"an access token appears in {where}"


def run_records(dag_id: str) -> dict[str, str]:
    """What a run left in the metadata DB, as text: rendered template fields, every XCom,
    deferral kwargs and triggers."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    texts: dict[str, str] = {}
    with create_session() as session:
        rendered = select(RenderedTaskInstanceFields).where(RenderedTaskInstanceFields.dag_id == dag_id)
        for row in session.scalars(rendered):
            texts[f"rendered fields of {row.task_id}"] = json.dumps(row.rendered_fields, default=str)
        for row in session.scalars(select(XComModel).where(XComModel.dag_id == dag_id)):
            texts[f"XCom {row.task_id}.{row.key}"] = json.dumps(row.value, default=str)
        for ti in session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_id)):
            texts[f"next_kwargs of {ti.task_id}"] = json.dumps(ti.next_kwargs, default=str)
        for trigger in session.scalars(select(Trigger)):
            texts[f"trigger {trigger.id}"] = f"{trigger.classpath} {trigger.encrypted_kwargs} " + json.dumps(
                trigger.kwargs, default=str
            )
    return texts


def test_example_dag_run_leaks_no_secret_or_token(bombora, run_dag_file):
    # A retried token call, and every token expiring at the first upload: the run logs retries,
    # a token renewal and its progress; none of it may carry the secret or a token.
    bombora.inject_fault("POST", TOKEN, status=429, retry_after="1")
    bombora.inject_fault("POST", UPLOADS, action="expire_tokens")

    outcome = run_dag_file(DAGS / "example_bombora_abm.py", "example_bombora_abm")

    assert set(outcome.task_states.values()) == {"success"}, outcome.output[-3000:]
    tokens = issued_tokens(bombora)
    assert len(tokens) >= 2  # the first, expired one and its replacement
    assert "Bombora refused the access token" in outcome.output  # the renewal did happen
    assert_clean(outcome.output, tokens, "the run's logs")
    assert_clean(json.dumps(outcome.xcom, default=str), tokens, "the XCom return values")
    records = run_records("example_bombora_abm")
    assert any(name.startswith("rendered fields of activate") for name in records)
    for name, text in records.items():
        assert_clean(text, tokens, name)


DEFERRED_DAG = """
from airflow.sdk import DAG

from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator
from airflow_provider_bombora.sensors.bombora import BomboraExportStatusSensor

with DAG("secrets_deferred", schedule=None) as dag:
    activate = BomboraActivateAudienceOperator(
        task_id="activate",
        audience_name="Secret audience",
        accounts=[{{"accountKey": {{"sourceKey": "k1"}}, "accountOrganization": {{"domain": "acme.com"}}}}],
        mappings={mappings!r},
        poll_interval=0.05,
    )
    activate >> BomboraExportStatusSensor(
        task_id="wait",
        account_list_id=activate.output["account_list_id"],
        submitted_after=activate.output["submitted_at"],
        deferrable=True,
        poke_interval=0.1,
        timeout=60,
    )
"""


def test_deferred_sensor_run_leaks_no_secret_or_token(bombora, run_dag):
    """The sensor's first poke finds the update pending and defers; the trigger (own token,
    through the async hook) sees it applied. Logs, XComs, rendered fields and the trigger's
    stored kwargs stay clean."""
    # The upload is applied 2.5 s after it is sent: long enough for the first poke to find it
    # pending on a loaded machine, so that the sensor defers.
    bombora.configure(processing_delay=2.5)
    bombora.inject_fault("GET", "/account-list/**", action="expire_tokens", after=4)

    outcome = run_dag("secrets_deferred", DEFERRED_DAG.format(mappings=MAPPINGS))

    assert outcome.task_states == {"activate": "success", "wait": "success"}, outcome.output[-3000:]
    tokens = issued_tokens(bombora)
    assert len(tokens) >= 2
    assert_clean(outcome.output, tokens, "the run's logs")
    assert_clean(json.dumps(outcome.xcom, default=str), tokens, "the XCom return values")
    assert "('Secret audience'): 1 added" in outcome.output, outcome.output[-3000:]  # the logs were captured
    records = run_records("secrets_deferred")
    list_id = outcome.xcom["activate"]["account_list_id"]
    assert any(name.startswith("trigger") and list_id in text for name, text in records.items())  # it deferred
    for name, text in records.items():
        assert_clean(text, tokens, name)


def test_trigger_repr_serialisation_and_events_carry_no_secret(bombora, caplog):
    from airflow_provider_bombora.triggers.bombora import BomboraExportStatusTrigger

    seeded = seed_owned_list(bombora, "Watched", "x.y", ["acme.com"], "2026-11-26T00:00:00+00:00")
    trigger = BomboraExportStatusTrigger(account_list_id=seeded["id"], deadline=time.time() + 30, poll_interval=0.05)

    async def first_event():
        async for event in trigger.run():
            return event

    event = asyncio.run(first_event())
    tokens = issued_tokens(bombora)
    assert tokens and event.payload["status"] == "success"
    assert_clean(repr(trigger), tokens, "repr(trigger)")
    assert_clean(json.dumps(trigger.serialize(), default=str), tokens, "the serialised trigger")
    assert_clean(json.dumps(event.payload, default=str), tokens, "the trigger's event")
    assert_clean(caplog.text, tokens, "the trigger's logs")


def full_text(error: BaseException) -> str:
    """An exception as a task log shows it: message, repr, and the traceback with its causes."""
    return f"{error}\n{error!r}\n" + "".join(traceback.format_exception(error))


def echo_message(server) -> str:
    """A server answer that echoes every credential it has seen."""
    return f"echo: client_secret={SECRET} tokens={' '.join(issued_tokens(server))}"


@pytest.mark.parametrize("status", [400, 404, 409, 422, 500, 503])
def test_errors_echoing_credentials_are_redacted(bombora, status):
    hook = BomboraHook()
    hook.list_account_lists()  # a token is issued and cached
    tokens = issued_tokens(bombora)
    bombora.inject_fault("GET", LISTS, status=status, message=echo_message(bombora), count=10)

    with pytest.raises(BomboraApiError) as raised:
        hook.list_account_lists()

    assert raised.value.status == status
    assert "***" in str(raised.value)  # the echo was there, and redacted
    assert_clean(full_text(raised.value), tokens, f"the HTTP {status} error")
    assert_clean(repr(hook), tokens, "repr(hook)")


def test_refused_credentials_error_is_redacted(bombora):
    bombora.inject_fault("POST", TOKEN, status=401, message=f"bad client {CLIENT_ID}:{SECRET}")
    with pytest.raises(BomboraAuthError) as raised:
        BomboraHook().list_account_lists()
    assert "check its login and password" in str(raised.value)
    assert_clean(full_text(raised.value), [], "the authentication error")


def test_connection_errors_and_config_errors_are_clean(bombora, monkeypatch, secret_server):
    bombora.inject_fault("GET", LISTS, action="drop", count=10)
    hook = BomboraHook()
    with pytest.raises(BomboraApiError) as dropped:
        hook.list_account_lists()
    assert dropped.value.status is None
    ok, message = BomboraHook().test_connection()
    assert not ok
    tokens = issued_tokens(bombora)
    assert_clean(full_text(dropped.value) + message, tokens, "the connection error")

    connection = json.loads(secret_server.connection_json())
    for host in ("ftp://127.0.0.1", f"https://{CLIENT_ID}:{SECRET}@127.0.0.1", "http://10.1.2.3"):
        monkeypatch.setenv("AIRFLOW_CONN_BOMBORA_DEFAULT", json.dumps({**connection, "host": host}))
        with pytest.raises(BomboraConfigError) as config:
            BomboraHook().list_account_lists()
        assert_clean(full_text(config.value), tokens, f"the config error for {host.split(':')[0]}")
        ok, message = BomboraHook().test_connection()
        assert not ok
        assert_clean(message, tokens, "test_connection's message")


def test_async_hook_errors_and_repr_are_clean(bombora):
    async def call():
        async with BomboraAsyncHook() as hook:
            await hook.list_account_lists()
            bombora.inject_fault("GET", LISTS, status=500, message=echo_message(bombora), count=10)
            try:
                await hook.list_account_lists()
            except BomboraApiError as error:
                return hook, error
        raise AssertionError("no error")

    hook, error = asyncio.run(call())
    tokens = issued_tokens(bombora)
    assert "***" in str(error)
    assert_clean(full_text(error) + repr(hook), tokens, "the async hook's error and repr")


def test_operator_repr_and_templated_fields_are_clean(bombora):
    from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

    operator = BomboraActivateAudienceOperator(
        task_id="activate", dataflow_id="d.t", audience_name="A", accounts=[], mappings=MAPPINGS, allow_empty=True
    )
    when = pendulum.datetime(2026, 11, 27, tz="UTC")
    operator.execute({"logical_date": when, "data_interval_end": when})
    tokens = issued_tokens(bombora)
    assert tokens
    texts = [repr(operator), repr(operator.hook)]
    texts += [repr(getattr(operator, name)) for name in operator.template_fields]
    assert_clean("\n".join(texts), tokens, "the operator")


# --- transport ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "http://api.bombora.com",
        "http://10.0.0.1:8080",
        "http://[2001:db8::1]",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "http://0.0.0.0",
        "HTTP://API.BOMBORA.COM",
    ],
)
def test_plain_http_off_loopback_is_refused_before_any_request(bombora, monkeypatch, host):
    connection = json.loads(bombora.connection_json())
    if host == "http://0.0.0.0":  # on Linux this reaches the sandbox, were it allowed
        host = f"http://0.0.0.0:{bombora.port}"
    monkeypatch.setenv("AIRFLOW_CONN_BOMBORA_DEFAULT", json.dumps({**connection, "host": host}))
    opened = []
    real_connect = socket.socket.connect

    def recording_connect(self, address):
        opened.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)

    with pytest.raises(BomboraConfigError, match="uses plain http"):
        BomboraHook().list_account_lists()
    ok, message = BomboraHook().test_connection()

    async def async_call():
        async with BomboraAsyncHook() as hook:
            await hook.list_account_lists()

    with pytest.raises(BomboraConfigError, match="uses plain http"):
        asyncio.run(async_call())
    assert not ok and "uses plain http" in message
    assert opened == []
    assert bombora.request_log() == []


def test_plain_http_on_loopback_is_allowed(bombora, monkeypatch):
    for host in (bombora.url, f"http://localhost:{bombora.port}"):
        connection = {**json.loads(bombora.connection_json()), "host": host}
        monkeypatch.setenv("AIRFLOW_CONN_BOMBORA_DEFAULT", json.dumps(connection))
        assert BomboraHook().list_account_lists() == []


def self_signed_certificate(folder: Path) -> tuple[str, str]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bombora-sandbox-test")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """The sandbox's app behind TLS with a self-signed certificate no default trust store has."""
    cert, key = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    app = create_app(client_id=CLIENT_ID, client_secret=SECRET)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, ssl_certfile=cert, ssl_keyfile=key, log_config=None, log_level="warning", access_log=False,
        lifespan="off", timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the TLS sandbox did not start"
        time.sleep(0.01)
    yield SimpleNamespace(url=f"https://127.0.0.1:{sock.getsockname()[1]}", app=app, cert=cert)
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture
def tls(tls_server, monkeypatch):
    tls_server.app.state.request_log.clear()

    def use(**extra) -> None:
        connection = {"conn_type": "bombora", "host": tls_server.url, "login": CLIENT_ID, "password": SECRET}
        monkeypatch.setenv("AIRFLOW_CONN_BOMBORA_DEFAULT", json.dumps({**connection, "extra": extra}))

    tls_server.use = use
    tls_server.requests = lambda: tls_server.app.state.request_log.since(0)
    return tls_server


def test_tls_certificates_are_verified_by_default(tls, caplog):
    tls.use()
    with pytest.raises(
        BomboraApiError, match=r"its TLS certificate is not trusted \(self-signed certificate\)"
    ) as raised:
        BomboraHook().list_account_lists()
    assert raised.value.status is None
    assert "retrying" not in caplog.text  # a certificate problem is not retried
    assert tls.requests() == []  # the handshake failed: no request, no secret sent

    async def async_call():
        async with BomboraAsyncHook() as hook:
            await hook.list_account_lists()

    with pytest.raises(BomboraApiError):
        asyncio.run(async_call())
    assert tls.requests() == []


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize(
    ("extra", "argument"),
    [({"verify": False}, None), ({"verify": "false"}, None), ({}, False), ("ca-bundle", None)],
    ids=["extra false", "extra 'false' (URI form)", "hook argument False", "extra CA bundle path"],
)
def test_tls_verification_is_off_or_changed_only_when_asked(tls, extra, argument):
    tls.use(**({"verify": tls.cert} if extra == "ca-bundle" else extra))
    hook = BomboraHook(verify=argument)
    assert hook.list_account_lists() == []
    assert [entry["path"] for entry in tls.requests()] == [TOKEN, LISTS]


@pytest.mark.parametrize("value", ["no", "0", "", "off", 0, "/nonexistent/ca.pem"])
def test_ambiguous_verify_values_are_refused_not_read_as_off(tls, value):
    tls.use(verify=value)
    with pytest.raises(BomboraConfigError, match="verify"):
        BomboraHook().list_account_lists()
    assert tls.requests() == []


def test_a_plain_session_sees_the_same_certificate_failure(tls):
    """The failure above is TLS verification itself (requests' default), not something else."""
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tls.url + "/_sandbox/settings", timeout=10)
    assert requests.get(tls.url + "/_sandbox/settings", timeout=10, verify=tls.cert).ok

"""BomboraHook against a mocked HTTP transport (requests-mock): auth, retries, errors, batching.

Every test runs with the hook's ``_sleep`` replaced by a recorder (no real waiting) and checks,
on teardown, that neither the client secret nor an access token reached the log.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import threading
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
import requests
from hook_doubles import (
    BASE,
    CLIENT_ID,
    LIST_ID,
    LIST_URL,
    LISTS_PATH,
    LISTS_URL,
    REAL_SLEEP,
    SECRET,
    TOKEN,
    TOKEN_2,
    TOKEN_URL,
    assert_no_secrets,
    count,
    paths,
    raised,
    token_answer,
)

from airflow_provider_bombora import __version__, get_provider_info
from airflow_provider_bombora.exceptions import (
    BomboraApiError,
    BomboraAuthError,
    BomboraConfigError,
    BomboraConflictError,
    BomboraNotFoundError,
    BomboraPendingUpdateError,
    BomboraValidationError,
)
from airflow_provider_bombora.hooks import base as hook_base
from airflow_provider_bombora.hooks.bombora import BomboraHook
from airflow_provider_bombora.hooks.http_rules import error_for_response, retry_after_seconds, retry_wait_seconds
from airflow_provider_bombora.hooks.settings import ClientOptions, resolve_base_url

# --- Construction, connection form, base URL --------------------------------------------------


def test_constructing_reads_no_connection_and_sends_nothing(monkeypatch, requests_mock):
    def refuse(cls, conn_id):
        raise AssertionError("the connection was read")

    monkeypatch.setattr(BomboraHook, "get_connection", classmethod(refuse))
    hook = BomboraHook(
        "my_bombora", timeout=5, connect_timeout=2, max_attempts=2, max_retry_wait=1, verify=False
    )
    assert repr(hook) == "BomboraHook(bombora_conn_id='my_bombora')"
    assert isinstance(hook.get_conn(), requests.Session)
    assert BomboraHook().bombora_conn_id == "bombora_default"
    assert requests_mock.call_count == 0


def test_class_attributes():
    assert BomboraHook.conn_name_attr == "bombora_conn_id"
    assert BomboraHook.default_conn_name == "bombora_default"
    assert BomboraHook.conn_type == "bombora"
    assert BomboraHook.hook_name == "Bombora"


def test_ui_field_behaviour_is_the_provider_info():
    declared = get_provider_info()["connection-types"][0]["ui-field-behaviour"]
    assert BomboraHook.get_ui_field_behaviour() == {
        "hidden_fields": declared["hidden-fields"],
        "relabeling": declared["relabeling"],
        "placeholders": declared["placeholders"],
    }
    assert BomboraHook.get_ui_field_behaviour()["relabeling"]["password"] == "Client secret"


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        (None, None, BASE),
        ("", None, BASE),
        ("  ", None, BASE),
        ("api.bombora.com", None, BASE),
        ("https://api.bombora.com/", None, BASE),
        ("HTTPS://api.bombora.com", None, BASE),
        ("https://proxy.corp/bombora/", None, "https://proxy.corp/bombora"),
        ("proxy.corp:8443/bombora", None, "https://proxy.corp:8443/bombora"),
        ("http://127.0.0.1:8080", None, "http://127.0.0.1:8080"),
        ("http://127.4.5.6", None, "http://127.4.5.6"),
        ("http://localhost:9000/", None, "http://localhost:9000"),
        ("http://[::1]:9000", None, "http://[::1]:9000"),
        ("http://127.0.0.1", 8080, "http://127.0.0.1:8080"),
        ("http://127.0.0.1:9000", 8080, "http://127.0.0.1:9000"),
    ],
)
def test_resolve_base_url(host, port, expected):
    assert resolve_base_url(host, port) == expected


@pytest.mark.parametrize(
    "host",
    ["http://api.bombora.com", "http://10.0.0.5:8080", "http://localhost.example.com", "http://[2001:db8::1]"],
)
def test_plain_http_is_refused_for_remote_hosts_before_any_request(requests_mock, use_connection, host):
    use_connection(host=host)
    requests_mock.post(f"{host}/oauth/token", **token_answer())
    requests_mock.get(f"{host}{LISTS_PATH}", json=[])
    error = raised(BomboraConfigError, BomboraHook().list_account_lists)
    assert "clear text" in str(error)
    assert "https://" in str(error)
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    ("host", "fragment"),
    [
        ("ftp://api.bombora.com", "https://"),
        ("https://user:pw@api.bombora.com", "credentials"),
        ("https://api.bombora.com?x=1", "query"),
        ("https://api.bombora.com:notaport", "not a valid URL"),
    ],
)
def test_unusable_base_urls_are_refused(host, fragment):
    with pytest.raises(BomboraConfigError, match=fragment):
        resolve_base_url(host)


def test_plain_http_to_loopback_is_allowed(requests_mock, use_connection):
    use_connection(host="http://127.0.0.1:8080")
    requests_mock.post("http://127.0.0.1:8080/oauth/token", **token_answer())
    requests_mock.get("http://127.0.0.1:8080" + LISTS_PATH, json=[])
    assert BomboraHook().list_account_lists() == []


def test_host_without_scheme_means_https(requests_mock, use_connection):
    use_connection(host="proxy.corp/bombora")
    requests_mock.post("https://proxy.corp/bombora/oauth/token", **token_answer())
    requests_mock.get("https://proxy.corp/bombora" + LISTS_PATH, json=[{"id": "1", "name": "a"}])
    hook = BomboraHook()
    assert hook.list_account_lists() == [{"id": "1", "name": "a"}]
    assert hook.base_url == "https://proxy.corp/bombora"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"login": None}, "Client ID (login)"),
        ({"login": ""}, "Client ID (login)"),
        ({"password": None}, "Client secret (password)"),
    ],
)
def test_missing_credentials_are_named(requests_mock, use_connection, fields, named):
    use_connection(**fields)
    error = raised(BomboraConfigError, BomboraHook().list_account_lists)
    assert named in str(error)
    assert "bombora_default" in str(error)
    assert requests_mock.call_count == 0


def test_connection_from_environment_variable(monkeypatch, requests_mock):
    monkeypatch.setenv(
        "AIRFLOW_CONN_BOMBORA_DEFAULT",
        json.dumps(
            {"conn_type": "bombora", "host": "http://127.0.0.1:5000", "login": CLIENT_ID, "password": SECRET}
        ),
    )
    requests_mock.post("http://127.0.0.1:5000/oauth/token", **token_answer())
    requests_mock.get("http://127.0.0.1:5000" + LISTS_PATH, json=[])
    assert BomboraHook().list_account_lists() == []


# --- Options ------------------------------------------------------------------------------------


def resolved_options(hook: BomboraHook) -> ClientOptions:
    return hook._get_settings().options


def test_option_defaults(use_connection):
    use_connection()
    assert resolved_options(BomboraHook()) == ClientOptions(
        connect_timeout=10.0,
        timeout=60.0,
        max_attempts=5,
        max_retry_wait=60.0,
        verify=True,
    )


def test_extras_override_defaults_and_arguments_override_extras(use_connection, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    use_connection(
        extra={
            "timeout": 30,
            "connect_timeout": "3.5",  # URI extras arrive as strings
            "max_attempts": 3,
            "max_retry_wait": 20,
            "verify": str(bundle),
        }
    )
    assert resolved_options(BomboraHook()) == ClientOptions(
        connect_timeout=3.5,
        timeout=30.0,
        max_attempts=3,
        max_retry_wait=20.0,
        verify=str(bundle),
    )
    hook = BomboraHook(
        timeout=90, connect_timeout=1, max_attempts=7, max_retry_wait=2, verify=False
    )
    assert resolved_options(hook) == ClientOptions(
        connect_timeout=1.0,
        timeout=90.0,
        max_attempts=7,
        max_retry_wait=2.0,
        verify=False,
    )


def test_verify_false_from_a_uri_extra(use_connection):
    use_connection(extra={"verify": "False"})
    assert resolved_options(BomboraHook()).verify is False


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("timeout", 0),
        ("timeout", -1),
        ("timeout", "soon"),
        ("timeout", True),
        ("connect_timeout", float("inf")),
        ("max_attempts", 0),
        ("max_attempts", 2.5),
        ("max_attempts", "many"),
        ("max_retry_wait", -0.1),
        ("verify", "/no/such/ca-bundle.pem"),
        ("verify", 1),
    ],
)
def test_invalid_options_are_rejected_naming_the_field(requests_mock, use_connection, option, value):
    use_connection(extra={option: value})
    error = raised(BomboraConfigError, BomboraHook().list_account_lists)
    assert option in str(error)
    assert "connection extra" in str(error)
    use_connection()
    error = raised(BomboraConfigError, BomboraHook(**{option: value}).list_account_lists)
    assert option in str(error)
    assert "hook argument" in str(error)
    assert requests_mock.call_count == 0


def test_unknown_extras_are_logged_with_the_closest_option(use_connection, log_text):
    use_connection(extra={"tiemout": 5, "colour": "blue"})
    _ = BomboraHook().base_url  # reading it reads the connection and its extras
    assert "ignoring unknown extra 'tiemout'; did you mean 'timeout'?" in log_text()
    assert "ignoring unknown extra 'colour'. The options are connect_timeout, timeout," in log_text()


def test_every_request_has_timeouts_verify_and_user_agent(api):
    api.get(LISTS_URL, json=[])
    BomboraHook(timeout=42, connect_timeout=4, verify=False).list_account_lists()
    for request in api.request_history:
        assert request.timeout == (4.0, 42.0)
        assert request.verify is False
        assert request.headers["User-Agent"] == f"airflow-provider-bombora/{__version__}"


def test_redirects_are_not_followed(api):
    # A followed redirect could carry the client secret to another host.
    api.post(TOKEN_URL, status_code=307, headers={"Location": "http://elsewhere.example/oauth/token"})
    api.post("http://elsewhere.example/oauth/token", **token_answer())
    error = raised(BomboraApiError, BomboraHook().list_account_lists)
    assert error.status == 307
    assert paths(api) == ["/oauth/token"]


# --- Session ------------------------------------------------------------------------------------


def test_one_session_is_reused_for_every_call(api, monkeypatch):
    api.get(LISTS_URL, json=[])
    used: list[requests.Session] = []
    send = requests.Session.request

    def spy(session, *args, **kwargs):
        used.append(session)
        return send(session, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    hook = BomboraHook()
    assert hook.get_conn() is hook.get_conn()
    hook.list_account_lists()
    hook.list_account_lists()
    assert len(used) == 3  # token + two calls
    assert all(session is hook.get_conn() for session in used)


# --- Token --------------------------------------------------------------------------------------


def test_token_request_and_bearer_header(api):
    api.get(LISTS_URL, json=[])
    BomboraHook().list_account_lists()
    token_request, call = api.request_history
    assert token_request.method == "POST"
    assert json.loads(token_request.body) == {"client_id": CLIENT_ID, "client_secret": SECRET}
    assert token_request.headers["Content-Type"] == "application/json"
    assert "Authorization" not in token_request.headers
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"


def test_token_is_reused_across_calls(api):
    api.get(LISTS_URL, json=[])
    hook = BomboraHook()
    for _ in range(3):
        hook.list_account_lists()
    assert count(api, TOKEN_URL) == 1
    assert count(api, LISTS_URL) == 3


@pytest.mark.parametrize(("expires_in", "refresh_after"), [(1000, 940), (100, 90)])
def test_token_is_refreshed_shortly_before_it_expires(api, monkeypatch, expires_in, refresh_after):
    api.post(TOKEN_URL, [token_answer(TOKEN, expires_in), token_answer(TOKEN_2, expires_in)])
    api.get(LISTS_URL, json=[])
    now = [5000.0]
    monkeypatch.setattr(hook_base.time, "monotonic", lambda: now[0])
    hook = BomboraHook()
    hook.list_account_lists()
    now[0] = 5000.0 + refresh_after - 1
    hook.list_account_lists()
    assert count(api, TOKEN_URL) == 1
    now[0] = 5000.0 + refresh_after + 1
    hook.list_account_lists()
    assert count(api, TOKEN_URL) == 2
    assert api.last_request.headers["Authorization"] == f"Bearer {TOKEN_2}"


def test_token_and_secret_are_masked(api, masked):
    api.get(LISTS_URL, json=[])
    BomboraHook().list_account_lists()
    assert TOKEN in masked
    assert SECRET in masked


def test_401_gets_one_new_token_and_one_repeat(api):
    api.post(TOKEN_URL, [token_answer(TOKEN), token_answer(TOKEN_2)])
    api.get(LISTS_URL, [{"status_code": 401, "json": {"message": "expired"}}, {"json": [{"id": "1"}]}])
    assert BomboraHook().list_account_lists() == [{"id": "1"}]
    assert count(api, TOKEN_URL) == 2
    assert [r.headers["Authorization"] for r in api.request_history if r.url == LISTS_URL] == [
        f"Bearer {TOKEN}",
        f"Bearer {TOKEN_2}",
    ]


def test_second_401_is_an_auth_error(api):
    api.post(TOKEN_URL, [token_answer(TOKEN), token_answer(TOKEN_2)])
    api.get(LISTS_URL, status_code=401, json={"message": "invalid token"})
    error = raised(BomboraAuthError, BomboraHook().list_account_lists)
    assert (error.status, error.method, error.path) == (401, "GET", LISTS_PATH)
    assert error.message == "invalid token"
    assert count(api, TOKEN_URL) == 2
    assert count(api, LISTS_URL) == 2


@pytest.mark.parametrize("status", [400, 401, 403])
def test_refused_credentials(api, status):
    # Even a server that echoes the credentials must not get them into the message.
    api.post(TOKEN_URL, status_code=status, json={"message": f"bad client {CLIENT_ID} / {SECRET}"})
    error = raised(BomboraAuthError, BomboraHook().list_account_lists)
    assert "refused the Client ID or Client secret" in str(error)
    assert CLIENT_ID not in str(error)
    assert error.status == status
    assert error.path == "/oauth/token"
    assert count(api, TOKEN_URL) == 1
    assert count(api, LISTS_URL) == 0


def test_token_call_is_retried(api, no_real_waits):
    api.post(TOKEN_URL, [{"status_code": 503}, {"exc": requests.ConnectionError}, token_answer()])
    api.get(LISTS_URL, json=[])
    assert BomboraHook().list_account_lists() == []
    assert count(api, TOKEN_URL) == 3
    assert len(no_real_waits) == 2


@pytest.mark.parametrize("answer", [{"json": {"token_type": "Bearer"}}, {"json": ["x"]}, {"text": "<html>"}])
def test_unusable_token_answer(api, answer):
    api.post(TOKEN_URL, **answer)
    raised(BomboraApiError, BomboraHook().list_account_lists)


def test_threads_share_one_token(api):
    granted = threading.Event()

    def slow_token(request, context):
        granted.wait(0.05)  # widen the window in which other threads would fetch their own
        return token_answer()["json"]

    api.post(TOKEN_URL, json=slow_token)
    api.get(LISTS_URL, json=[])
    hook = BomboraHook()
    errors: list[Exception] = []

    def work():
        try:
            hook.list_account_lists()
        except Exception as error:  # noqa: BLE001 - any error in a thread is reported below  # pragma: no cover
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(api, TOKEN_URL) == 1
    assert count(api, LISTS_URL) == 8


def test_threads_refused_the_same_token_renew_it_once(api):
    api.post(TOKEN_URL, [token_answer(TOKEN), token_answer(TOKEN_2), token_answer("one-token-too-many")])
    all_refused = threading.Barrier(4)

    def by_token(request, context):
        if request.headers["Authorization"] == f"Bearer {TOKEN}":
            with contextlib.suppress(threading.BrokenBarrierError):
                all_refused.wait(timeout=1)  # every thread holds the old token before any renews it
            context.status_code = 401
            return {"message": "revoked"}
        return []

    api.get(LISTS_URL, json=by_token)
    hook = BomboraHook()
    threads = [threading.Thread(target=hook.list_account_lists) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert count(api, TOKEN_URL) == 2


# --- Retries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retried_status_succeeds_later(api, no_real_waits, status):
    api.get(LISTS_URL, [{"status_code": status, "json": {"message": "busy"}}] * 2 + [{"json": [{"id": "1"}]}])
    assert BomboraHook().list_account_lists() == [{"id": "1"}]
    assert count(api, LISTS_URL) == 3
    assert len(no_real_waits) == 2


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
@pytest.mark.parametrize("max_attempts", [1, 3, None])
def test_retried_status_gives_up_after_max_attempts(api, no_real_waits, status, max_attempts):
    api.get(LISTS_URL, status_code=status, json={"message": "try later"})
    error = raised(BomboraApiError, BomboraHook(max_attempts=max_attempts).list_account_lists)
    attempts = max_attempts or 5
    assert type(error) is BomboraApiError
    assert (error.status, error.method, error.path, error.message) == (status, "GET", LISTS_PATH, "try later")
    assert count(api, LISTS_URL) == attempts
    assert len(no_real_waits) == attempts - 1


@pytest.mark.parametrize("exception", [requests.ConnectionError, requests.ConnectTimeout, requests.ReadTimeout])
def test_retried_exception_succeeds_later(api, no_real_waits, exception):
    api.get(LISTS_URL, [{"exc": exception}, {"exc": exception}, {"json": []}])
    assert BomboraHook().list_account_lists() == []
    assert count(api, LISTS_URL) == 3
    assert len(no_real_waits) == 2


@pytest.mark.parametrize("exception", [requests.ConnectionError, requests.ConnectTimeout, requests.ReadTimeout])
def test_retried_exception_gives_up_after_max_attempts(api, exception):
    api.get(LISTS_URL, exc=exception("connection reset by peer"))
    error = raised(BomboraApiError, BomboraHook(max_attempts=4).list_account_lists)
    assert type(error) is BomboraApiError
    assert error.status is None
    assert error.message is not None
    assert exception.__name__ in error.message
    assert "connection reset by peer" in error.message
    assert "no answer" in str(error)
    assert count(api, LISTS_URL) == 4


def test_certificate_errors_are_not_retried(api):
    api.get(LISTS_URL, exc=requests.exceptions.SSLError("certificate verify failed"))
    error = raised(BomboraApiError, BomboraHook().list_account_lists)
    assert error.message is not None
    assert "certificate verify failed" in error.message
    assert count(api, LISTS_URL) == 1


@pytest.mark.parametrize(
    ("status", "exc_type", "expected_requests"),
    [
        (400, BomboraApiError, 1),
        (401, BomboraAuthError, 2),  # one repeat with a new token
        (403, BomboraAuthError, 1),
        (404, BomboraNotFoundError, 1),
        (409, BomboraPendingUpdateError, 1),
        (422, BomboraApiError, 1),
    ],
)
def test_client_errors_are_not_retried(api, no_real_waits, status, exc_type, expected_requests):
    api.delete(LIST_URL + "/accounts", status_code=status, json={"message": f"no ({status})"})
    error = raised(exc_type, BomboraHook().empty_account_list, LIST_ID)
    assert type(error) is exc_type
    assert error.status == status
    assert count(api, LIST_URL + "/accounts") == expected_requests
    assert no_real_waits == []


def test_retry_after_seconds_is_honoured(api, no_real_waits):
    api.get(LISTS_URL, [{"status_code": 429, "headers": {"Retry-After": "7"}}, {"json": []}])
    BomboraHook().list_account_lists()
    assert no_real_waits == [7.0]


def test_retry_after_http_date_is_honoured(api, no_real_waits):
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    api.get(
        LISTS_URL,
        [
            {"status_code": 503, "headers": {"Retry-After": email.utils.format_datetime(when, usegmt=True)}},
            {"json": []},
        ],
    )
    BomboraHook().list_account_lists()
    (wait,) = no_real_waits
    assert 27 <= wait <= 30


@pytest.mark.parametrize(
    ("retry_after", "max_retry_wait", "expected"), [("3600", None, 60.0), ("3600", 5, 5.0), ("9", 5, 5.0)]
)
def test_retry_after_is_capped(api, no_real_waits, retry_after, max_retry_wait, expected):
    api.get(LISTS_URL, [{"status_code": 429, "headers": {"Retry-After": retry_after}}, {"json": []}])
    BomboraHook(max_retry_wait=max_retry_wait).list_account_lists()
    assert no_real_waits == [expected]


def test_retry_after_parsing():
    now = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("1.5", now) == 1.5
    assert retry_after_seconds("-4", now) == 0.0
    assert retry_after_seconds("Sat, 01 Mar 2025 12:00:45 GMT", now) == 45.0
    assert retry_after_seconds("Sat, 01 Mar 2025 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds("", now) is None
    assert retry_after_seconds(None, now) is None


def test_unusable_retry_after_falls_back_to_backoff(api, no_real_waits):
    api.get(LISTS_URL, [{"status_code": 429, "headers": {"Retry-After": "whenever"}}, {"json": []}])
    BomboraHook().list_account_lists()
    (wait,) = no_real_waits
    assert 1 <= wait <= 2


def test_backoff_grows_with_jitter_and_is_capped(api, no_real_waits):
    api.get(LISTS_URL, status_code=503)
    raised(BomboraApiError, BomboraHook(max_attempts=6).list_account_lists)
    assert len(no_real_waits) == 5
    for attempt, wait in enumerate(no_real_waits):
        assert 2**attempt <= wait <= 2**attempt + 1
    no_real_waits.clear()
    raised(BomboraApiError, BomboraHook(max_attempts=8, max_retry_wait=10).list_account_lists)
    assert max(no_real_waits) == 10
    assert no_real_waits[-3:] == [10, 10, 10]


def test_backoff_is_jittered():
    options = ClientOptions()
    waits = {retry_wait_seconds(3, None, options) for _ in range(20)}
    assert len(waits) > 1
    assert all(4 <= wait <= 5 for wait in waits)


def test_the_hook_really_sleeps_between_attempts(api, monkeypatch):
    monkeypatch.setattr(BomboraHook, "_sleep", REAL_SLEEP)  # record time.sleep instead
    slept: list[float] = []
    monkeypatch.setattr(hook_base.time, "sleep", slept.append)
    api.get(LISTS_URL, [{"status_code": 429, "headers": {"Retry-After": "2"}}, {"json": []}])
    BomboraHook().list_account_lists()
    assert slept == [2.0]


def test_each_retry_is_logged_without_secrets(api, log_text):
    api.get(LISTS_URL, [{"status_code": 503}, {"exc": requests.ReadTimeout("read timed out")}, {"json": []}])
    BomboraHook().list_account_lists()
    text = log_text()
    assert f"GET {LISTS_PATH}: HTTP 503 (attempt 1 of 5); retrying in" in text
    assert (
        f"GET {LISTS_PATH}: connection 'bombora_default' (API base URL {BASE}): timed out "
        "(ReadTimeout: read timed out); raise the timeout extras if Bombora is slow (attempt 2 of 5); retrying in"
    ) in text
    assert "warning" in text


# --- Errors -------------------------------------------------------------------------------------


def test_error_attributes_and_message(api):
    api.get(LIST_URL, status_code=404, json={"message": "Account list not found"})
    error = raised(BomboraNotFoundError, BomboraHook().get_account_list, LIST_ID)
    assert (error.status, error.method, error.path, error.message) == (
        404,
        "GET",
        f"{LISTS_PATH}/{LIST_ID}",
        "Account list not found",
    )
    assert str(error) == f"Bombora API GET {LISTS_PATH}/{LIST_ID} failed (HTTP 404): Account list not found"


def test_422_errors_are_included_compactly(api):
    api.post(LISTS_URL, status_code=422, json={"errors": {"name": ["is already in use"]}, "message": "Invalid"})
    error = raised(BomboraApiError, BomboraHook().create_account_list, "Audience A")
    assert error.message == 'Invalid; errors: {"name":["is already in use"]}'


def test_null_message_and_empty_body(api):
    api.delete(LIST_URL, [{"status_code": 409, "json": {"message": None}}, {"status_code": 422, "text": ""}])
    hook = BomboraHook()
    assert raised(BomboraPendingUpdateError, hook.delete_account_list, LIST_ID).message is None
    assert raised(BomboraApiError, hook.delete_account_list, LIST_ID).message is None


def test_non_json_error_body_is_truncated(api):
    api.get(LISTS_URL, status_code=400, text="<html>" + "Bad gateway page " * 500 + "</html>")
    error = raised(BomboraApiError, BomboraHook().list_account_lists)
    assert error.message is not None
    assert error.message.startswith("<html>Bad gateway page")
    assert len(error.message) <= 300


def test_secrets_echoed_by_the_server_are_redacted(api):
    api.get(LISTS_URL, status_code=400, json={"message": f"bad header Bearer {TOKEN}, secret {SECRET}"})
    error = raised(BomboraApiError, BomboraHook().list_account_lists)
    assert error.message == "bad header Bearer ***, secret ***"


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [
        (400, BomboraApiError),
        (401, BomboraAuthError),
        (403, BomboraAuthError),
        (404, BomboraNotFoundError),
        (409, BomboraConflictError),
        (422, BomboraApiError),
        (500, BomboraApiError),
    ],
)
def test_error_for_response(status, exc_type):
    error = error_for_response(status, b'{"message": "nope"}', method="PUT", path="/x")
    assert type(error) is exc_type
    assert (error.status, error.method, error.path, error.message) == (status, "PUT", "/x", "nope")


def test_a_409_of_the_account_list_api_is_a_pending_update():
    path = "/account-list/v1/account-list/l1/delete-accounts"
    error = error_for_response(409, b'{"message": "pending"}', method="POST", path=path)
    assert type(error) is BomboraPendingUpdateError
    assert isinstance(error, BomboraConflictError)
    digital = error_for_response(409, b"{}", method="POST", path="/digital-audiences/v1/adobe")
    assert type(digital) is BomboraConflictError


def test_error_for_response_bodies():
    assert error_for_response(400, '{"detail": "x"}', method="GET", path="/").message == '{"detail":"x"}'
    assert error_for_response(400, b"plain\n  text", method="GET", path="/").message == "plain text"
    assert error_for_response(400, b"", method="GET", path="/").message is None
    assert error_for_response(400, b"s3", method="GET", path="/", secrets=("s3", None)).message == "***"


def test_unexpected_answers_are_api_errors(api):
    api.get(LISTS_URL, json={"unexpected": True})
    api.post(LISTS_URL, status_code=202, json={"name": "no id"})
    api.get(LIST_URL + "/accounts/domains", text="not json")
    hook = BomboraHook()
    raised(BomboraApiError, hook.list_account_lists)
    assert raised(BomboraApiError, hook.create_account_list, "A").status == 202
    error = raised(BomboraApiError, hook.get_account_domains, LIST_ID)
    assert error.message is not None
    assert "expected an array of domains" in error.message


# --- Account List API ---------------------------------------------------------------------------

SUMMARIES = [
    {"id": "1", "name": "Audience A", "type": "Manual", "pendingUpdate": False},
    {"id": "2", "name": "audience a", "type": "Manual", "pendingUpdate": True},
]


@pytest.mark.parametrize("answer", [SUMMARIES, {"accountLists": SUMMARIES}])
def test_list_account_lists_accepts_both_shapes(api, answer):
    api.get(LISTS_URL, json=answer)
    assert BomboraHook().list_account_lists() == SUMMARIES


def test_find_account_list_matches_the_exact_name(api):
    api.get(LISTS_URL, json=SUMMARIES)
    hook = BomboraHook()
    exact = hook.find_account_list("Audience A")
    assert exact is not None
    assert exact["id"] == "1"
    lower_case = hook.find_account_list("audience a")
    assert lower_case is not None
    assert lower_case["id"] == "2"
    assert hook.find_account_list("Audience") is None


def test_find_account_list_refuses_ambiguous_names(api):
    api.get(LISTS_URL, json=[*SUMMARIES, {"id": "3", "name": "Audience A"}])
    error = raised(BomboraApiError, BomboraHook().find_account_list, "Audience A")
    assert error.message is not None
    assert "2 account lists are named 'Audience A'" in error.message


@pytest.mark.parametrize("status", [200, 202])
def test_create_account_list(api, status):
    api.post(LISTS_URL, status_code=status, json={"id": LIST_ID})
    hook = BomboraHook()
    assert hook.create_account_list("Audience A", "From Airflow") == LIST_ID
    assert json.loads(api.last_request.body) == {
        "type": "Manual",
        "metadata": {"name": "Audience A", "description": "From Airflow"},
        "specification": {},
    }
    assert api.last_request.headers["Content-Type"] == "application/json"
    hook.create_account_list("Audience B", type="Surge")
    assert json.loads(api.last_request.body) == {
        "type": "Surge",
        "metadata": {"name": "Audience B"},
        "specification": {},
    }


def test_get_update_delete_and_domains(api):
    definition = {"type": "Manual", "metadata": {"name": "A", "description": "d"}, "specification": {}}
    api.get(LIST_URL, json=definition)
    api.put(LIST_URL, json={**definition, "accountsLastModified": "2024-01-27T05:06:07"})
    api.delete(LIST_URL, status_code=200)
    api.delete(LIST_URL + "/accounts", status_code=200, text="")
    api.get(LIST_URL + "/accounts/domains", json=["acme.com", "globex.com"])
    hook = BomboraHook()
    assert hook.get_account_list(LIST_ID) == definition
    assert hook.update_account_list(LIST_ID, definition)["accountsLastModified"] == "2024-01-27T05:06:07"
    assert json.loads(api.last_request.body) == definition
    # Both are annotated to return None; the test checks the value at run time.
    assert hook.delete_account_list(LIST_ID) is None  # type: ignore[func-returns-value]  # checked on purpose
    assert hook.empty_account_list(LIST_ID) is None  # type: ignore[func-returns-value]  # checked on purpose
    assert hook.get_account_domains(LIST_ID) == ["acme.com", "globex.com"]
    assert [(r.method, urlsplit(r.url).path) for r in api.request_history[1:]] == [
        ("GET", f"{LISTS_PATH}/{LIST_ID}"),
        ("PUT", f"{LISTS_PATH}/{LIST_ID}"),
        ("DELETE", f"{LISTS_PATH}/{LIST_ID}"),
        ("DELETE", f"{LISTS_PATH}/{LIST_ID}/accounts"),
        ("GET", f"{LISTS_PATH}/{LIST_ID}/accounts/domains"),
    ]


def test_list_ids_are_quoted_and_must_not_be_empty(api):
    api.get(f"{LISTS_URL}/a%2F..%2Fb%20c", json={"type": "Manual"})
    hook = BomboraHook()
    hook.get_account_list("a/../b c")
    assert urlsplit(api.last_request.url).path == f"{LISTS_PATH}/a%2F..%2Fb%20c"
    api.reset_mock()
    for call in (hook.get_account_list, hook.delete_account_list, hook.empty_account_list):
        assert raised(BomboraValidationError, call, "").field == "account_list_id"
    assert api.call_count == 0


def test_add_accounts_batches_and_dedupes_lazily(api):
    consumed = 0
    bodies_at: list[int] = []

    def record_progress(request, context):
        bodies_at.append(consumed)
        return {}

    api.post(LIST_URL + "/accounts", status_code=202, json=record_progress)

    def domains():
        nonlocal consumed
        for number in range(2500):
            consumed += 1
            yield f"d{number}.com"
            if number % 3 == 2:  # never the last of a batch, so the repeat falls in the same batch
                consumed += 1
                yield f"d{number}.com"

    progress: list[int] = []
    sent = BomboraHook().add_accounts(LIST_ID, domains(), batch_size=1000, progress=progress.append)
    bodies = [json.loads(r.body) for r in api.request_history if r.url == LIST_URL + "/accounts"]
    assert sent == 2500
    assert [len(body) for body in bodies] == [1000, 1000, 500]
    assert [item["domain"] for body in bodies for item in body] == [f"d{n}.com" for n in range(2500)]
    assert progress == [1000, 2000, 2500]
    # Each batch was sent as soon as it was full: the input is not read ahead.
    assert bodies_at[0] < 1400 and bodies_at[1] < 2700
    request = api.last_request
    assert request.headers["Content-Type"] == "application/json"
    assert isinstance(request.body, bytes) and b" " not in request.body


def test_duplicates_within_a_batch_are_dropped_but_not_across_batches(api):
    api.post(LIST_URL + "/accounts", status_code=200)
    sent = BomboraHook().add_accounts(LIST_ID, ["a.com", "a.com", "b.com", "c.com", "a.com"], batch_size=2)
    bodies = [json.loads(r.body) for r in api.request_history if r.url == LIST_URL + "/accounts"]
    assert bodies == [[{"domain": "a.com"}, {"domain": "b.com"}], [{"domain": "c.com"}, {"domain": "a.com"}]]
    assert sent == 4


@pytest.mark.parametrize(
    "domains",
    [["acme.com", "globex.co.uk"], ['quo"te.com', "back\\slash.com"], ["bücher.example"], ["tab\t.com", "a.com"]],
)
def test_upload_bodies_are_exact_json_whatever_the_characters(api, domains):
    api.post(LIST_URL + "/accounts", status_code=202)
    BomboraHook().add_accounts(LIST_ID, domains)
    assert json.loads(api.last_request.body) == [{"domain": domain} for domain in domains]


def test_delete_accounts_batches(api):
    api.post(LIST_URL + "/delete-accounts", status_code=200)
    progress: list[int] = []
    ids = (domain for domain in ["a.com", "b.com", "a.com", "c.com", "d.com", "d.com"])
    sent = BomboraHook().delete_accounts(LIST_ID, ids, batch_size=3, progress=progress.append)
    bodies = [json.loads(r.body) for r in api.request_history if r.url == LIST_URL + "/delete-accounts"]
    assert bodies == [{"ids": ["a.com", "b.com", "c.com"]}, {"ids": ["d.com"]}]
    assert sent == 4
    assert progress == [3, 4]


def test_nothing_to_send_sends_nothing(api):
    hook = BomboraHook()
    assert hook.add_accounts(LIST_ID, []) == 0
    assert hook.delete_accounts(LIST_ID, iter(())) == 0
    assert api.call_count == 0


@pytest.mark.parametrize("batch_size", [0, -1, 10_001, 1.5, True, "ten"])
def test_batch_size_bounds(api, batch_size):
    hook = BomboraHook()
    assert raised(BomboraValidationError, hook.add_accounts, LIST_ID, ["a.com"], batch_size).field == "batch_size"
    assert raised(BomboraValidationError, hook.delete_accounts, LIST_ID, ["a.com"], batch_size).field == "batch_size"
    assert api.call_count == 0


def test_largest_batch_size_is_accepted(api):
    api.post(LIST_URL + "/accounts", status_code=200)
    domains = (f"d{n}.com" for n in range(10_000))
    assert BomboraHook().add_accounts(LIST_ID, domains, batch_size=10_000) == 10_000
    assert count(api, LIST_URL + "/accounts") == 1


def test_invalid_account_values(api):
    hook = BomboraHook()
    assert raised(BomboraValidationError, hook.add_accounts, LIST_ID, "acme.com").field == "domains"
    assert raised(BomboraValidationError, hook.delete_accounts, LIST_ID, ["a.com", 7]).field == "ids"
    assert raised(BomboraValidationError, hook.add_accounts, LIST_ID, [""]).field == "domains"
    assert api.call_count == 0


# --- test_connection ----------------------------------------------------------------------------


def test_test_connection_succeeds(api):
    api.get(LISTS_URL, json={"accountLists": SUMMARIES})
    expected = f"Connected to Bombora at {BASE}: 2 account lists visible"
    assert BomboraHook().test_connection() == (True, expected)


def test_test_connection_wrong_credentials(api):
    api.post(TOKEN_URL, status_code=401, json={"message": "Invalid client"})
    ok, reason = BomboraHook().test_connection()
    assert ok is False
    assert "refused the Client ID or Client secret" in reason
    assert_no_secrets(reason)


def test_test_connection_unreachable_host_makes_few_attempts(api, no_real_waits):
    api.post(TOKEN_URL, exc=requests.ConnectionError("Name or service not known"))
    ok, reason = BomboraHook(max_attempts=5).test_connection()
    assert ok is False
    assert "Name or service not known" in reason
    assert count(api, TOKEN_URL) == 2
    assert len(no_real_waits) == 1


def test_test_connection_keeps_waits_short(api, no_real_waits):
    api.post(TOKEN_URL, [{"status_code": 429, "headers": {"Retry-After": "60"}}, token_answer()])
    api.get(LISTS_URL, json=[])
    assert BomboraHook().test_connection()[0] is True
    assert no_real_waits == [5.0]


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"host": "http://api.bombora.com"}, "clear text"),
        ({"login": None}, "Client ID (login)"),
        ({"password": ""}, "Client secret (password)"),
        ({"extra": {"max_attempts": 0}}, "max_attempts"),
    ],
)
def test_test_connection_configuration_errors(requests_mock, use_connection, fields, fragment):
    use_connection(**fields)
    ok, reason = BomboraHook().test_connection()
    assert ok is False
    assert fragment in reason
    assert_no_secrets(reason)
    assert requests_mock.call_count == 0


def test_test_connection_missing_connection(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_BOMBORA", raising=False)
    ok, reason = BomboraHook("no_such_bombora").test_connection()
    assert ok is False
    assert "no_such_bombora" in reason


def test_repr_never_shows_secrets(api):
    api.get(LISTS_URL, json=[])
    hook = BomboraHook()
    hook.list_account_lists()
    assert repr(hook) == "BomboraHook(bombora_conn_id='bombora_default')"
    assert_no_secrets(repr(hook), repr(hook._settings), repr(hook._token))


# --- Proxies and CA bundle from the environment --------------------------------------------------


@pytest.fixture
def sent_kwargs(monkeypatch) -> list[dict]:
    """The keyword arguments of every ``Session.request`` call, which still goes to requests-mock."""
    calls: list[dict] = []
    original = requests.Session.request

    def record(session, method, url, **kwargs):
        calls.append(kwargs)
        return original(session, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", record)
    return calls


@pytest.mark.parametrize(
    ("environment", "hook_verify", "proxies", "verify"),
    [
        ({}, None, {}, True),
        ({"HTTPS_PROXY": "http://proxy.corp:3128"}, None, {"https": "http://proxy.corp:3128"}, True),
        ({"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": "api.bombora.com"}, None, {}, True),
        ({"REQUESTS_CA_BUNDLE": "/etc/corp-ca.pem"}, None, {}, "/etc/corp-ca.pem"),
        ({"REQUESTS_CA_BUNDLE": "/etc/corp-ca.pem"}, False, {}, False),
    ],
)
def test_environment_proxies_and_ca_bundle_are_read_once_and_used(
    api, monkeypatch, sent_kwargs, environment, hook_verify, proxies, verify
):
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    api.get(LISTS_URL, json=[])
    hook = BomboraHook(verify=hook_verify)

    hook.list_account_lists()
    monkeypatch.setenv("HTTPS_PROXY", "http://changed-later:1")
    hook.list_account_lists()

    assert hook.get_conn().trust_env is False  # requests itself does not rescan the environment
    assert [(kwargs["proxies"], kwargs["verify"]) for kwargs in sent_kwargs] == [(proxies, verify)] * 3


# --- Domains decoded lazily ----------------------------------------------------------------------


def test_iter_account_domains_decodes_the_answer_at_each_iteration(api):
    api.get(LIST_URL + "/accounts/domains", text=' [ "acme.com", "b\\u00fccher.example" ,"x.io"]\n')
    domains = BomboraHook().iter_account_domains(LIST_ID)
    assert list(domains) == list(domains) == ["acme.com", "bücher.example", "x.io"]
    assert api.call_count == 2  # the token, then the one GET


@pytest.mark.parametrize("text", ["", "{}", "[1]", '["a.com",]', '["a.com" "b.com"]', '["a.com"] []', '["a.com"'])
def test_iter_account_domains_refuses_what_is_not_an_array_of_strings(api, text):
    api.get(LIST_URL + "/accounts/domains", text=text)
    with pytest.raises(BomboraApiError, match="expected an array of domains") as error:
        list(BomboraHook().iter_account_domains(LIST_ID))
    assert (error.value.status, error.value.method) == (200, "GET")

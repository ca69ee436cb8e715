"""The Bombora sandbox, exercised over HTTP with plain ``requests`` (never the provider's hook)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests

from airflow_provider_bombora.sandbox import SandboxServer

LISTS = "/account-list/v1/account-list"


@pytest.fixture(scope="module")
def server():
    with SandboxServer(port=0) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def fresh_sandbox(server):
    server.reset()
    server.configure(processing_delay=0.0, token_lifetime=86400, log_bodies=True)


@pytest.fixture
def http():
    with requests.Session() as session:
        session.trust_env = False  # never through a proxy from the environment
        yield session


class Api:
    """Authenticated calls to the sandbox."""

    def __init__(self, server: SandboxServer, http: requests.Session):
        self.server = server
        self.http = http
        self.token = get_token(server, http)

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.http.request(method, self.server.url + path, headers=headers, timeout=10, **kwargs)

    def create_list(self, name: str, description: str | None = None) -> str:
        body = {"type": "Manual", "metadata": {"name": name, "description": description}, "specification": {}}
        response = self.call("POST", LISTS, json=body)
        assert response.status_code == 200, response.text
        return response.json()["id"]

    def definition(self, list_id: str) -> dict:
        return self.call("GET", f"{LISTS}/{list_id}").json()

    def domains(self, list_id: str) -> list[str]:
        return self.call("GET", f"{LISTS}/{list_id}/accounts/domains").json()


def get_token(server: SandboxServer, http: requests.Session) -> str:
    response = http.post(
        f"{server.url}/oauth/token",
        json={"client_id": server.client_id, "client_secret": server.client_secret},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture
def api(server, http):
    return Api(server, http)


def wait_until(condition, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


# Authentication


def test_token_for_the_right_credentials(server, http):
    response = http.post(
        f"{server.url}/oauth/token", json={"client_id": server.client_id, "client_secret": server.client_secret}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert isinstance(body["access_token"], str) and len(body["access_token"]) >= 20


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"json": {"client_id": "sandbox-client-id", "client_secret": "wrong"}}, 401),
        ({"json": {"client_id": "someone-else", "client_secret": "sandbox-client-secret"}}, 401),
        ({"data": {"client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret"}}, 400),
        ({"json": {"client_id": "sandbox-client-id"}}, 400),
        ({}, 400),
    ],
    ids=["wrong-secret", "wrong-id", "form-encoded", "no-secret", "no-body"],
)
def test_token_refused(server, http, kwargs, status):
    response = http.post(f"{server.url}/oauth/token", **kwargs)
    assert response.status_code == status
    assert set(response.json()) == {"message"}


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer not-a-token", "Basic abc"])
def test_api_calls_need_a_valid_token(server, http, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = http.get(server.url + LISTS, headers=headers)
    assert response.status_code == 401
    assert set(response.json()) == {"message"}


def test_expire_tokens_invalidates_every_token_issued(api, server, http):
    assert api.call("GET", LISTS).status_code == 200
    server.expire_tokens()
    assert api.call("GET", LISTS).status_code == 401
    api.token = get_token(server, http)
    assert api.call("GET", LISTS).status_code == 200


def test_tokens_expire_after_their_lifetime(server, http):
    server.configure(token_lifetime=1)
    response = http.post(
        f"{server.url}/oauth/token", json={"client_id": server.client_id, "client_secret": server.client_secret}
    )
    assert response.json()["expires_in"] == 1
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert wait_until(lambda: http.get(server.url + LISTS, headers=headers).status_code == 401)


# Account lists


def test_list_lifecycle(api):
    list_id = api.create_list("Q3 targets", "accounts for Q3")
    definition = api.definition(list_id)
    assert definition == {
        "id": list_id,
        "type": "Manual",
        "parentId": None,
        "metadata": {"name": "Q3 targets", "description": "accounts for Q3", "accountTotal": 0, "pendingUpdate": False},
        "specification": {},
        "accountsLastModified": None,
    }

    [summary] = api.call("GET", LISTS).json()
    assert set(summary) == {
        "id", "parentId", "type", "name", "description", "accountsLastModified",
        "accountTotal", "pendingUpdate", "createdDate", "modifiedDate",
    }  # fmt: skip
    assert (summary["id"], summary["name"], summary["accountTotal"]) == (list_id, "Q3 targets", 0)
    assert len(summary["createdDate"]) == len("2024-01-27T05:06:07.123456") and "+" not in summary["createdDate"]

    definition["metadata"] = {**definition["metadata"], "name": "Q4 targets", "description": None}
    response = api.call("PUT", f"{LISTS}/{list_id}", json=definition)
    assert response.status_code == 200
    assert response.json()["metadata"]["name"] == "Q4 targets"
    assert api.definition(list_id)["metadata"]["description"] is None

    assert api.call("DELETE", f"{LISTS}/{list_id}").status_code == 200
    assert api.call("GET", f"{LISTS}/{list_id}").status_code == 404
    assert api.call("GET", LISTS).json() == []


def test_list_names_are_unique(api):
    first = api.create_list("Alpha")
    second = api.create_list("Beta")
    body = {"type": "Manual", "metadata": {"name": "Alpha"}, "specification": {}}
    assert api.call("POST", LISTS, json=body).status_code == 422

    rename = {**api.definition(second), "metadata": {"name": "Alpha"}}
    assert api.call("PUT", f"{LISTS}/{second}", json=rename).status_code == 422
    keep_own_name = {**api.definition(first), "metadata": {"name": "Alpha", "description": "same name"}}
    assert api.call("PUT", f"{LISTS}/{first}", json=keep_own_name).status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"type": "Manual", "metadata": {}, "specification": {}}, 400),
        ({"type": "Manual", "specification": {}}, 400),
        ({"type": "Static", "metadata": {"name": "x"}}, 400),
        ({"metadata": {"name": "x"}}, 400),
        ({"type": "Derived", "metadata": {"name": "x"}, "specification": {}}, 422),
        (["not", "an", "object"], 400),
    ],
)
def test_create_list_refuses_bad_bodies(api, body, status):
    response = api.call("POST", LISTS, json=body)
    assert response.status_code == status
    assert set(response.json()) == {"message"}


def test_type_and_parent_cannot_be_modified(api):
    list_id = api.create_list("Fixed")
    definition = api.definition(list_id)
    assert api.call("PUT", f"{LISTS}/{list_id}", json={**definition, "type": "Surge"}).status_code == 422
    assert api.call("PUT", f"{LISTS}/{list_id}", json={**definition, "parentId": list_id}).status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "", None),
        ("PUT", "", {"metadata": {"name": "x"}}),
        ("DELETE", "", None),
        ("POST", "/accounts", [{"domain": "acme.com"}]),
        ("POST", "/delete-accounts", {"ids": ["acme.com"]}),
        ("DELETE", "/accounts", None),
        ("GET", "/accounts/domains", None),
    ],
)
def test_unknown_list_is_404(api, method, path, body):
    response = api.call(method, f"{LISTS}/00000000-0000-4000-8000-000000000000{path}", json=body)
    assert response.status_code == 404
    assert set(response.json()) == {"message"}


def test_unknown_routes_and_methods_answer_with_a_message(api, server, http):
    not_found = http.get(f"{server.url}/no/such/route")
    assert (not_found.status_code, set(not_found.json())) == (404, {"message"})
    not_allowed = api.call("PATCH", LISTS)
    assert (not_allowed.status_code, set(not_allowed.json())) == (405, {"message"})


def test_accounts_add_update_delete_and_empty(api):
    list_id = api.create_list("Accounts")
    accounts = [
        {"domain": "acme.com"},
        {"domain": "globex.com", "attributes": {"tier": "1"}},
        {"id": "crm-1", "domain": "acme.com"},
    ]
    response = api.call("POST", f"{LISTS}/{list_id}/accounts", json=accounts)
    assert response.status_code == 202
    definition = api.definition(list_id)
    assert definition["metadata"]["accountTotal"] == 3  # three identifiers ...
    assert definition["metadata"]["pendingUpdate"] is False
    assert definition["accountsLastModified"] is not None
    assert api.domains(list_id) == ["acme.com", "globex.com"]  # ... two distinct domains

    # An identifier already in the list is updated, not duplicated.
    api.call("POST", f"{LISTS}/{list_id}/accounts", json=[{"id": "crm-1", "domain": "initech.com"}])
    assert sorted(api.domains(list_id)) == ["acme.com", "globex.com", "initech.com"]
    assert api.definition(list_id)["metadata"]["accountTotal"] == 3

    response = api.call("POST", f"{LISTS}/{list_id}/delete-accounts", json={"ids": ["acme.com", "unknown.com"]})
    assert response.status_code == 200
    assert sorted(api.domains(list_id)) == ["globex.com", "initech.com"]

    for _ in range(2):  # emptying is idempotent
        assert api.call("DELETE", f"{LISTS}/{list_id}/accounts").status_code == 200
        assert api.domains(list_id) == []
        assert api.definition(list_id)["metadata"]["accountTotal"] == 0


@pytest.mark.parametrize(
    "body",
    [
        [{"domain": "acme.com"}, {"domain": "acme.com"}],
        [{"id": "a", "domain": "acme.com"}, {"id": "a", "domain": "globex.com"}],
        [{"domain": "a.com"}, {"id": "a.com", "domain": "b.com"}],
    ],
    ids=["same-domain", "same-id", "id-equals-other-domain"],
)
def test_duplicate_identifiers_reject_the_whole_request(api, body):
    list_id = api.create_list("Dupes")
    response = api.call("POST", f"{LISTS}/{list_id}/accounts", json=body)
    assert response.status_code == 400
    assert api.domains(list_id) == []
    assert api.definition(list_id)["accountsLastModified"] is None


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"domain": "acme.com"},
        [{"id": "x"}],
        [{"domain": "acme.com", "attributes": {"tier": 1}}],
        [{"domain": "acme.com", "attributes": {"note": 'say "hi"'}}],
    ],
    ids=["empty", "not-an-array", "no-domain", "non-string-attribute", "quote-in-attribute"],
)
def test_bad_account_bodies_are_400(api, body):
    list_id = api.create_list("Bad bodies")
    assert api.call("POST", f"{LISTS}/{list_id}/accounts", json=body).status_code == 400


@pytest.mark.parametrize("list_type", ["Derived", "Surge", "VisitorInsights"])
def test_only_manual_lists_accept_account_changes(api, server, list_type):
    seeded = server.seed_account_list(f"{list_type} list", type=list_type, domains=["acme.com"])
    base = f"{LISTS}/{seeded['id']}"
    assert api.call("POST", f"{base}/accounts", json=[{"domain": "globex.com"}]).status_code == 422
    assert api.call("POST", f"{base}/delete-accounts", json={"ids": ["acme.com"]}).status_code == 422
    assert api.call("DELETE", f"{base}/accounts").status_code == 422
    assert api.domains(seeded["id"]) == ["acme.com"]


def test_parent_of_a_derived_list_cannot_be_deleted(api, server):
    parent = server.seed_account_list("Parent", domains=["acme.com"])
    child = server.seed_account_list("Child", type="Derived", parent_id=parent["id"])
    assert api.definition(child["id"])["parentId"] == parent["id"]
    assert api.call("DELETE", f"{LISTS}/{parent['id']}").status_code == 409
    assert api.call("DELETE", f"{LISTS}/{child['id']}").status_code == 200
    assert api.call("DELETE", f"{LISTS}/{parent['id']}").status_code == 200


def test_writes_are_applied_after_the_processing_delay(api, server):
    list_id = api.create_list("Slow")
    api.call("POST", f"{LISTS}/{list_id}/accounts", json=[{"id": "a", "domain": "acme.com"}])
    applied_once = api.definition(list_id)
    server.configure(processing_delay=0.3)

    assert api.call("POST", f"{LISTS}/{list_id}/accounts", json=[{"id": "a", "domain": "one.com"}]).status_code == 202
    pending = api.definition(list_id)
    assert pending["metadata"]["pendingUpdate"] is True
    # Until the job is applied the list shows its state before the write.
    assert api.domains(list_id) == ["acme.com"]
    assert pending["accountsLastModified"] == applied_once["accountsLastModified"]
    [summary] = api.call("GET", LISTS).json()
    assert summary["pendingUpdate"] is True and summary["accountTotal"] == 1

    # Deleting or emptying must wait; adding is queued behind the pending job.
    assert api.call("POST", f"{LISTS}/{list_id}/delete-accounts", json={"ids": ["a"]}).status_code == 409
    assert api.call("DELETE", f"{LISTS}/{list_id}/accounts").status_code == 409
    assert api.call("POST", f"{LISTS}/{list_id}/accounts", json=[{"id": "a", "domain": "two.com"}]).status_code == 202

    assert wait_until(lambda: not api.definition(list_id)["metadata"]["pendingUpdate"])
    assert api.domains(list_id) == ["two.com"]  # jobs applied in order
    assert api.definition(list_id)["accountsLastModified"] > applied_once["accountsLastModified"]
    assert api.call("DELETE", f"{LISTS}/{list_id}/accounts").status_code == 200


# Faults


def test_status_fault_with_retry_after(api, server):
    list_id = api.create_list("Faulty")
    rule = server.inject_fault(
        "POST", f"{LISTS}/*/accounts", status=429, retry_after=2, count=2, message="slow down"
    )
    assert rule["id"] and rule["count"] == 2
    for _ in range(2):
        response = api.call("POST", f"{LISTS}/{list_id}/accounts", json=[{"domain": "acme.com"}])
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "2"
        assert response.json() == {"message": "slow down"}
    assert api.domains(list_id) == []  # faulted requests are not processed
    assert api.call("POST", f"{LISTS}/{list_id}/accounts", json=[{"domain": "acme.com"}]).status_code == 202


def test_fault_on_the_token_call_comes_before_credentials(server, http):
    http_date = "Wed, 21 Oct 2015 07:28:00 GMT"
    server.inject_fault("POST", "/oauth/token", status=503, retry_after=http_date)
    response = http.post(f"{server.url}/oauth/token", json={"client_id": "wrong", "client_secret": "wrong"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == http_date
    assert set(response.json()) == {"message"}
    assert get_token(server, http)


def test_drop_fault_closes_the_connection_without_a_response(api, server):
    server.inject_fault("GET", LISTS, action="drop")
    with pytest.raises(requests.ConnectionError):
        api.call("GET", LISTS)
    assert api.call("GET", LISTS).status_code == 200
    dropped, answered = server.request_log()[-2:]
    assert (dropped["status"], answered["status"]) == (None, 200)


def test_delay_fault_holds_the_request_then_processes_it(api, server):
    server.inject_fault("POST", LISTS, action="delay", delay=1.0)
    body = {"type": "Manual", "metadata": {"name": "Late"}, "specification": {}}
    with pytest.raises(requests.ReadTimeout):
        api.http.post(
            server.url + LISTS, json=body, headers={"Authorization": f"Bearer {api.token}"}, timeout=0.2
        )
    # The held request is still processed: the list appears.
    assert wait_until(lambda: [s["name"] for s in api.call("GET", LISTS).json()] == ["Late"])


def test_fault_matching_by_method_and_path_glob(api, server):
    list_id = api.create_list("Globs")
    server.inject_fault("DELETE", f"{LISTS}/*", status=500)  # one segment: not .../accounts
    server.inject_fault("*", "/account-list/**/domains", status=502)
    assert api.call("GET", f"{LISTS}/{list_id}").status_code == 200  # method differs
    assert api.call("DELETE", f"{LISTS}/{list_id}/accounts").status_code == 200
    assert api.call("GET", f"{LISTS}/{list_id}/accounts/domains").status_code == 502
    assert api.call("DELETE", f"{LISTS}/{list_id}").status_code == 500
    assert api.call("GET", f"{LISTS}/{list_id}").status_code == 200  # both rules used up

    server.inject_fault("*", "*", status=504, count=3)
    assert [api.call("GET", LISTS).status_code for _ in range(4)] == [504, 504, 504, 200]

    server.inject_fault("GET", LISTS, status=500)
    server.clear_faults()
    assert api.call("GET", LISTS).status_code == 200


def test_bad_fault_rules_are_refused(server):
    with pytest.raises(ValueError, match="status must be an HTTP error status"):
        server.inject_fault("GET", LISTS)  # a status fault needs a status
    with pytest.raises(ValueError, match="action must be one of status, drop, delay, expire_tokens"):
        server.inject_fault("GET", LISTS, action="explode")


# Admin API


def test_request_log_hides_the_secret(api, server, http):
    api.create_list("Logged")
    log = server.request_log()
    token_call, create_call = log
    assert token_call["path"] == "/oauth/token" and token_call["status"] == 200
    assert token_call["body"] == {"client_id": server.client_id, "client_secret": "***"}
    assert server.client_secret not in json.dumps(log)
    assert (create_call["method"], create_call["path"], create_call["status"]) == ("POST", LISTS, 200)
    assert create_call["body"]["metadata"]["name"] == "Logged"
    assert set(create_call) == {"seq", "time", "method", "path", "query", "status", "body", "fault"}
    assert create_call["fault"] is None

    http.get(f"{server.url}/_sandbox/settings")  # admin calls are not logged
    api.call("GET", LISTS, params={"a": "1"})
    [newer] = server.request_log(since=create_call["seq"])
    assert (newer["query"], newer["body"]) == ("a=1", None)

    server.configure(log_bodies=False)
    api.create_list("Unlogged")
    assert server.request_log()[-1]["body"] is None

    server.clear_request_log()
    assert server.request_log() == []


def test_reset_forgets_lists_tokens_faults_and_log(api, server):
    api.create_list("Gone")
    server.inject_fault("GET", "/nowhere", status=500)
    server.configure(processing_delay=0.5)
    server.reset()
    assert server.account_lists() == []
    assert server.request_log() == []
    assert api.call("GET", LISTS).status_code == 401  # the token is forgotten
    assert json.loads(api.http.get(f"{server.url}/_sandbox/faults").text) == []
    assert server.configure()["processing_delay"] == 0.5  # settings are kept


def test_seeded_lists(api, server):
    seeded = server.seed_account_list(
        "Surge list", type="Surge", description="from Bombora", domains=["acme.com", "globex.com", "acme.com"]
    )
    assert (seeded["type"], seeded["accountTotal"], seeded["pendingUpdate"]) == ("Surge", 2, False)
    assert seeded["accountsLastModified"] is not None
    assert api.domains(seeded["id"]) == ["acme.com", "globex.com"]
    [state] = server.account_lists()
    assert (state["id"], state["domains"]) == (seeded["id"], ["acme.com", "globex.com"])
    with pytest.raises(ValueError, match="An account list named 'Surge list' already exists"):
        server.seed_account_list("Surge list")  # name in use


def test_seeded_pending_update_clears_after_the_processing_delay(api, server):
    server.configure(processing_delay=0.3)
    seeded = server.seed_account_list("Busy", domains=["acme.com"], pending_update=True)
    assert api.definition(seeded["id"])["metadata"]["pendingUpdate"] is True
    assert api.call("DELETE", f"{LISTS}/{seeded['id']}/accounts").status_code == 409
    assert wait_until(lambda: not api.definition(seeded["id"])["metadata"]["pendingUpdate"])
    assert api.domains(seeded["id"]) == ["acme.com"]


def test_settings_are_validated(server):
    settings = server.configure(processing_delay=1, token_lifetime=60)
    # The account-list settings; the intent data's are checked with the Intent API's tests.
    assert {name: settings[name] for name in ("processing_delay", "token_lifetime", "log_bodies", "latency")} == {
        "processing_delay": 1.0,
        "token_lifetime": 60,
        "log_bodies": True,
        "latency": 0.0,
    }
    for bad, problem in (
        ({"processing_delay": -1}, "processing_delay must be a number of seconds >= 0"),
        ({"token_lifetime": 0}, "token_lifetime must be a whole number of seconds >= 1"),
        ({"log_bodies": "yes"}, "log_bodies must be true or false"),
        ({"colour": "blue"}, "Unknown settings: colour"),
    ):
        with pytest.raises(ValueError, match=problem):
            server.configure(**bad)
    assert server.configure()["token_lifetime"] == 60


def test_large_uploads(api):
    list_id = api.create_list("Big")
    for batch in range(10):
        accounts = [{"domain": f"company-{batch}-{n}.com"} for n in range(10_000)]
        assert api.call("POST", f"{LISTS}/{list_id}/accounts", json=accounts).status_code == 202
    assert api.definition(list_id)["metadata"]["accountTotal"] == 100_000
    domains = api.domains(list_id)
    assert len(domains) == len(set(domains)) == 100_000


# CLI (the server's construction and connection strings: tests/unit/test_sandbox_server.py)


def test_cli_serves_until_terminated(http):
    command = [sys.executable, "-m", "airflow_provider_bombora.sandbox", "--port", "0", "--client-secret", "cli-secret"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None  # stdout=PIPE
            first_line = process.stdout.readline()
            assert first_line.startswith("Bombora sandbox listening on http://127.0.0.1:")
            url = first_line.split("listening on ")[1].strip()
            credentials, export = process.stdout.readline(), process.stdout.readline()
            assert "cli-secret" in credentials
            assert export.startswith("export AIRFLOW_CONN_BOMBORA_DEFAULT=")

            response = http.post(
                f"{url}/oauth/token", json={"client_id": "sandbox-client-id", "client_secret": "cli-secret"}, timeout=10
            )
            assert response.status_code == 200
        finally:
            process.terminate()
        assert process.wait(timeout=15) == 0


def test_cli_refuses_a_remote_address():
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_bombora.sandbox", "--host", "192.0.2.10", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr


def test_fault_after_lets_matching_requests_through_first(api, server):
    server.inject_fault("GET", LISTS, status=503, after=2, count=1)
    statuses = [api.call("GET", LISTS).status_code for _ in range(4)]
    assert statuses == [200, 200, 503, 200]


def test_expire_tokens_fault_expires_every_token_then_processes_the_request(api, server, http):
    list_id = api.create_list("Expiring")
    rule = server.inject_fault("POST", f"{LISTS}/*/accounts", action="expire_tokens", after=1)
    assert rule["action"] == "expire_tokens"
    first = api.call("POST", f"{LISTS}/{list_id}/accounts", json=[{"domain": "acme.com"}])
    second = api.call("POST", f"{LISTS}/{list_id}/accounts", json=[{"domain": "globex.com"}])
    assert (first.status_code, second.status_code) == (202, 401)
    assert second.json() == {"message": "Access token expired"}
    assert api.call("GET", LISTS).status_code == 401  # every token, not only the request's
    api.token = get_token(server, http)  # a token issued afterwards is good
    assert api.call("POST", f"{LISTS}/{list_id}/accounts", json=[{"domain": "globex.com"}]).status_code == 202
    assert api.domains(list_id) == ["acme.com", "globex.com"]


def test_log_entries_name_the_fault_rule_that_took_them(api, server):
    status_rule = server.inject_fault("GET", LISTS, status=503)
    drop_rule = server.inject_fault("GET", LISTS, action="drop")
    delay_rule = server.inject_fault("GET", LISTS, action="delay", delay=0.01)
    assert api.call("GET", LISTS).status_code == 503
    with pytest.raises(requests.ConnectionError):
        api.call("GET", LISTS)
    assert api.call("GET", LISTS).status_code == 200
    assert api.call("GET", LISTS).status_code == 200
    faults = [entry["fault"] for entry in server.request_log()[-4:]]
    assert faults == [status_rule["id"], drop_rule["id"], delay_rule["id"], None]

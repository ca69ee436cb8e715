"""The benchmark's own minimal Bombora server: the standard library's threading HTTP server.

It answers the calls the benchmarks make (token, create list, get list, add accounts,
delete accounts, list domains) with HTTP/1.1 keep-alive and as little work as the API
allows: parse the JSON body, update an in-memory set, answer. Uploads measured against it
show what a client reaches when the server costs next to nothing, the ceiling the sandbox's
figures are read against. No authentication check, no validation, no request log.

Run it in a process of its own (``python -m bench.stub_server``): it prints
``listening on <url>`` and serves until SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from airflow_provider_bombora.hooks.wire import ACCOUNT_LISTS_PATH, TOKEN_PATH

_LIST_ROUTE = re.compile(
    rf"{ACCOUNT_LISTS_PATH}/(?P<list_id>[^/]+)(?P<suffix>/accounts|/delete-accounts|/accounts/domains)?"
)
_TOKEN_ANSWER = json.dumps({"access_token": "stub-token", "token_type": "Bearer", "expires_in": 86400}).encode()

# list id -> the list's domains
account_lists: dict[str, set[str]] = {}


class StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection per client
    # Headers and body leave in two writes; with Nagle's algorithm the second waits for the
    # client's delayed ACK, 40 ms a request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        """Silent: logging each request would measure the terminal."""

    def _answer(self, status: int, body: bytes = b"{}") -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    def do_POST(self) -> None:
        body = self._body()
        if self.path == TOKEN_PATH:
            return self._answer(200, _TOKEN_ANSWER)
        if self.path == ACCOUNT_LISTS_PATH:
            list_id = str(uuid.uuid4())
            account_lists[list_id] = set()
            return self._answer(200, json.dumps({"id": list_id}).encode())
        route = _LIST_ROUTE.fullmatch(self.path)
        if route is None or route["list_id"] not in account_lists:
            return self._answer(404, b'{"message": "not found"}')
        domains = account_lists[route["list_id"]]
        if route["suffix"] == "/accounts":
            domains.update(account["domain"] for account in body)
            return self._answer(202)
        if route["suffix"] == "/delete-accounts":
            domains.difference_update(body["ids"])
            return self._answer(200)
        return self._answer(405, b'{"message": "method not allowed"}')

    def do_GET(self) -> None:
        route = _LIST_ROUTE.fullmatch(self.path)
        if route is None or route["list_id"] not in account_lists:
            return self._answer(404, b'{"message": "not found"}')
        domains = account_lists[route["list_id"]]
        if route["suffix"] == "/accounts/domains":
            return self._answer(200, json.dumps(list(domains)).encode())
        if route["suffix"] is None:
            definition = {
                "id": route["list_id"],
                "type": "Manual",
                "metadata": {"name": route["list_id"], "accountTotal": len(domains), "pendingUpdate": False},
                "specification": {},
            }
            return self._answer(200, json.dumps(definition).encode())
        return self._answer(405, b'{"message": "method not allowed"}')


def main() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubHandler)
    server.daemon_threads = True
    print(f"Stub Bombora server listening on http://127.0.0.1:{server.server_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The servers the benchmarks talk to, each in a process of its own.

A server in the benchmark's process would share its interpreter lock with the client being
measured, and its memory would count in the client's peak; so both the sandbox and the stub
run as subprocesses, and the figures of one run come from the same two servers.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from airflow_provider_bombora.sandbox.server import SandboxAdmin

START_TIMEOUT = 60.0  # seconds; the machine is small and shared
_LISTENING = re.compile(r"listening on (\S+)")
_CONNECTION_EXPORT = "export AIRFLOW_CONN_BOMBORA_DEFAULT="


class RemoteSandbox(SandboxAdmin):
    """The admin API of a sandbox served by another process: :class:`SandboxServer`'s own helpers,
    bound to that process's URL instead of a server of this one."""

    def __init__(self, url: str) -> None:
        self.url = url

    def last_seq(self) -> int:
        """The ``seq`` of the newest logged request (0 if none): the mark to count requests from."""
        entries = self.request_log()
        return entries[-1]["seq"] if entries else 0


@dataclass(frozen=True)
class RunningServer:
    """A server process: its base URL and the Airflow connection (JSON) that points at it."""

    name: str
    url: str
    connection_json: str


def _start(stack: ExitStack, command: list[str]) -> subprocess.Popen[str]:
    """Start a server process, stopped (SIGTERM, then SIGKILL) when ``stack`` closes."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=os.environ.copy())

    def stop() -> None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    stack.callback(stop)
    return process


def _printed_lines(process: subprocess.Popen[str], what: str, *, until: str) -> list[str]:
    """The lines ``process`` prints, up to and including the first that contains ``until``."""
    assert process.stdout is not None  # started with stdout=PIPE
    deadline = time.monotonic() + START_TIMEOUT
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"{what} exited before it was ready (status {process.wait()}): {lines}")
        lines.append(line.strip())
        if until in line:
            return lines
    raise RuntimeError(f"{what} was not ready within {START_TIMEOUT:g} s")


def _listening_url(lines: list[str]) -> str:
    return next(match.group(1) for line in lines if (match := _LISTENING.search(line)))


def _bench_connection(url: str) -> str:
    """A connection to the stub, which takes any credentials."""
    return json.dumps({"conn_type": "bombora", "host": url, "login": "bench-client", "password": "bench-secret"})


@contextmanager
def running_servers() -> Iterator[tuple[RunningServer, RunningServer, RemoteSandbox]]:
    """Start the sandbox (request bodies not logged) and the stub; yield both and the sandbox's admin API."""
    with ExitStack() as stack:
        # Both start at once: each takes a second or two to import its stack.
        sandbox_process = _start(stack, [sys.executable, "-m", "airflow_provider_bombora.sandbox", "--port", "0"])
        stub_process = _start(stack, [sys.executable, "-m", "bench.stub_server"])
        # The sandbox prints its URL, the credentials, then the connection to export.
        sandbox_lines = _printed_lines(sandbox_process, "the sandbox", until=_CONNECTION_EXPORT)
        sandbox_url = _listening_url(sandbox_lines)
        export = next(line for line in sandbox_lines if line.startswith(_CONNECTION_EXPORT))
        sandbox = RunningServer("sandbox", sandbox_url, shlex.split(export.removeprefix(_CONNECTION_EXPORT))[0])
        stub_url = _listening_url(_printed_lines(stub_process, "the stub server", until="listening on"))
        stub = RunningServer("stdlib stub", stub_url, _bench_connection(stub_url))
        admin = RemoteSandbox(sandbox_url)
        admin.configure(log_bodies=False)
        yield sandbox, stub, admin

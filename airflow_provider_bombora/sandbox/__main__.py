"""Command line: ``python -m airflow_provider_bombora.sandbox`` (or ``bombora-sandbox``).

Prints where it listens and the connection to use, then serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading

from airflow_provider_bombora.sandbox.server import SandboxServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bombora-sandbox",
        description="Serve a local sandbox of Bombora's Authentication and Account List APIs.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback only unless --allow-remote)")
    parser.add_argument("--port", type=int, default=8765, help="port to bind; 0 picks a free one (default 8765)")
    parser.add_argument("--client-id", default="sandbox-client-id")
    parser.add_argument("--client-secret", default="sandbox-client-secret")
    parser.add_argument(
        "--processing-delay",
        type=float,
        default=0.0,
        help="seconds before a queued accounts update is applied (default 0: at once)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="seconds every API request waits before it is handled (default 0; admin calls never wait)",
    )
    parser.add_argument("--token-lifetime", type=int, default=86400, help="access token lifetime in seconds")
    parser.add_argument("--allow-remote", action="store_true", help="allow binding a non-loopback address")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        server = SandboxServer(
            args.host,
            args.port,
            client_id=args.client_id,
            client_secret=args.client_secret,
            processing_delay=args.processing_delay,
            token_lifetime=args.token_lifetime,
            allow_remote=args.allow_remote,
            latency=args.latency,
        )
    except (ValueError, OSError) as error:
        parser.exit(2, f"bombora-sandbox: error: {error}\n")

    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_requested.set())
    with server:
        print(f"Bombora sandbox listening on {server.url}")
        print(f"Client ID: {server.client_id}   Client secret: {server.client_secret}  (demo credentials)")
        print(f"export AIRFLOW_CONN_BOMBORA_DEFAULT={shlex.quote(server.connection_json())}", flush=True)
        stop_requested.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

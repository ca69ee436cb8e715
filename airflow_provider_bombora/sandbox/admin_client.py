"""The client side of the sandbox's admin API (``/_sandbox/...``), over urllib.

On purpose not the provider's hook: the sandbox and the hook share no code, so that each
checks the other. Each API's module adds its helpers as a subclass of :class:`AdminClient`;
:class:`~.server.SandboxAdmin` gathers them.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

# Admin calls go straight to the sandbox, whatever proxy the environment names.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class AdminClient:
    """Calls to the admin API of the sandbox at ``url``."""

    url: str

    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}/_sandbox{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with _DIRECT.open(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")
            exception = ValueError if 400 <= error.code < 500 else RuntimeError
            raise exception(f"Sandbox admin call {method} {path} failed with HTTP {error.code}: {detail}") from None

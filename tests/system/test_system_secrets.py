"""No secret and no access token in any log the deployment wrote: component logs, task logs,
the triggerer's logs of each trigger and the DAG processor's logs.

Runs last (file order): it reads what the other tests of the session left, and triggers one
DAG first if nothing ran yet (this file run alone)."""

from __future__ import annotations

import re

from system_harness import example_dag_ids

BEARER = re.compile(r"Bearer\s+[A-Za-z0-9._~+/=-]{16,}")


def test_no_secret_or_token_in_any_log(deployment, sandbox, issued_tokens):
    if not issued_tokens:
        dag_id = "example_bombora_dsp_integration"
        assert dag_id in example_dag_ids()
        outcome = deployment.wait_for_run(dag_id, deployment.trigger(dag_id))
        assert outcome.state == "success", outcome.states()
    assert issued_tokens, "no access token was issued: nothing talked to the sandbox"

    logs = deployment.all_component_logs() + deployment.all_task_logs()
    assert any("dag_id=" in str(path) for path in logs), "no task log was written"
    secret = sandbox.client_secret
    found = []
    for path in logs:
        text = path.read_text(errors="replace")
        if secret in text:
            found.append(f"{path}: the client secret")
        leaked = [token for token in issued_tokens if token in text]
        if leaked:
            found.append(f"{path}: {len(leaked)} access token(s)")
        for match in BEARER.finditer(text):
            found.append(f"{path}: {match.group(0)[:12]}...")
    assert not found, "\n".join(found)

"""``s3://`` accounts in a real deployment: a worker of the LocalExecutor reads an export from an
S3 server (moto's, on loopback, started here) through Airflow's ``ObjectStoragePath`` and the
amazon provider's s3fs filesystem, with the connection ``aws_default`` from the metadata DB.

The DAGs are ``tests/system/dags/bombora_system_s3.py`` (the deployment's second bundle). Workers
of a real deployment share no disk, and here the export exists nowhere but in the bucket.

- ``test_an_s3_folder_of_compressed_parts_becomes_the_account_list``: a folder of ``.jsonl.gz``
  (two gzip members, as ``cat`` makes) and ``.csv.gz`` parts, an empty part, ``_SUCCESS``, a
  ``.crc``, a hidden part and Spark's ``_temporary/`` folder; the list holds exactly the domains
  written by hand below, and the task log shows no AWS secret.
- ``test_a_truncated_gzip_member_in_s3_fails_the_task_and_writes_nothing``: the task fails
  naming the object, and nothing is written to the sandbox.

Needs the ``s3-tests`` extra (in ``test``): the amazon provider with s3fs, and moto's server.
Without it the module is skipped, and fails under ``CI=true``.
"""

from __future__ import annotations

import gzip
import json
import logging

import pytest
from system_harness import account_list_writes, list_named, require_modules, settled_list

BUCKET = "bombora-system-exports"  # as in tests/system/dags/bombora_system_s3.py
CONN_ID = "aws_default"
FOLDER_DAG = "bombora_system_s3_folder"
TRUNCATED_DAG = "bombora_system_s3_truncated"
TASK = "activate_from_s3"
FOLDER_AUDIENCE = "System test - S3 folder"
TRUNCATED_AUDIENCE = "System test - S3 truncated"
ACCESS_KEY = "moto-system-access-key"
SECRET_KEY = "moto-system-secret-key-7f3a9c"
REGION = "us-east-1"
CSV_HEADER = "xdm:accountKey.sourceKey,xdm:accountOrganization.domain\n"


def jsonl_line(key: str, domain: str | None) -> str:
    organization = {} if domain is None else {"domain": domain}
    return json.dumps({"accountKey": {"sourceKey": key}, "accountOrganization": organization}) + "\n"


# The export of high_intent/2026-11-27/, object by object, and what the list must hold: each
# domain below written by hand from the rows (lower case, no scheme, path, blanks or "www.").
FOLDER = "high_intent/2026-11-27/"
FOLDER_OBJECTS = {
    # Two gzip members in one object.
    "part-00000.jsonl.gz": gzip.compress(
        (jsonl_line("A-001", "acme.com") + jsonl_line("A-002", "https://www.Globex.com/about")).encode()
    )
    + gzip.compress(
        (
            jsonl_line("A-003", "  INITECH.IO  ")
            + jsonl_line("A-004", "sales@umbrella-corp.com")  # an e-mail address: rejected
            + jsonl_line("A-005", None)  # no domain: rejected
        ).encode()
    ),
    "part-00001.csv.gz": gzip.compress(
        (
            CSV_HEADER
            + "B-001,hooli.com\n"
            + "B-002,http://piedpiper.com/\n"
            + "B-003,acme.com\n"  # a domain already seen: one account
            + "B-004,localhost\n"  # one label: rejected
            + "B-005,WWW.Vandelay-Industries.COM\n"
        ).encode()
    ),
    "part-00002.jsonl.gz": gzip.compress(b""),  # a partition with no rows: skipped
    "_SUCCESS": b"",
    ".part-00001.csv.gz.crc": b"crc\x00\x01\x02",
    ".hidden-part.jsonl.gz": gzip.compress(jsonl_line("H-001", "hidden-part.example.com").encode()),
    "_temporary/0/part-00009.jsonl.gz": gzip.compress(jsonl_line("T-001", "half-written.example.com").encode()),
}
FOLDER_DOMAINS = {"acme.com", "globex.com", "initech.io", "hooli.com", "piedpiper.com", "vandelay-industries.com"}
FOLDER_REJECTED = 3

TRUNCATED = "truncated/2026-11-27/"
_COMPLETE_MEMBER = gzip.compress(jsonl_line("C-001", "acme.com").encode())
_CUT_MEMBER = gzip.compress("".join(jsonl_line(f"C-{n:04d}", f"company{n}.com") for n in range(2000)).encode())
TRUNCATED_OBJECTS = {
    "part-00000.jsonl.gz": gzip.compress(jsonl_line("C-000", "globex.com").encode()),
    # A whole member, then one cut in half: an upload that stopped part-way.
    "part-00001.jsonl.gz": _COMPLETE_MEMBER + _CUT_MEMBER[: len(_CUT_MEMBER) // 2],
    "_SUCCESS": b"",
}


@pytest.fixture(scope="module")
def s3_bucket(airflow_deployment):
    """moto's S3 server on a free loopback port, the bucket, and the deployment's ``aws_default``
    connection pointing at it (in the metadata DB, as ``airflow connections add`` puts it);
    yields a boto3 client of the bucket. The connection is deleted afterwards."""
    require_modules(
        "airflow.providers.amazon.aws.fs.s3", "s3fs", "boto3", "moto.server",
        hint="install the test extra (scripts/ensure-venv.sh test), which brings s3-tests",
    )
    import boto3  # type: ignore[import-untyped]
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in the test's output
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )
        client.create_bucket(Bucket=BUCKET)
        connection = {
            "conn_type": "aws",
            "login": ACCESS_KEY,
            "password": SECRET_KEY,
            "extra": {"endpoint_url": endpoint, "region_name": REGION},
        }
        airflow_deployment.cli("connections", "add", CONN_ID, "--conn-json", json.dumps(connection))
        try:
            airflow_deployment.wait_for_dags([FOLDER_DAG, TRUNCATED_DAG])
            for dag_id in (FOLDER_DAG, TRUNCATED_DAG):
                airflow_deployment.set_paused(dag_id, False)
            yield client
        finally:
            airflow_deployment.cli("connections", "delete", CONN_ID, check=False)
    finally:
        server.stop()


def _upload(client, prefix: str, objects: dict[str, bytes]) -> None:
    for name, body in objects.items():
        client.put_object(Bucket=BUCKET, Key=prefix + name, Body=body)
    listed = {entry["Key"] for entry in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]}
    assert listed == {prefix + name for name in objects}


def _task_log(deployment, outcome) -> str:
    return deployment.task_log_text(outcome.ti(TASK))


def test_an_s3_folder_of_compressed_parts_becomes_the_account_list(deployment, sandbox, s3_bucket):
    _upload(s3_bucket, FOLDER, FOLDER_OBJECTS)

    outcome = deployment.wait_for_run(FOLDER_DAG, deployment.trigger(FOLDER_DAG))
    log_text = _task_log(deployment, outcome)
    assert outcome.state == "success", f"{outcome.states()}\n{log_text[-4000:]}"

    account_list = settled_list(sandbox, FOLDER_AUDIENCE)
    assert set(account_list["domains"]) == FOLDER_DOMAINS
    summary = deployment.xcom(FOLDER_DAG, outcome.run_id, TASK)
    assert (summary["added"], summary["removed"], summary["accounts_valid"], summary["rejected"]) == (
        len(FOLDER_DOMAINS),
        0,
        len(FOLDER_DOMAINS),
        FOLDER_REJECTED,
    ), summary
    # The folder was listed in S3: the data parts in name order; _SUCCESS, the .crc, the hidden part
    # and _temporary/ skipped; the empty part skipped once read.
    assert (
        "3 file(s) in name order (part-00000.jsonl.gz, part-00001.csv.gz, part-00002.jsonl.gz), 4 marker"
    ) in log_text, log_text[-4000:]
    assert f"{FOLDER}part-00002.jsonl.gz: empty" in log_text, log_text[-4000:]
    # Rejections name the object and the line.
    assert "part-00000.jsonl.gz:4" in log_text and "part-00001.csv.gz:5" in log_text, log_text[-4000:]
    assert SECRET_KEY not in log_text


def test_a_truncated_gzip_member_in_s3_fails_the_task_and_writes_nothing(deployment, sandbox, s3_bucket):
    _upload(s3_bucket, TRUNCATED, TRUNCATED_OBJECTS)

    outcome = deployment.wait_for_run(TRUNCATED_DAG, deployment.trigger(TRUNCATED_DAG))
    log_text = _task_log(deployment, outcome)
    assert outcome.state == "failed", f"{outcome.states()}\n{log_text[-4000:]}"
    ti = outcome.ti(TASK)
    assert (ti["state"], ti["try_number"]) == ("failed", 1), ti

    assert (
        f"s3://{BUCKET}/{TRUNCATED}part-00001.jsonl.gz: the gzip stream is truncated or corrupt (EOFError" in log_text
    ), log_text[-4000:]
    assert "Nothing was sent" in log_text, log_text[-4000:]
    assert list_named(sandbox, TRUNCATED_AUDIENCE) is None
    assert account_list_writes(sandbox.request_log()) == []

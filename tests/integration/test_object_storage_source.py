"""Accounts read through Airflow's object storage: ``file://`` and ``memory://`` URLs and
``ObjectStoragePath`` objects, single files and folders of compressed part files.

``memory://`` is fsspec's in-process filesystem. Airflow 3.3's ObjectStoragePath lists and
writes it through universal_pathlib, but opens files through the filesystems Airflow has
registered (the providers'), which do not include it: the ``memory_store`` fixture attaches it
(``airflow.sdk.io.attach``), as a deployment attaches any filesystem that no provider brings.
"""

from __future__ import annotations

import bz2
import gzip
import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
import uuid
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_bombora.activation import ActivationRequest, check_audience, read_audience
from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.mappings import validate_mappings
from airflow_provider_bombora.records import iter_records
from airflow_provider_bombora.sources.streams import empty_file_error

PRIMARY_ID_SOURCE = "xdm:accountKey.sourceKey"
DOMAIN_SOURCE = "xdm:accountOrganization.domain"
REQUIRED = (PRIMARY_ID_SOURCE, DOMAIN_SOURCE)
MAPPINGS = validate_mappings(
    [
        {"source": PRIMARY_ID_SOURCE, "target": "identity:primaryId"},
        {"source": DOMAIN_SOURCE, "target": "xdm:companyWebsiteDomain"},
    ]
)
CSV_HEADER = b"xdm:accountKey.sourceKey,xdm:accountOrganization.domain\n"


def jsonl(*domains: str, first_key: int = 0) -> bytes:
    return b"".join(
        json.dumps({"accountKey": {"sourceKey": f"k{first_key + n}"}, "accountOrganization": {"domain": domain}})
        .encode()
        + b"\n"
        for n, domain in enumerate(domains)
    )


def csv_rows(*domains: str, first_key: int = 0) -> bytes:
    return CSV_HEADER + b"".join(f"k{first_key + n},{domain}\n".encode() for n, domain in enumerate(domains))


def domains_of(numbered) -> list[tuple[object, str]]:
    """(position, domain) of each record, whether it came from JSON (nested) or CSV (flat keys)."""
    result = []
    for position, record in numbered:
        domain = record.get("accountOrganization.domain") or record["accountOrganization"]["domain"]
        result.append((position, domain))
    return result


@pytest.fixture
def memory_store():
    """The URL of a fresh bucket of fsspec's memory filesystem, attached to Airflow's object storage."""
    from airflow.sdk.io import attach
    from airflow.sdk.io.store import _STORE_CACHE
    from fsspec.implementations.memory import MemoryFileSystem  # type: ignore[import-untyped]

    filesystem = MemoryFileSystem()
    attach("memory", fs=filesystem)
    bucket = f"bombora-{uuid.uuid4().hex[:12]}"
    yield f"memory://{bucket}"
    if filesystem.exists(f"/{bucket}"):
        filesystem.rm(f"/{bucket}", recursive=True)
    _STORE_CACHE.pop("memory", None)  # no detach() in Airflow: the next test starts without it


def write_export(folder: ObjectStoragePath) -> None:
    """A Spark-like export: gzipped JSON Lines and CSV parts, a _SUCCESS marker, .crc files."""
    (folder / "part-00001.csv.gz").write_bytes(gzip.compress(csv_rows("beta.io", "gamma.org", first_key=10)))
    with (folder / "part-00000.jsonl.gz").open("wb") as file:  # written out of name order on purpose
        file.write(gzip.compress(jsonl("acme.com", "https://www.Acme.com/", "umbrella.example")))
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / ".part-00000.jsonl.gz.crc").write_bytes(b"crc\x00\x01")
    (folder / "part-00001.csv.gz.crc").write_bytes(b"crc\x00\x02")


EXPORT_RECORDS = [
    ("part-00000.jsonl.gz:1", "acme.com"),
    ("part-00000.jsonl.gz:2", "https://www.Acme.com/"),
    ("part-00000.jsonl.gz:3", "umbrella.example"),
    ("part-00001.csv.gz:2", "beta.io"),
    ("part-00001.csv.gz:3", "gamma.org"),
]


# --- folders ---------------------------------------------------------------------------------------


def test_a_memory_folder_of_parts_is_one_audience_in_name_order(memory_store):
    folder = ObjectStoragePath(f"{memory_store}/exports/2026-11-27/")
    write_export(folder)
    assert domains_of(iter_records(f"{memory_store}/exports/2026-11-27/", required_sources=REQUIRED)) == EXPORT_RECORDS


def test_an_object_storage_path_is_read_with_its_own_connection(memory_store):
    folder = ObjectStoragePath(f"{memory_store}/exports/2026-11-27")
    write_export(folder)
    assert domains_of(iter_records(folder, required_sources=REQUIRED)) == EXPORT_RECORDS


def test_a_file_url_folder_is_read_the_same(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    write_export(ObjectStoragePath(f"file://{folder}"))
    assert domains_of(iter_records(f"file://{folder}/", required_sources=REQUIRED)) == EXPORT_RECORDS
    assert domains_of(iter_records(f"  file://{folder}\n")) == EXPORT_RECORDS  # trimmed; a folder without '/'


def test_a_folder_may_mix_formats_and_compressions(memory_store):
    folder = ObjectStoragePath(f"{memory_store}/mixed")
    (folder / "a.json").write_bytes(json.dumps([{"accountOrganization": {"domain": "one.com"}}]).encode())
    (folder / "b.ndjson.bz2").write_bytes(bz2.compress(jsonl("two.com")))
    (folder / "c.csv").write_bytes(b"accountOrganization.domain\nthree.com\n")
    (folder / "d.json.gz").write_bytes(gzip.compress(b'[{"accountOrganization": {"domain": "four.com"}}]'))
    assert domains_of(iter_records(f"{memory_store}/mixed/")) == [
        ("a.json[0]", "one.com"),
        ("b.ndjson.bz2:1", "two.com"),
        ("c.csv:2", "three.com"),
        ("d.json.gz[0]", "four.com"),
    ]


def test_empty_parts_are_skipped(memory_store):
    folder = ObjectStoragePath(f"{memory_store}/sparse")
    (folder / "part-0.csv.gz").write_bytes(b"")  # 0 bytes
    (folder / "part-1.csv.gz").write_bytes(gzip.compress(b"\n"))  # empty once decompressed
    (folder / "part-2.csv.gz").write_bytes(gzip.compress(csv_rows("acme.com")))
    assert domains_of(iter_records(f"{memory_store}/sparse/", required_sources=REQUIRED)) == [
        ("part-2.csv.gz:2", "acme.com")
    ]


def test_each_csv_part_has_its_header_checked(memory_store):
    folder = ObjectStoragePath(f"{memory_store}/headers")
    (folder / "part-0.csv.gz").write_bytes(gzip.compress(csv_rows("acme.com")))
    (folder / "part-1.csv.gz").write_bytes(gzip.compress(b"accountKey.sourceKey,website\nk1,beta.io\n"))
    numbered = iter_records(f"{memory_store}/headers/", required_sources=REQUIRED)
    assert next(numbered)[0] == "part-0.csv.gz:2"
    with pytest.raises(BomboraValidationError) as excinfo:
        next(numbered)
    assert f"{memory_store}/headers/part-1.csv.gz, line 1: the header lacks the required column(s)" in str(
        excinfo.value
    )


def test_a_truncated_gzip_part_is_an_error_naming_the_file(memory_store):
    folder = ObjectStoragePath(f"{memory_store}/cut")
    (folder / "part-1.jsonl.gz").write_bytes(gzip.compress(jsonl("acme.com")))
    whole = gzip.compress(jsonl(*(f"company{n}.com" for n in range(5000))))
    (folder / "part-3.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    numbered = iter_records(f"{memory_store}/cut/")
    assert next(numbered) == ("part-1.jsonl.gz:1", {"accountKey": {"sourceKey": "k0"}, "accountOrganization": {
        "domain": "acme.com"}})
    with pytest.raises(BomboraValidationError) as excinfo:
        list(numbered)
    assert excinfo.value.field == "accounts"
    message = str(excinfo.value)
    assert f"{memory_store}/cut/part-3.jsonl.gz: the gzip stream is truncated or corrupt (EOFError: " in message
    assert "the export may be incomplete" in message


def test_hidden_folders_are_skipped_and_other_folders_refused(memory_store):
    folder = ObjectStoragePath(f"{memory_store}/nested")
    (folder / "part-0.jsonl").write_bytes(jsonl("acme.com"))
    (folder / "_temporary" / "0" / "part-9.jsonl").write_bytes(jsonl("half-written.com"))  # Spark's work folder
    assert domains_of(iter_records(f"{memory_store}/nested/")) == [("part-0.jsonl:1", "acme.com")]
    (folder / "date=2026-11-27" / "part-0.jsonl").write_bytes(jsonl("beta.io"))
    with pytest.raises(BomboraValidationError, match=r"the folder holds folders \(date=2026-11-27\), which are not"):
        iter_records(f"{memory_store}/nested/")


def test_a_file_of_another_type_in_a_folder_is_an_error_naming_it(memory_store):
    folder = ObjectStoragePath(f"{memory_store}/typed")
    (folder / "part-0.csv.gz").write_bytes(gzip.compress(csv_rows("acme.com")))
    (folder / "part-1.parquet").write_bytes(b"PAR1")
    (folder / "README").write_bytes(b"exported by the warehouse")
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / "manifest").write_bytes(b'{"entries": []}')  # what Redshift's UNLOAD ... MANIFEST writes
    with pytest.raises(BomboraValidationError) as excinfo:
        iter_records(f"{memory_store}/typed/")
    message = str(excinfo.value)
    assert "the folder holds files of a type that cannot be read: README, part-1.parquet;" in message
    assert "_SUCCESS" not in message.split(";")[0] and "manifest" not in message.split(";")[0]


@pytest.mark.parametrize(
    ("name", "marker"),
    [
        ("_SUCCESS", True), ("_committed_123", True), (".part-0.csv.gz.crc", True), ("part-0.csv.gz.crc", True),
        ("PART-0.CRC", True), ("manifest", True), ("accounts_manifest", True), (".hidden.csv", True),
        ("part-0.csv.gz", False), ("success.csv", False),
    ],
)
def test_marker_names(name, marker):
    from airflow_provider_bombora.sources.object_storage import is_marker_name

    assert is_marker_name(name) is marker


# --- a folder or file with nothing to read -------------------------------------------------------


def test_an_empty_folder_is_an_error(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "_SUCCESS").write_bytes(b"")
    with pytest.raises(BomboraValidationError) as excinfo:
        iter_records(f"file://{folder}/")
    assert str(excinfo.value) == (
        f"accounts: file://{folder}/: the folder holds no data files (skipped 1 marker file(s): _SUCCESS): an "
        "export that failed or was cut short? Nothing was sent; check the export."
    )


def test_a_folder_of_empty_parts_is_an_error_once_they_are_read(memory_store):
    folder = ObjectStoragePath(f"{memory_store}/blank")
    (folder / "part-0.jsonl.gz").write_bytes(gzip.compress(b""))
    (folder / "part-1.jsonl.gz").write_bytes(gzip.compress(b"\n\n"))
    numbered = iter_records(f"{memory_store}/blank/")  # sizes say there is data: known once decompressed
    with pytest.raises(BomboraValidationError, match="the folder holds no data files") as excinfo:
        list(numbered)
    assert "skipped 2 empty file(s): part-0.jsonl.gz, part-1.jsonl.gz" in str(excinfo.value)


def test_a_single_empty_object_is_the_empty_file_error(memory_store):
    path = ObjectStoragePath(f"{memory_store}/accounts.csv.gz")
    data = gzip.compress(b"\n")
    path.write_bytes(data)
    with pytest.raises(BomboraValidationError) as excinfo:
        iter_records(f"{memory_store}/accounts.csv.gz", required_sources=REQUIRED)
    assert str(excinfo.value) == str(
        empty_file_error(f"{memory_store}/accounts.csv.gz", size=len(data), compression="gzip")
    )


@pytest.mark.parametrize(("suffix", "what"), [("/missing/", "no folder"), ("/missing.csv.gz", "no object or folder")])
def test_a_missing_object_or_folder_is_an_error(memory_store, suffix, what):
    with pytest.raises(BomboraValidationError, match=rf"{memory_store}{suffix}: not found \({what} at this path\)"):
        iter_records(f"{memory_store}{suffix}")


def test_a_url_ending_with_a_slash_must_be_a_folder(memory_store):
    ObjectStoragePath(f"{memory_store}/accounts.jsonl").write_bytes(jsonl("acme.com"))
    with pytest.raises(BomboraValidationError, match="not a folder"):
        iter_records(f"{memory_store}/accounts.jsonl/")


# --- single objects ---------------------------------------------------------------------------


def test_a_single_object_has_the_positions_of_a_local_file(tmp_path):
    path = tmp_path / "accounts.csv.gz"
    path.write_bytes(gzip.compress(csv_rows("acme.com", "beta.io")))
    assert domains_of(iter_records(f"file://{path}", required_sources=REQUIRED)) == [(2, "acme.com"), (3, "beta.io")]
    assert domains_of(iter_records(ObjectStoragePath(f"file://{path}"))) == [(2, "acme.com"), (3, "beta.io")]


def test_a_single_object_of_another_type_is_refused(tmp_path):
    path = tmp_path / "accounts.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(BomboraValidationError, match=r"accounts\.xlsx: unsupported file type '\.xlsx'; use one of"):
        iter_records(f"file://{path}")


def test_a_local_path_without_a_scheme_keeps_todays_rules(tmp_path):
    path = tmp_path / "accounts.csv.gz"
    path.write_bytes(gzip.compress(csv_rows("acme.com")))
    with pytest.raises(BomboraValidationError, match=r"unsupported file type '\.gz'"):
        iter_records(str(path))  # compressed files and folders are read through a URL
    folder = tmp_path / "accounts.jsonl"
    folder.mkdir()
    with pytest.raises(BomboraValidationError, match="not a regular file"):
        iter_records(str(folder))


# --- schemes and connections -----------------------------------------------------------------------


def test_a_scheme_without_a_filesystem_says_what_to_install():
    # gs://: the test extra installs the Amazon provider (for s3:// against moto), not Google's.
    from airflow.sdk.io import has_fs

    assert not has_fs("gs"), "this test needs a scheme whose provider is not installed"
    with pytest.raises(BomboraValidationError) as excinfo:
        iter_records("gs://exports/2026-11-27/")
    message = str(excinfo.value)
    assert message.startswith("accounts: gs://exports/2026-11-27/: Airflow has no filesystem for gs://")
    assert "pip install 'apache-airflow-providers-google'" in message


def test_an_unknown_scheme_says_how_to_attach_a_filesystem():
    with pytest.raises(BomboraValidationError) as excinfo:
        iter_records("nosuch://bucket/accounts.csv")
    message = str(excinfo.value)
    assert "Airflow has no filesystem for nosuch://" in message
    assert "airflow.sdk.io.attach(protocol='nosuch', fs=...)" in message
    assert "s3:// needs apache-airflow-providers-amazon[s3fs]" in message


def test_a_connection_that_does_not_exist_is_an_error(tmp_path):
    path = tmp_path / "accounts.jsonl"
    path.write_bytes(jsonl("acme.com"))
    with pytest.raises(BomboraValidationError) as excinfo:
        iter_records(f"file://{path}", conn_id="no_such_connection")
    assert excinfo.value.field == "accounts"
    assert "the connection 'no_such_connection' is not defined" in str(excinfo.value)
    with pytest.raises(BomboraValidationError, match="'no_such_connection' is not defined"):
        iter_records(ObjectStoragePath(f"file://{path}", conn_id="no_such_connection"))


def test_a_defined_connection_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_EXPORTS_FS", json.dumps({"conn_type": "fs"}))
    path = tmp_path / "accounts.jsonl"
    path.write_bytes(jsonl("acme.com"))
    assert domains_of(iter_records(f"file://{path}", conn_id="exports_fs")) == [(1, "acme.com")]
    given = ObjectStoragePath(f"file://{path}")
    assert domains_of(iter_records(given, conn_id="exports_fs")) == [(1, "acme.com")]  # a path without one


def test_two_different_connections_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_EXPORTS_FS", json.dumps({"conn_type": "fs"}))
    given = ObjectStoragePath(f"file://{tmp_path}/accounts.jsonl", conn_id="exports_fs")
    with pytest.raises(BomboraValidationError, match="differs from the connection of the ObjectStoragePath") as info:
        iter_records(given, conn_id="aws_default")
    assert info.value.field == "accounts_conn_id"


@pytest.mark.parametrize("accounts", ["accounts.jsonl", [{"a": 1}]])
def test_a_connection_for_local_accounts_is_refused(accounts):
    with pytest.raises(BomboraValidationError, match="is the connection of an object store") as excinfo:
        iter_records(accounts, conn_id="aws_default")
    assert excinfo.value.field == "accounts_conn_id"


# --- through the activation ---------------------------------------------------------------------------


def test_read_audience_counts_a_folder_and_names_files_in_its_rejections(memory_store):
    folder = ObjectStoragePath(f"{memory_store}/exports/2026-11-27")
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / "part-00000.jsonl.gz").write_bytes(gzip.compress(jsonl("acme.com", "www.acme.com", "localhost")))
    (folder / "part-00001.csv.gz").write_bytes(
        gzip.compress(CSV_HEADER + b"k10,beta.io\nk11,\n,gamma.org\nk13,Gamma.ORG\n")
    )
    request = ActivationRequest(audience_name="High intent", dataflow_id="abm.activate")
    desired = read_audience(f"{memory_store}/exports/2026-11-27/", MAPPINGS, request)
    assert desired.received == 7
    assert desired.valid == 3
    assert desired.duplicates == 1  # www.acme.com is acme.com
    assert desired.to_add_candidates == {"acme.com", "beta.io", "gamma.org"}
    assert desired.rejected_by_reason == {"single_label": 1, "missing_domain": 1, "missing_primary_id": 1}
    assert [entry["record"] for entry in desired.rejected_sample] == [
        "part-00000.jsonl.gz:3",
        "part-00001.csv.gz:3",
        "part-00001.csv.gz:4",
    ]
    json.dumps(desired.rejected_sample)  # what the summary (an XCom) holds
    with pytest.raises(BomboraValidationError) as excinfo:
        check_audience(desired, ActivationRequest(audience_name="High intent", dataflow_id="abm.activate",
                                                  max_rejected_ratio=0.1))
    assert "record part-00000.jsonl.gz:3: single_label" in str(excinfo.value)
    assert "record part-00001.csv.gz:4: missing_primary_id" in str(excinfo.value)


# --- streaming and memory -------------------------------------------------------------------------


def write_large_export(folder: Path, count: int) -> int:
    """``count`` records in 4 gzip parts (2 JSON Lines, 2 CSV); returns their decompressed size."""
    folder.mkdir()
    (folder / "_SUCCESS").write_bytes(b"")
    size = 0
    per_part = count // 4
    for part in range(4):
        first = part * per_part
        rows = range(first, first + per_part)
        if part % 2:
            content = b"accountKey.sourceKey,accountOrganization.domain,name,industry,status\n" + b"".join(
                b"crm-%08d,company%d.example.com,Company %d Holdings,Industrial Machinery,active\n" % (n, n, n)
                for n in rows
            )
            name = f"part-{part:05d}.csv.gz"
        else:
            content = b"".join(
                json.dumps(
                    {
                        "accountKey": {"sourceKey": f"crm-{n:08d}"},
                        "accountOrganization": {"domain": f"company{n}.example.com", "name": f"Company {n} Holdings"},
                        "industry": "Industrial Machinery",
                        "status": "active",
                    }
                ).encode()
                + b"\n"
                for n in rows
            )
            name = f"part-{part:05d}.jsonl.gz"
        size += len(content)
        (folder / name).write_bytes(gzip.compress(content, compresslevel=6))
    return size


def test_a_folder_of_100000_records_streams_in_bounded_memory_tracemalloc(tmp_path):
    folder = tmp_path / "export"
    decompressed = write_large_export(folder, 100_000)
    assert decompressed > 10_000_000
    from airflow.sdk.lineage import get_hook_lineage_collector

    get_hook_lineage_collector()  # loaded once by the first read of a file, as in any task: not measured here
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_records(f"file://{folder}/", required_sources=REQUIRED))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 100_000
    print(f"tracemalloc peak {peak} bytes for {decompressed} bytes decompressed")
    assert peak < decompressed / 5, f"peak {peak} bytes for {decompressed} bytes decompressed"


RSS_SCRIPT = textwrap.dedent(
    """
    import sys
    from airflow_provider_bombora.records import iter_records

    def status(field):
        with open("/proc/self/status") as file:
            return next(int(line.split()[1]) * 1024 for line in file if line.startswith(field + ":"))

    from airflow.sdk.lineage import get_hook_lineage_collector

    # What a running task has loaded already: the first read of an ObjectStoragePath file asks for
    # the lineage collector, which loads Airflow's plugins (megabytes of imports, once).
    get_hook_lineage_collector()
    numbered = iter_records(sys.argv[1], required_sources=("xdm:accountKey.sourceKey",))  # imports, lists
    with open("/proc/self/clear_refs", "w") as file:
        file.write("5")  # the peak RSS (VmHWM) starts again from the RSS now
    before = status("VmRSS")
    count = sum(1 for _ in numbered)
    print(count, status("VmHWM") - before)
    """
)


def test_a_folder_of_100000_records_streams_in_bounded_memory_rss(tmp_path):
    """The peak RSS growth of a fresh process reading the folder, zlib's buffers included (C
    allocations, which tracemalloc does not see). The data is written by this process, not that one."""
    if not os.access("/proc/self/clear_refs", os.W_OK):
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak RSS")
    folder = tmp_path / "export"
    decompressed = write_large_export(folder, 100_000)
    result = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, f"file://{folder}/"], capture_output=True, text=True, check=True
    )
    count, growth = map(int, result.stdout.split()[-2:])
    assert count == 100_000
    print(f"peak RSS growth {growth} bytes for {decompressed} bytes decompressed")
    assert growth < decompressed / 5, f"peak RSS grew {growth} bytes for {decompressed} bytes decompressed"


# --- imports ----------------------------------------------------------------------------------------


def test_records_read_locally_import_no_airflow(tmp_path):
    """Local files and records never import the object storage code (nor Airflow); a URL does."""
    path = tmp_path / "accounts.csv"
    path.write_bytes(csv_rows("acme.com"))
    script = textwrap.dedent(
        f"""
        import sys
        from airflow_provider_bombora.records import iter_records
        assert list(iter_records([{{"a": 1}}])) == [(0, {{"a": 1}})]
        assert len(list(iter_records({str(path)!r}))) == 1
        # The stream parsers (sources.streams, sources.compression) are pure; the object storage
        # and SQL sources import Airflow.
        airflow_sources = ("airflow_provider_bombora.sources.object_storage", "airflow_provider_bombora.sources.sql")
        loaded = sorted(name for name in sys.modules if name.split(".")[0] == "airflow" or name in airflow_sources)
        print("local:", ",".join(loaded))
        assert len(list(iter_records({f"file://{path}"!r}))) == 1
        print("url:", "airflow_provider_bombora.sources.object_storage" in sys.modules, "airflow" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    lines = result.stdout.strip().splitlines()
    assert lines[-2] == "local: "
    assert lines[-1] == "url: True True"


# --- a real task -----------------------------------------------------------------------------------

OPERATOR_DAG = """
from airflow.sdk import DAG
from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

with DAG({dag_id!r}, schedule=None) as dag:
    BomboraActivateAudienceOperator(
        task_id="activate",
        audience_name="High intent accounts",
        accounts={accounts!r},
        mappings=[
            {{"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"}},
            {{"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"}},
        ],
        max_rejected_ratio=0.5,
        poll_interval=0.05,
    )
"""


def test_the_operator_activates_a_folder_of_gzip_parts(sandbox, run_dag, tmp_path):
    """accounts as a file:// URL in a DAG run by dag.test(): a templated string, read through
    read_audience (no connection: the operator's accounts_conn_id is not needed for file://)."""
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / "part-00000.jsonl.gz").write_bytes(gzip.compress(jsonl("acme.com", "localhost")))
    (folder / "part-00001.csv.gz").write_bytes(gzip.compress(csv_rows("globex.com", "initech.io", first_key=10)))
    source = OPERATOR_DAG.format(dag_id="abm_object_storage", accounts=f"file://{folder}/")
    outcome = run_dag("abm_object_storage", source)
    assert outcome.task_states == {"activate": "success"}, outcome.output[-3000:]
    summary = outcome.xcom["activate"]
    assert summary["accounts_received"] == 4
    assert summary["accounts_valid"] == 3
    assert summary["rejected_sample"] == [  # through XCom
        {"record": "part-00000.jsonl.gz:2", "reason": "single_label", "value": "lo***"}
    ]
    assert "record part-00000.jsonl.gz:2: single_label (lo***)" in outcome.output  # the rejection warning
    (account_list,) = [item for item in sandbox.account_lists() if item["name"] == "High intent accounts"]
    assert sorted(account_list["domains"]) == ["acme.com", "globex.com", "initech.io"]


def test_the_operator_sends_nothing_when_a_part_is_truncated(sandbox, run_dag, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "part-00000.jsonl.gz").write_bytes(gzip.compress(jsonl("acme.com")))
    whole = gzip.compress(jsonl(*(f"company{n}.com" for n in range(5000))))
    (folder / "part-00001.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    source = OPERATOR_DAG.format(dag_id="abm_truncated_part", accounts=f"file://{folder}")
    outcome = run_dag("abm_truncated_part", source)
    assert outcome.task_states == {"activate": "failed"}
    assert "part-00001.jsonl.gz: the gzip stream is truncated or corrupt (EOFError" in outcome.output
    assert not [entry for entry in sandbox.request_log() if entry["method"] in ("POST", "PUT", "DELETE")
                and entry["path"] != "/oauth/token"]


TASK_DAG = """
from airflow.sdk import DAG, task

from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.records import iter_records

with DAG({dag_id!r}, schedule=None) as dag:

    @task
    def read(url: str, conn_id: str) -> str:
        try:
            return str(sum(1 for _ in iter_records(url, conn_id=conn_id)))
        except BomboraValidationError as error:
            return str(error)

    read({url!r}, "exports_fs")
    read({url!r}, "no_such_connection")
"""


def test_connections_are_looked_up_in_a_running_task(run_dag, tmp_path, monkeypatch):
    """Inside a task (dag.test()), connections are looked up as a task looks them up (its secrets backends,
    the environment first, then the execution API), not as a test process does."""
    monkeypatch.setenv("AIRFLOW_CONN_EXPORTS_FS", json.dumps({"conn_type": "fs"}))
    path = tmp_path / "accounts.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl("acme.com", "beta.io")))
    outcome = run_dag("read_with_connections", TASK_DAG.format(dag_id="read_with_connections", url=f"file://{path}"))
    assert str(outcome.xcom["read"]) == "2"
    assert "the connection 'no_such_connection' is not defined" in str(outcome.xcom["read__1"])


CONN_DAG = OPERATOR_DAG.replace(
    "        max_rejected_ratio=0.5,", "        accounts_conn_id={conn_id!r},\n        max_rejected_ratio=0.5,"
)


@pytest.mark.parametrize(("conn_id", "state"), [("exports_fs", "success"), ("no_such_connection", "failed")])
def test_the_operators_accounts_conn_id_reaches_the_store(sandbox, run_dag, tmp_path, monkeypatch, conn_id, state):
    monkeypatch.setenv("AIRFLOW_CONN_EXPORTS_FS", json.dumps({"conn_type": "fs"}))
    path = tmp_path / "accounts.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl("acme.com", "beta.io")))
    dag_id = f"abm_conn_{state}"
    outcome = run_dag(dag_id, CONN_DAG.format(dag_id=dag_id, accounts=f"file://{path}", conn_id=conn_id))
    assert outcome.task_states == {"activate": state}, outcome.output[-3000:]
    if state == "failed":
        assert "the connection 'no_such_connection' is not defined" in outcome.output
        assert "Task failed with exception" in outcome.output
        assert not [e for e in sandbox.request_log() if e["method"] != "GET" and e["path"] != "/oauth/token"]
    else:
        assert outcome.xcom["activate"]["accounts_valid"] == 2

"""docs/dsp.md says what the code does: its exchange table lists exactly the exchanges of
``EXCHANGES``, in their order, with their names, required fields and id and CPM rules, and its
list of filter ids is ``FILTER_IDS``. A change to either side without the other fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_provider_bombora.digital_audience_parameters import EXCHANGES, FILTER_IDS, Exchange

DOC = Path(__file__).resolve().parents[2] / "docs" / "dsp.md"
TABLE_HEADING = "## The data exchanges and their fields"
COLUMNS = (
    "`data_exchange`",
    "exchange",
    "Bombora requires on create",
    "the provider also requires",
    "`external_id`",
    "`partner_id`",
    "`cpm_price`",
)
# The ids the provider requires on every exchange (see digital_audience_parameters._identifier).
PROVIDER_REQUIRED = ("externalId", "partnerId")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def parse_exchange_table(text: str) -> list[dict[str, str]]:
    """The rows of the first table after :data:`TABLE_HEADING`, as dicts by column."""
    _, found, after = text.partition(TABLE_HEADING + "\n")
    assert found, f"docs/dsp.md has no {TABLE_HEADING!r} section"
    lines = after.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("|"))
    table: list[str] = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    header, separator, *rows = table
    assert tuple(_cells(header)) == COLUMNS
    assert all(set(cell) <= {"-", ":"} for cell in _cells(separator))
    parsed = [dict(zip(COLUMNS, _cells(row), strict=True)) for row in rows]
    return parsed


def _code_list(cell: str) -> tuple[str, ...]:
    """``"`name`, `endDate`"`` -> ``("name", "endDate")``; a dash (none) -> ``()``."""
    if cell in ("\N{EN DASH}", "-", ""):
        return ()
    items = tuple(item.strip() for item in cell.split(","))
    assert all(re.fullmatch(r"`[A-Za-z]+`", item) for item in items), cell
    return tuple(item.strip("`") for item in items)


def cpm_rule(exchange: Exchange) -> str:
    """How the table states an exchange's CPM rule."""
    need = "required" if exchange.requires_cpm_price else "optional"
    step = exchange.cpm_price_step
    return f"{need}, {f'a multiple of ${step:.2f}' if step is not None else 'any cent'}"


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return parse_exchange_table(DOC.read_text(encoding="utf-8"))


def test_the_table_lists_exactly_the_exchanges_in_order(rows):
    assert [row["`data_exchange`"] for row in rows] == [f"`{name}`" for name in EXCHANGES]


@pytest.mark.parametrize("name", list(EXCHANGES))
def test_each_row_states_the_exchanges_rules(rows, name):
    exchange = EXCHANGES[name]
    row = next(row for row in rows if row["`data_exchange`"] == f"`{name}`")
    assert row["exchange"] == exchange.display_name
    assert _code_list(row["Bombora requires on create"]) == exchange.required_on_create
    also = tuple(field for field in PROVIDER_REQUIRED if field not in exchange.required_on_create)
    assert _code_list(row["the provider also requires"]) == also
    assert row["`external_id`"] == exchange.external_id_rule.description
    assert row["`partner_id`"] == exchange.partner_id_rule.description
    assert row["`cpm_price`"] == cpm_rule(exchange)


def test_test_only_exchanges_say_so(rows):
    for row in rows:
        exchange = EXCHANGES[row["`data_exchange`"].strip("`")]
        assert ("test only" in row["exchange"]) == exchange.test_only


def test_the_filter_ids_are_the_codes():
    text = DOC.read_text(encoding="utf-8")
    _, found, after = text.partition("Filter ids:")
    assert found, "docs/dsp.md lists no 'Filter ids:'"
    listed = after.split(".\n", 1)[0]
    assert tuple(re.findall(r"`([a-z0-9_]+)`", listed)) == FILTER_IDS


def test_a_wrong_row_is_caught():
    """The parser reads what is written: a row with another rule is seen as different."""
    text = DOC.read_text(encoding="utf-8")
    broken = text.replace("| required, a multiple of $0.25 |", "| required, any cent |", 1)
    assert broken != text
    row = next(row for row in parse_exchange_table(broken) if row["`data_exchange`"] == "`appnexus`")
    assert row["`cpm_price`"] != cpm_rule(EXCHANGES["appnexus"])

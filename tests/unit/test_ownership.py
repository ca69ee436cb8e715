"""The ownership marker kept in an account list's description."""

from __future__ import annotations

import pytest

from airflow_provider_bombora.ownership import MARKER_PREFIX, ListOwnership, parse_description, render_description


@pytest.mark.parametrize("user_text", [None, "High intent accounts", "Line one\nline two"])
@pytest.mark.parametrize("snapshot", [None, "2024-05-02T00:00:00+00:00"])
@pytest.mark.parametrize("writing", [False, True])
def test_render_then_parse_round_trips(user_text, snapshot, writing):
    ownership = ListOwnership("abm.activate", snapshot, writing)
    assert parse_description(render_description(user_text, ownership)) == (user_text, ownership)


def test_marker_is_one_machine_readable_line():
    text = render_description("Q3", ListOwnership("dag.task", "2024-01-01T00:00:00+00:00"))
    assert text.splitlines() == [
        "Q3",
        MARKER_PREFIX + '{"dataflow_id": "dag.task", "snapshot": "2024-01-01T00:00:00+00:00"}',
    ]


@pytest.mark.parametrize(
    "description",
    [
        None,
        "",
        "A list someone made by hand",
        MARKER_PREFIX + "not json",
        MARKER_PREFIX + '{"snapshot": null}',
        MARKER_PREFIX + '{"dataflow_id": 3}',
        MARKER_PREFIX + '{"dataflow_id": "x", "snapshot": "yesterday"}',
        "[airflow-provider-bombora]" + '{"dataflow_id": "x"}',
    ],
)
def test_lists_without_a_valid_marker_have_no_owner(description):
    text, ownership = parse_description(description)
    assert ownership is None
    assert text == description


def test_the_writing_flag_is_written_only_while_a_run_writes():
    writing = render_description(None, ListOwnership("dag.task", "2024-01-01T00:00:00+00:00", writing=True))
    assert writing == (
        MARKER_PREFIX + '{"dataflow_id": "dag.task", "snapshot": "2024-01-01T00:00:00+00:00", "writing": true}'
    )
    assert "writing" not in render_description(None, ListOwnership("dag.task", "2024-01-01T00:00:00+00:00"))


def test_snapshot_datetime():
    assert ListOwnership("x").snapshot_datetime() is None
    snapshot = ListOwnership("x", "2024-05-02T00:00:00+00:00").snapshot_datetime()
    assert snapshot is not None
    assert snapshot.year == 2024

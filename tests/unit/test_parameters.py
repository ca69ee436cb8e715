"""Checks of the activation task's scalar parameters: each names the field and the fix."""

from __future__ import annotations

import pytest

from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.parameters import (
    validate_audience_description,
    validate_audience_name,
    validate_audience_origin,
    validate_batch_size,
    validate_dataflow_id,
    validate_non_negative_seconds,
    validate_positive_seconds,
    validate_ratio,
    validate_sync_mode,
)


@pytest.mark.parametrize(
    ("check", "value", "field", "fragment"),
    [
        (validate_audience_name, "", "audience_name", "non-empty"),
        (validate_audience_name, "   ", "audience_name", "non-empty"),
        (validate_audience_name, None, "audience_name", "non-empty"),
        (validate_audience_name, 42, "audience_name", "non-empty"),
        (validate_audience_name, "High\tintent", "audience_name", "control characters"),
        (validate_audience_name, "High\nintent", "audience_name", "control characters"),
        (validate_audience_name, "Zero\u200bwidth", "audience_name", "control characters"),
        (validate_audience_name, "x" * 256, "audience_name", "at most 255"),
        (validate_audience_description, 5, "audience_description", "string"),
        (validate_audience_description, "bell\x07", "audience_description", "control characters"),
        (
            validate_audience_origin,
            "custom_upload",
            "audience_origin",
            "Bombora does not support custom upload audiences",
        ),
        (validate_audience_origin, "SEGMENTATION_SERVICE", "audience_origin", "only supported origin"),
        (validate_audience_origin, None, "audience_origin", "only supported origin"),
        (validate_sync_mode, "full", "sync_mode", "'mirror', 'delta'"),
        (validate_batch_size, 0, "batch_size", "1 to 10,000"),
        (validate_batch_size, 10_001, "batch_size", "1 to 10,000"),
        (validate_batch_size, 10.5, "batch_size", "1 to 10,000"),
        (validate_batch_size, True, "batch_size", "1 to 10,000"),
        (validate_batch_size, "many", "batch_size", "1 to 10,000"),
        (validate_ratio, -0.1, "max_rejected_ratio", "0 to 1"),
        (validate_ratio, 1.5, "max_rejected_ratio", "0 to 1"),
        (validate_ratio, "a tenth", "max_rejected_ratio", "0 to 1"),
        (validate_ratio, float("nan"), "max_rejected_ratio", "0 to 1"),
        (validate_dataflow_id, "", "dataflow_id", "non-empty"),
        (validate_dataflow_id, "a\nb", "dataflow_id", "single-line"),
        (validate_positive_seconds, 0, "poll_interval", "positive"),
        (validate_positive_seconds, float("inf"), "poll_interval", "positive"),
        (validate_non_negative_seconds, -1, "max_retry_wait", ">= 0"),
    ],
)
def test_invalid_values_name_the_field_and_the_fix(check, value, field, fragment):
    takes_field = check in (validate_ratio, validate_positive_seconds, validate_non_negative_seconds)
    arguments = (field, value) if takes_field else (value,)
    with pytest.raises(BomboraValidationError) as error:
        check(*arguments)
    assert error.value.field == field
    assert str(error.value).startswith(f"{field}: ")
    assert fragment in str(error.value)


def test_valid_values_pass_normalised():
    assert validate_audience_name("  High intent accounts ") == "High intent accounts"
    assert validate_audience_name("Café accounts – EMEA") == "Café accounts – EMEA"
    assert validate_audience_description("") is None
    assert validate_audience_description("two\nlines") == "two\nlines"
    assert validate_audience_origin("segmentation_service") == "segmentation_service"
    assert validate_sync_mode("delta") == "delta"
    assert validate_batch_size(10_000) == 10_000
    assert validate_ratio("max_rejected_ratio", 0) == 0.0
    # Numbers written as text (URI connection extras, rendered templates) read the same.
    assert validate_ratio("max_rejected_ratio", "0.1") == 0.1
    assert validate_batch_size("500") == 500
    assert validate_batch_size(500.0) == 500
    assert validate_non_negative_seconds("max_retry_wait", "0") == 0.0
    assert validate_dataflow_id(" dag.task ") == "dag.task"

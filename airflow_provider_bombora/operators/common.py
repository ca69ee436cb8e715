"""What the provider's operators share: where account records come from, failing without retries,
and values that templating has yet to render."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_bombora.exceptions import BomboraValidationError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_bombora.activation import ActivationRequest
    from airflow_provider_bombora.mappings import ValidatedMappings
    from airflow_provider_bombora.plan import DesiredAudience


class FailFastTemplates(BaseOperator):
    """An operator whose template errors fail the task at once: they are the same at every retry."""

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        from jinja2 import TemplateError

        try:
            super().render_template_fields(context, jinja_env)
        except TemplateError as error:
            hint = (
                " This run has no logical date (a manual run from the UI's Trigger button): "
                "templates that use ds or logical_date need a run with one."
                if context.get("logical_date") is None
                else ""
            )
            raise fail(f"Task {self.task_id!r}: a template did not render: {error}.{hint}") from error


def validate_record_source(accounts: Any, sql: Any, sql_conn_id: Any, *, required: bool = True) -> None:
    """At most (``required``: exactly) one of ``accounts`` / ``sql``; ``sql`` with its connection
    and the common-sql provider installed."""
    if (accounts is not None and sql is not None) or (required and accounts is None and sql is None):
        raise BomboraValidationError(
            "accounts",
            "give exactly one of accounts (records, a file or a URL) and sql (a query run through "
            f"sql_conn_id); got {'both' if sql is not None else 'neither'}",
        )
    if sql is None:
        if sql_conn_id is not None:
            raise BomboraValidationError("sql_conn_id", "is only used with sql; give sql, or drop sql_conn_id")
        return
    from airflow_provider_bombora.sources.sql import require_common_sql

    require_common_sql()
    if not is_unrendered(sql) and (not isinstance(sql, str) or not sql.strip()):
        raise BomboraValidationError("sql", f"must be a SQL query or the path of a .sql file, got {sql!r}")
    if not isinstance(sql_conn_id, str) or not sql_conn_id.strip():
        raise BomboraValidationError(
            "sql_conn_id", "must name the connection the query runs on (one whose hook is a common-sql DbApiHook)"
        )


def read_desired_audience(
    *,
    accounts: Any,
    accounts_conn_id: str | None,
    sql: str | None,
    sql_conn_id: str | None,
    mappings: ValidatedMappings,
    request: ActivationRequest,
) -> DesiredAudience:
    """The domains the records of ``accounts`` or of the ``sql`` query ask for, streamed."""
    from airflow_provider_bombora.activation import collect_audience, read_audience

    if sql is not None:
        from airflow_provider_bombora.sources.sql import iter_sql_records

        return collect_audience(iter_sql_records(sql, sql_conn_id or "", mappings, request), mappings, request)
    return read_audience(accounts, mappings, request, conn_id=accounts_conn_id or None)


def is_unrendered(value: Any) -> bool:
    """True for a value that only templating or XCom resolution will turn into the real one."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(is_unrendered(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(is_unrendered(item) for item in value)
    return hasattr(value, "resolve")  # XComArg and other lazily resolved arguments


def fail(message: str) -> Exception:
    """An ``AirflowFailException``: the task fails without spending its retries."""
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(message)

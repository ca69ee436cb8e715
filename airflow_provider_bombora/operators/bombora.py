"""Operators of the provider: the activation of an account audience to a Bombora account list,
and (from :mod:`.digital_audiences`) the push of accounts to a DSP."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import Asset, AssetAlias, conf

from airflow_provider_bombora.assets import account_list_asset
from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.mappings import validate_mappings
from airflow_provider_bombora.operators.common import (
    FailFastTemplates,
    fail,
    is_unrendered,
    read_desired_audience,
    validate_record_source,
)
from airflow_provider_bombora.operators.digital_audiences import BomboraDigitalAudienceOperator
from airflow_provider_bombora.parameters import (
    MIRROR,
    validate_audience_description,
    validate_audience_name,
    validate_audience_origin,
    validate_batch_size,
    validate_dataflow_id,
    validate_positive_seconds,
    validate_ratio,
    validate_snapshot,
    validate_sync_mode,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_bombora.activation import ActivationRequest
    from airflow_provider_bombora.hooks.bombora import BomboraHook


__all__ = ["BomboraActivateAudienceOperator", "BomboraDigitalAudienceOperator"]

# XCom key of the activation summary while the task waits, deferred, for the export.
ACTIVATION_XCOM_KEY = "bombora_activation"


class BomboraActivateAudienceOperator(FailFastTemplates):
    """
    Activate an account audience to Bombora: an account list named after the audience, its
    members kept in step with the audience.

    The mappings are validated before anything is sent: exactly one mapping targets
    ``identity:primaryId`` (any source; never exported) and the source
    ``xdm:accountOrganization.domain`` maps to ``xdm:companyWebsiteDomain``, the only field
    Bombora receives. Domains are normalised; invalid records are rejected and counted.

    :param audience_name: name of the audience, and of its Bombora account list. (templated)
    :param accounts: account records (dicts, nested or with dotted keys); the path of a ``.csv``,
        ``.jsonl``/``.ndjson`` or ``.json`` file of them; or object storage: an
        ``ObjectStoragePath`` or a URL (``s3://``, ``gs://``, ``file://`` ...), a file or a folder of
        part files, each optionally ``.gz``/``.bz2``/``.zst`` (see docs/sources.md). (templated)
        Give ``accounts`` or ``sql``.
    :param accounts_conn_id: the object store's connection for an ``accounts`` URL (an
        ``ObjectStoragePath`` keeps its own).
    :param sql: a query whose rows are the account records, run through ``sql_conn_id``: a
        column per mapped source, named after its path without the namespace (case-insensitive;
        ``__`` for ``.`` where a name cannot hold a dot). Streamed. Needs the ``sql`` extra.
        (templated; a ``.sql`` file too)
    :param sql_conn_id: the connection ``sql`` runs on; its hook must be a common-sql ``DbApiHook``.
    :param mappings: the destination's mappings, a list of ``{"source", "target"}``. (templated)
    :param audience_description: text stored in the list's description. (templated)
    :param audience_origin: ``segmentation_service``; Bombora refuses custom upload audiences.
    :param sync_mode: ``mirror``: the list ends equal to the valid accounts (exits removed);
        ``delta``: each record's ``status_field`` says ``realized``/``existing`` (add) or
        ``exited`` (remove).
    :param status_field: record field holding the membership status in ``delta`` mode.
    :param dataflow_id: the dataflow that owns the list; default ``"<dag_id>.<task_id>"``.
        An audience activated through another dataflow is refused. (templated)
    :param batch_size: accounts per request, 1 to 10,000.
    :param max_rejected_ratio: fail, before sending anything, when more than this share of
        the records is rejected.
    :param allow_empty: in ``mirror`` mode, let an audience with no valid account empty the list.
    :param snapshot: what the audience's data is as of (ISO 8601 date or date-time; e.g. the
        export's own timestamp). Runs apply in snapshot order: one older than the list's is
        skipped. Default: the run's logical date, for scheduled, backfill and manual runs alike;
        for a run without a logical date (the UI's Trigger button), when it was triggered
        (``run_after``). (templated)
    :param allow_stale: apply a run whose snapshot is older than the one the list holds.
    :param adopt_existing: take over a Manual list of that name that no dataflow owns.
    :param dry_run: validate, read the list and compute the plan; write nothing. The summary
        and the log show a sample of the domains to add and remove (``plan_sample``); the
        whole plan goes to ``plan_file`` (``plan_file`` in the summary).
    :param plan_file: where a dry run writes its whole plan as JSON Lines
        (``{"action": "add" | "remove", "domain": ...}``); by default a temporary file, and only
        when the plan is longer than its sample. (templated)
    :param pending_update_timeout: how long to wait for Bombora to apply a pending update
        before reading or removing members.
    :param poll_interval: longest wait between checks of a pending update or of the export, in
        seconds (the first checks come sooner).
    :param wait_for_completion: after writing, wait until Bombora has applied the export
        (the same checks as :class:`~airflow_provider_bombora.sensors.bombora.BomboraExportStatusSensor`).
    :param deferrable: wait in the triggerer instead of a worker slot; default from
        ``[operators] default_deferrable``.
    :param wait_timeout: seconds to wait for the export with ``wait_for_completion``.
    :param bombora_conn_id: the Bombora connection.

    A successful run (not a dry run) emits an event for the asset of its account list,
    ``bombora://account-lists/<audience name>``, with the summary as the event's extra: schedule a
    DAG on :func:`~airflow_provider_bombora.assets.account_list_asset` to run after each refresh.
    """

    template_fields: Sequence[str] = (
        "audience_name",
        "audience_description",
        "accounts",
        "sql",
        "mappings",
        "dataflow_id",
        "plan_file",
        "snapshot",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"mappings": "json", "accounts": "json", "sql": "sql"}
    ui_color = "#e6f1fb"
    # The parameter shadows BaseOperator.dry_run(), a method that no Airflow 3 code calls; the
    # Task SDK's annotation is that method's, hence the ignore.
    dry_run: bool  # type: ignore[assignment]

    def __init__(
        self,
        *,
        audience_name: str,
        accounts: Any = None,
        mappings: list[dict[str, str]],
        accounts_conn_id: str | None = None,
        sql: str | None = None,
        sql_conn_id: str | None = None,
        audience_description: str | None = None,
        audience_origin: str = "segmentation_service",
        sync_mode: str = "mirror",
        status_field: str = "status",
        dataflow_id: str | None = None,
        batch_size: int = 1000,
        max_rejected_ratio: float = 0.1,
        allow_empty: bool = False,
        allow_stale: bool = False,
        adopt_existing: bool = False,
        dry_run: bool = False,
        plan_file: str | None = None,
        snapshot: str | None = None,
        pending_update_timeout: float = 900,
        poll_interval: float = 10,
        wait_for_completion: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        wait_timeout: float = 60 * 60,
        bombora_conn_id: str = "bombora_default",
        **kwargs: Any,
    ) -> None:
        # Each key of the summary is its own XCom too, so that `activate.output["account_list_id"]`
        # feeds a sensor directly.
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(**kwargs)
        self.audience_name = audience_name
        self.accounts = accounts
        self.accounts_conn_id = accounts_conn_id
        self.sql = sql
        self.sql_conn_id = sql_conn_id
        self.mappings = mappings
        self.audience_description = audience_description
        self.audience_origin = audience_origin
        self.sync_mode = sync_mode
        self.status_field = status_field
        self.dataflow_id = dataflow_id
        self.batch_size = batch_size
        self.max_rejected_ratio = max_rejected_ratio
        self.allow_empty = allow_empty
        self.allow_stale = allow_stale
        self.adopt_existing = adopt_existing
        self.dry_run = dry_run
        self.plan_file = plan_file
        self.snapshot = snapshot
        self.pending_update_timeout = pending_update_timeout
        self.poll_interval = poll_interval
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.wait_timeout = wait_timeout
        self.bombora_conn_id = bombora_conn_id
        # Fail at DAG parse time on what is already known; templated values wait for rendering.
        self._validate_static_parameters()
        validate_record_source(self.accounts, self.sql, self.sql_conn_id)
        for field, validate in self._templated_checks():
            value = getattr(self, field)
            if not is_unrendered(value):
                validate(value)
        # What the task announces when it succeeds: its audience's account list (see
        # airflow_provider_bombora.assets); an alias while the name is a template.
        self._account_list_outlet: Asset | AssetAlias | None = None
        if not dry_run:
            self._account_list_outlet = (
                AssetAlias(f"bombora-account-list:{self.dag_id}.{self.task_id}")
                if is_unrendered(audience_name)
                else account_list_asset(audience_name.strip())
            )
            self.outlets = [*self.outlets, self._account_list_outlet]

    def _announce(self, context: Context, activation: dict) -> dict:
        """Put the summary on the account list's asset event (downstream DAGs read it from there)."""
        outlet = self._account_list_outlet
        # A context built by hand (an execute() called directly) has no outlet events to fill.
        events = context.get("outlet_events")
        if outlet is not None and events is not None and not activation["dry_run"]:
            if isinstance(outlet, AssetAlias):
                events[outlet].add(account_list_asset(activation["audience_name"]), extra=activation)
            else:
                events[outlet].extra = activation
        return activation

    def _validate_static_parameters(self) -> None:
        validate_audience_origin(self.audience_origin)
        validate_sync_mode(self.sync_mode)
        validate_batch_size(self.batch_size)
        validate_ratio("max_rejected_ratio", self.max_rejected_ratio)
        validate_positive_seconds("pending_update_timeout", self.pending_update_timeout)
        validate_positive_seconds("poll_interval", self.poll_interval)
        validate_positive_seconds("wait_timeout", self.wait_timeout)
        if not isinstance(self.status_field, str) or not self.status_field:
            raise BomboraValidationError("status_field", "must name the record field holding the membership status")

    def _templated_checks(self) -> tuple[tuple[str, Callable[[Any], object]], ...]:
        return (
            ("audience_name", validate_audience_name),
            ("audience_description", validate_audience_description),
            ("mappings", validate_mappings),
            ("dataflow_id", lambda value: value is None or validate_dataflow_id(value)),
        )

    @cached_property
    def hook(self) -> BomboraHook:
        # Imported here: DAG files import this module at every parse, and need no HTTP stack.
        from airflow_provider_bombora.hooks.bombora import BomboraHook

        return BomboraHook(bombora_conn_id=self.bombora_conn_id)

    def execute(self, context: Context) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from airflow_provider_bombora.activation import activate_audience
        from airflow_provider_bombora.exceptions import (
            BomboraAudienceConflictError,
            BomboraConfigError,
            BomboraValidationError,
            StaleSnapshotError,
        )

        try:
            request = self._request(context)
            mappings = validate_mappings(self.mappings)
            desired = read_desired_audience(
                accounts=self.accounts,
                accounts_conn_id=self.accounts_conn_id,
                sql=self.sql,
                sql_conn_id=self.sql_conn_id,
                mappings=mappings,
                request=request,
            )
            activation = activate_audience(self.hook, request, desired)
        except StaleSnapshotError as stale:
            # A top-level line: Airflow puts its own skip message inside a collapsed log group.
            self.log.warning("Skipped: %s", stale)
            raise AirflowSkipException(str(stale)) from None
        except (BomboraValidationError, BomboraConfigError, BomboraAudienceConflictError) as error:
            # Bad input, a missing file, a misconfigured connection, a list owned elsewhere: the
            # same at every retry, so no retry is spent on them.
            raise fail(str(error)) from error
        if not self.wait_for_completion or activation["account_list_id"] is None or activation["dry_run"]:
            return self._announce(context, activation)
        return self._wait_for_export(activation, context)

    def _wait_for_export(self, activation: dict, context: Context) -> dict:
        """Wait with the sensor's logic: in this worker, or deferred to the triggerer."""
        from airflow_provider_bombora.export_status import ExportTarget
        from airflow_provider_bombora.polling import wait_for

        target = ExportTarget.from_parameters(
            account_list_id=activation["account_list_id"],
            audience_name=activation["audience_name"],
            submitted_after=activation["submitted_at"],
            # In mirror mode the live list must hold exactly the valid accounts.
            expected_account_total=activation["accounts_valid"] if self.sync_mode == MIRROR else None,
        )
        if self.deferrable:
            from airflow_provider_bombora.triggers.bombora import BomboraExportStatusTrigger

            # The summary of what was written is a result in its own right: in XCom it can be
            # seen while the export is awaited (maybe for hours), and it stays there if the wait
            # times out. execute_complete reads it back.
            context["ti"].xcom_push(key=ACTIVATION_XCOM_KEY, value=activation)
            self.defer(
                trigger=BomboraExportStatusTrigger(
                    **target.to_parameters(),
                    deadline=time.time() + self.wait_timeout,
                    poll_interval=self.poll_interval,
                    bombora_conn_id=self.bombora_conn_id,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.wait_timeout),
            )
        status = wait_for(self.hook, target, poll_interval=self.poll_interval, timeout=self.wait_timeout)
        return self._announce(context, {**activation, **status})

    def execute_complete(self, context: Context, event: dict) -> dict:
        """Resume after the export status trigger: the activation's summary and the export's status."""
        from airflow_provider_bombora.export_status import ExportTarget
        from airflow_provider_bombora.polling import result_from_event

        status = result_from_event(event, ExportTarget)
        ti = context["ti"]
        activation = ti.xcom_pull(task_ids=ti.task_id, key=ACTIVATION_XCOM_KEY, map_indexes=ti.map_index)
        return self._announce(context, {**activation, **status})

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage (called by its provider's listener, when installed): the input the audience
        was read from, and the account list it went to."""
        from airflow_provider_bombora.lineage import activation_lineage

        return activation_lineage(
            audience_name=self.audience_name, accounts=self.accounts, sql=self.sql, sql_conn_id=self.sql_conn_id
        )

    def _request(self, context: Context) -> ActivationRequest:
        """Every parameter validated, as rendered: all of it before any network call."""
        from airflow_provider_bombora.activation import ActivationRequest

        self._validate_static_parameters()
        return ActivationRequest(
            audience_name=validate_audience_name(self.audience_name),
            audience_description=validate_audience_description(self.audience_description),
            dataflow_id=validate_dataflow_id(self.dataflow_id or f"{self.dag_id}.{self.task_id}"),
            sync_mode=self.sync_mode,
            status_field=self.status_field,
            snapshot=validate_snapshot(self.snapshot) if self.snapshot else _snapshot(context),
            batch_size=validate_batch_size(self.batch_size),
            max_rejected_ratio=validate_ratio("max_rejected_ratio", self.max_rejected_ratio),
            allow_empty=self.allow_empty,
            allow_stale=self.allow_stale,
            adopt_existing=self.adopt_existing,
            dry_run=self.dry_run,
            plan_file=self.plan_file or None,
            source_field="sql" if self.sql is not None else "accounts",
            pending_update_timeout=validate_positive_seconds("pending_update_timeout", self.pending_update_timeout),
            poll_interval=validate_positive_seconds("poll_interval", self.poll_interval),
        )


def _snapshot(context: Context) -> str:
    """The run's snapshot when the task does not give one: its logical date, the same for a
    scheduled, a backfill and a manual run of that date (a manual run's data interval ends when
    it was triggered, not when its data is as of); for a run without a logical date, the moment
    it was triggered (``run_after``), which its retries share."""
    logical_date = context.get("logical_date")
    return validate_snapshot(logical_date if logical_date is not None else context["dag_run"].run_after)

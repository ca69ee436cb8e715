"""Operator that pushes accounts to a DSP through Bombora's Digital Audience Builder."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import Asset, AssetAlias, conf

from airflow_provider_bombora.assets import digital_audience_asset
from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.mappings import validate_mappings
from airflow_provider_bombora.operators.common import (
    FailFastTemplates,
    fail,
    is_unrendered,
    read_desired_audience,
    validate_record_source,
)
from airflow_provider_bombora.parameters import validate_positive_seconds, validate_ratio

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_bombora.digital_audiences import DigitalAudienceSpec
    from airflow_provider_bombora.hooks.bombora import BomboraHook

# XCom key of the push's summary while the task waits, deferred, for the audience to be active.
PUSH_XCOM_KEY = "bombora_digital_audience"


class BomboraDigitalAudienceOperator(FailFastTemplates):
    """
    Push accounts to a data exchange (a DSP: The Trade Desk, Xandr, LiveRamp, Adobe ...) as a
    Bombora digital audience, created or kept up to date.

    The audience is identified by ``data_exchange``, ``external_id`` and ``partner_id``: a rerun
    reads it back and updates only what changed (Bombora's PUT is a full overwrite), or changes
    nothing; it is never duplicated. Every parameter is checked against the exchange's rules
    before any call (see docs/dsp.md). The domains come from an activated account list
    (``account_list_id``) or from any source the activation operator reads (``accounts`` or
    ``sql``), normalised and de-duplicated the same way, with the same rejection report.

    :param data_exchange: the exchange's path value: ``adobe``, ``appnexus`` (Xandr),
        ``blue_kai``, ``eyeota``, ``liveramp``, ``lotame``, ``measure`` (test only),
        ``media_math_direct``, ``taboola_direct``, ``trade_desk_direct``, ``rtvi``. (templated)
    :param audience_name: the audience's name on Bombora. (templated)
    :param end_date: when the audience ends: a date (its end, UTC) or an ISO 8601 date-time,
        in the future and at most 13 months ahead. Kept as ``audience_end_date``: this operator's
        ``end_date`` is the audience's, not BaseOperator's last scheduled date. (templated)
    :param partner_id: the partner (seat, advertiser) id on the exchange. (templated)
    :param external_id: the audience's id on the exchange: letters, digits, ``-`` and ``_``
        (MediaMath: at least 7 digits). (templated)
    :param cpm_price: the CPM in dollars, e.g. ``"1.25"``; required for appnexus (in $0.25
        steps) and trade_desk_direct. (templated)
    :param account_list_id: take the domains of this Bombora account list, e.g.
        ``activate.output["account_list_id"]``. (templated)
    :param accounts: or account records, a file or object storage, as for
        :class:`~airflow_provider_bombora.operators.bombora.BomboraActivateAudienceOperator`. (templated)
    :param accounts_conn_id: the object store's connection for an ``accounts`` URL.
    :param sql: or a query whose rows are the account records, run through ``sql_conn_id``. (templated)
    :param sql_conn_id: the connection ``sql`` runs on (a common-sql ``DbApiHook``).
    :param mappings: the mappings of ``accounts``/``sql`` records, as for the activation. (templated)
    :param max_rejected_ratio: fail, before sending anything, when more than this share of the
        records is rejected.
    :param topics: Bombora topic ids to target. (templated)
    :param filters: ``[{"id": "country", "values": ["US"]}, ...]``; ids as the contract lists. (templated)
    :param surge_id: a Company Surge report id (overrides domains). (templated)
    :param granular_install_data: install-data ids. (templated)
    :param filter_or: combine filters with OR (Bombora's default: AND).
    :param entity_party: 1 (first party only) or 3 (third party, Bombora's default).
    :param activate: activate the audience if it is suspended.
    :param estimate: ask Bombora how many accounts the audience reaches (``estimate`` in the result).
    :param dry_run: validate, estimate and return the payload; create and change nothing.
    :param wait_for_completion: wait until the audience is active (the same checks as
        :class:`~airflow_provider_bombora.sensors.bombora.BomboraDigitalAudienceSensor`).
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param poll_interval: longest wait between checks of the status, in seconds.
    :param wait_timeout: seconds to wait for the audience to be active.
    :param bombora_conn_id: the Bombora connection.

    Returns (and pushes as XComs, one per key) ``data_exchange``, ``external_id``,
    ``partner_id``, ``audience_name``, ``action``, ``changed_fields``, ``status``, ``activated``,
    ``domain_count``, ``estimate``, ``dry_run`` and, with accounts/sql, the records' counts
    (``records_received``, ``records_rejected``, ``records_duplicates``, ``rejected_sample``).
    A push that is not a dry run emits an event for the audience's asset,
    ``bombora://digital-audiences/<exchange>/<external id>/<partner id>``, with the result as extra.
    """

    template_fields: Sequence[str] = (
        "data_exchange",
        "audience_name",
        "audience_end_date",
        "partner_id",
        "external_id",
        "cpm_price",
        "account_list_id",
        "accounts",
        "sql",
        "mappings",
        "topics",
        "filters",
        "surge_id",
        "granular_install_data",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"filters": "json", "mappings": "json", "sql": "sql"}
    ui_color = "#eaf5e9"
    # As for the activation operator: the parameter shadows BaseOperator.dry_run().
    dry_run: bool  # type: ignore[assignment]

    def __init__(
        self,
        *,
        data_exchange: str,
        audience_name: str,
        end_date: Any,
        partner_id: Any,
        external_id: Any,
        cpm_price: Any = None,
        account_list_id: str | None = None,
        accounts: Any = None,
        accounts_conn_id: str | None = None,
        sql: str | None = None,
        sql_conn_id: str | None = None,
        mappings: list[dict[str, str]] | None = None,
        max_rejected_ratio: float = 0.1,
        topics: Any = None,
        filters: Any = None,
        surge_id: Any = None,
        granular_install_data: Any = None,
        filter_or: bool | None = None,
        entity_party: int | None = None,
        activate: bool = True,
        estimate: bool = False,
        dry_run: bool = False,
        wait_for_completion: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30,
        wait_timeout: float = 60 * 60,
        bombora_conn_id: str = "bombora_default",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(**kwargs)
        self.data_exchange = data_exchange
        self.audience_name = audience_name
        # Not self.end_date: that is BaseOperator's, the last date the task is scheduled.
        self.audience_end_date = end_date
        self.partner_id = partner_id
        self.external_id = external_id
        self.cpm_price = cpm_price
        self.account_list_id = account_list_id
        self.accounts = accounts
        self.accounts_conn_id = accounts_conn_id
        self.sql = sql
        self.sql_conn_id = sql_conn_id
        self.mappings = mappings
        self.max_rejected_ratio = max_rejected_ratio
        self.topics = topics
        self.filters = filters
        self.surge_id = surge_id
        self.granular_install_data = granular_install_data
        self.filter_or = filter_or
        self.entity_party = entity_party
        self.activate = activate
        self.estimate = estimate
        self.dry_run = dry_run
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout
        self.bombora_conn_id = bombora_conn_id
        # Fail at DAG parse time on what is already known; templated values wait for rendering.
        self._validate_static_parameters()
        if not is_unrendered([data_exchange, external_id, partner_id]):
            self._target()
        self._outlet: Asset | AssetAlias | None = None
        if not dry_run:
            self._outlet = (
                AssetAlias(f"bombora-digital-audience:{self.dag_id}.{self.task_id}")
                if is_unrendered([data_exchange, external_id, partner_id])
                else digital_audience_asset(**self._target().to_parameters())
            )
            self.outlets = [*self.outlets, self._outlet]

    def _validate_static_parameters(self) -> None:
        validate_ratio("max_rejected_ratio", self.max_rejected_ratio)
        validate_positive_seconds("poll_interval", self.poll_interval)
        validate_positive_seconds("wait_timeout", self.wait_timeout)
        given = [name for name in ("account_list_id", "accounts", "sql") if getattr(self, name) is not None]
        if len(given) > 1:
            raise BomboraValidationError(
                given[0], f"give at most one of account_list_id, accounts and sql; got {' and '.join(given)}"
            )
        validate_record_source(self.accounts, self.sql, self.sql_conn_id, required=False)
        records = self.accounts is not None or self.sql is not None
        if records and self.mappings is None:
            raise BomboraValidationError(
                "mappings", "accounts and sql need the mappings of their records (see BomboraActivateAudienceOperator)"
            )
        if not records and self.mappings is not None:
            raise BomboraValidationError("mappings", "are only used with accounts or sql; drop them")
        if self.mappings is not None and not is_unrendered(self.mappings):
            validate_mappings(self.mappings)

    def _target(self) -> Any:
        from airflow_provider_bombora.digital_audiences import DigitalAudienceTarget

        return DigitalAudienceTarget.from_parameters(
            data_exchange=self.data_exchange, external_id=self.external_id, partner_id=self.partner_id
        )

    @cached_property
    def hook(self) -> BomboraHook:
        # Imported here: DAG files import this module at every parse, and need no HTTP stack.
        from airflow_provider_bombora.hooks.bombora import BomboraHook

        return BomboraHook(bombora_conn_id=self.bombora_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_bombora.digital_audience_push import push_digital_audience
        from airflow_provider_bombora.exceptions import (
            BomboraConfigError,
            BomboraDigitalAudienceError,
        )

        try:
            self._validate_static_parameters()
            # Everything but the domains is checked before anything is read or sent.
            self._spec(domains=None, domains_to_come=self.account_list_id is not None or self.mappings is not None)
            domains, report = self._domains()
            spec = self._spec(domains=domains)
            pushed = push_digital_audience(
                self.hook, spec, activate=self.activate, dry_run=self.dry_run, estimate=self.estimate
            )
        except (BomboraValidationError, BomboraConfigError, BomboraDigitalAudienceError) as error:
            # The same at every retry: no retry is spent on them.
            raise fail(str(error)) from error
        result = {**pushed, **report}
        self.log.info(
            "%s: %s (%s domains, status %s%s)",
            spec.target.describe(),
            result["action"],
            result["domain_count"],
            result["status"],
            f", estimate {result['estimate']}" if result["estimate"] is not None else "",
        )
        if not self.wait_for_completion or self.dry_run:
            return self._announce(context, result)
        with _failing_at_once():
            return self._wait_until_active(spec, result, context)

    def _spec(self, *, domains: Sequence[str] | None, domains_to_come: bool = False) -> DigitalAudienceSpec:
        from airflow_provider_bombora.digital_audiences import build_audience_spec

        return build_audience_spec(
            data_exchange=self.data_exchange,
            audience_name=self.audience_name,
            end_date=self.audience_end_date,
            partner_id=self.partner_id,
            external_id=self.external_id,
            cpm_price=self.cpm_price,
            domains=domains,
            domains_to_come=domains_to_come,
            topics=self.topics,
            filters=self.filters,
            surge_id=self.surge_id,
            granular_install_data=self.granular_install_data,
            filter_or=self.filter_or,
            entity_party=self.entity_party,
            now=datetime.now(timezone.utc),
        )

    def _domains(self) -> tuple[list[str] | None, dict[str, Any]]:
        """The domains to push and, for records, the report of how they were read."""
        if self.account_list_id is not None:
            account_list_id = str(self.account_list_id).strip()
            if account_list_id in ("", "None"):  # what a template renders for a missing value
                raise BomboraValidationError(
                    "account_list_id", "has no value: did the activation upstream run as a dry run?"
                )
            return sorted(self.hook.iter_account_domains(account_list_id)), {}
        if self.mappings is None:
            return None, {}
        from airflow_provider_bombora.activation import ActivationRequest, check_audience

        request = ActivationRequest(
            audience_name=self.audience_name,
            dataflow_id=f"{self.dag_id}.{self.task_id}",
            max_rejected_ratio=self.max_rejected_ratio,
            # An empty audience is refused by the targeting rule, which names every alternative.
            allow_empty=True,
            source_field="sql" if self.sql is not None else "accounts",
        )
        desired = read_desired_audience(
            accounts=self.accounts,
            accounts_conn_id=self.accounts_conn_id,
            sql=self.sql,
            sql_conn_id=self.sql_conn_id,
            mappings=validate_mappings(self.mappings),
            request=request,
        )
        check_audience(desired, request)
        report = {
            "records_received": desired.received,
            "records_rejected": sum(desired.rejected_by_reason.values()),
            "records_duplicates": desired.duplicates,
            "rejected_sample": desired.rejected_sample,
        }
        return sorted(desired.to_add_candidates), report

    def _wait_until_active(self, spec: DigitalAudienceSpec, result: dict[str, Any], context: Context) -> dict:
        from airflow_provider_bombora.polling import wait_for

        target = spec.target
        if self.deferrable:
            from airflow_provider_bombora.triggers.bombora import BomboraDigitalAudienceTrigger

            context["ti"].xcom_push(key=PUSH_XCOM_KEY, value=result)
            self.defer(
                trigger=BomboraDigitalAudienceTrigger(
                    **target.to_parameters(),
                    deadline=time.time() + self.wait_timeout,
                    poll_interval=self.poll_interval,
                    bombora_conn_id=self.bombora_conn_id,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.wait_timeout),
            )
        status = wait_for(self.hook, target, poll_interval=self.poll_interval, timeout=self.wait_timeout)
        return self._announce(context, _after_wait(result, status))

    def execute_complete(self, context: Context, event: dict) -> dict:
        """Resume after the trigger: the push's summary with the audience's active status."""
        from airflow_provider_bombora.digital_audiences import DigitalAudienceTarget
        from airflow_provider_bombora.polling import result_from_event

        with _failing_at_once():
            status = result_from_event(event, DigitalAudienceTarget)
        ti = context["ti"]
        pushed = ti.xcom_pull(task_ids=ti.task_id, key=PUSH_XCOM_KEY, map_indexes=ti.map_index)
        return self._announce(context, _after_wait(pushed, status))

    def _announce(self, context: Context, result: dict) -> dict:
        """Put the result on the audience's asset event (downstream DAGs read it from there)."""
        events = context.get("outlet_events")
        if self._outlet is not None and events is not None and not result["dry_run"]:
            if isinstance(self._outlet, AssetAlias):
                identity = {key: result[key] for key in ("data_exchange", "external_id", "partner_id")}
                events[self._outlet].add(digital_audience_asset(**identity), extra=result)
            else:
                events[self._outlet].extra = result
        return result


@contextmanager
def _failing_at_once() -> Iterator[None]:
    """A suspended or missing audience fails the task without retries: a retry would find it the
    same. A wait that ran out of time may be retried."""
    from airflow_provider_bombora.exceptions import BomboraDigitalAudienceError, BomboraDigitalAudienceTimeoutError

    try:
        yield
    except BomboraDigitalAudienceTimeoutError:
        raise
    except BomboraDigitalAudienceError as error:
        raise fail(str(error)) from error


def _after_wait(pushed: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """The push's result once the audience is active: its status is the one the wait saw."""
    return {**pushed, "status": status["audience_status"]}

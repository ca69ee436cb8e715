"""Sensors that wait until Bombora has finished: an activation's export live, a digital audience active.

Both are :class:`BomboraStatusSensor`: poke, deferral and resumption are written once; each
sensor only says what it watches (a :class:`~airflow_provider_bombora.polling.Watch`) and which
trigger waits for it in the triggerer.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

from airflow_provider_bombora.exceptions import BomboraDigitalAudienceError, BomboraValidationError
from airflow_provider_bombora.export_status import ExportTarget
from airflow_provider_bombora.polling import Watch, check, result_from_event

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_bombora.hooks.bombora import BomboraHook
    from airflow_provider_bombora.triggers.bombora import BomboraStatusTrigger


class BomboraStatusSensor(BaseSensorOperator):
    """
    Wait until what :meth:`_target` names is finished, poking or deferred.

    A subclass says what it watches (:meth:`_target`) and which trigger waits for it
    (:meth:`_trigger`). Failures that waiting cannot mend (missing, suspended, credentials
    refused) fail at once; rate limiting, server errors and dropped connections never do: the
    hook retries them, then the next poke does, until ``timeout``.

    :param deferrable: Check once, then wait in the triggerer (no worker slot held).
        Default: ``[operators] default_deferrable``.
    :param poke_interval: Seconds between checks (in the triggerer too).
    :param timeout: Seconds before the sensor fails with ``AirflowSensorTimeout``.
    :param bombora_conn_id: The Bombora connection.
    """

    def __init__(
        self,
        *,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: float = 60,
        timeout: float = 60 * 60,
        bombora_conn_id: str = "bombora_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.deferrable = deferrable
        self.bombora_conn_id = bombora_conn_id
        # What the last check found: later pokes read by id (a deleted resource fails).
        self._found: dict[str, Any] | None = None

    @cached_property
    def hook(self) -> BomboraHook:
        # Imported here: DAG files import this module at every parse, and need no HTTP stack.
        from airflow_provider_bombora.hooks.bombora import BomboraHook

        return BomboraHook(bombora_conn_id=self.bombora_conn_id)

    @abstractmethod
    def _target(self) -> Watch:
        """What to watch, from the rendered parameters and what the last check found."""

    @abstractmethod
    def _trigger(self, target: Watch, deadline: float) -> BomboraStatusTrigger:
        """The trigger that waits for ``target`` until ``deadline`` (seconds since the epoch)."""

    def poke(self, context: Context) -> PokeReturnValue:
        target = self._target()
        status = check(self.hook, target)
        if status is None:
            return PokeReturnValue(is_done=False)
        self._found = status.result
        if not status.done:
            self.log.info("%s: %s", target.identified_by(status.result).describe(), status.waiting_for)
        return PokeReturnValue(is_done=status.done, xcom_value=status.result if status.done else None)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        deadline = time.time() + self.timeout
        checked = self.poke(context)
        if checked:
            return checked.xcom_value
        self.defer(
            trigger=self._trigger(self._target(), deadline),
            method_name="execute_complete",
            # A backstop should the triggerer never run the trigger; the trigger's deadline comes first.
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger's event: return the result, or fail with the trigger's reason."""
        watch_type = type(self._target())
        try:
            result = result_from_event(event, watch_type)
        except watch_type.timeout as error:
            # Airflow's sensor timeout: no retry, and soft_fail turns it into a skip.
            raise AirflowSensorTimeout(str(error)) from None
        self.log.info("%s", event["message"])
        return result


class BomboraExportStatusSensor(BomboraStatusSensor):
    """
    Wait until an activation's export to Bombora is live, to chain work after it.

    Bombora applies account uploads asynchronously: the account list shows ``pendingUpdate: true``
    until its update job has run. The export is live when ``pendingUpdate`` is false and, if
    ``submitted_after`` is given, the list's ``accountsLastModified`` (UTC) is not older than it.
    Then, if ``expected_account_total`` is given, the list's ``accountTotal`` must equal it.

    Give ``submitted_after`` only when the activation really wrote to the list: a run that
    changed nothing leaves ``accountsLastModified`` as it was and the sensor would wait until it
    times out. The activation operator's ``submitted_at`` is ``None`` when it wrote nothing, so
    ``submitted_after=activate.output["submitted_at"]`` is always right. Without
    ``submitted_after`` the sensor only waits for the pending update to clear.

    Fails at once when the list does not exist (deleted, or no list of that name), when Bombora
    refuses the connection's credentials, and when the live list's account total is not
    ``expected_account_total``. Rate limiting, server errors and dropped connections never
    fail it: the hook retries them, then the next poke does, until ``timeout``.

    Returns (XCom) ``{"account_list_id", "audience_name", "account_total",
    "accounts_last_modified", "pending_update": False}``.

    :param account_list_id: The account list to watch, e.g. from the activation's XCom. (templated)
    :param audience_name: Or the list's name, looked up once. Give exactly one of the two. (templated)
    :param submitted_after: ISO 8601 time the upload was submitted; without a zone it means UTC.
        An empty value or ``None`` counts as not given. (templated)
    :param expected_account_total: The account total the live list must have. (templated)

    ``deferrable`` (waits with
    :class:`~airflow_provider_bombora.triggers.bombora.BomboraExportStatusTrigger`),
    ``poke_interval``, ``timeout`` and ``bombora_conn_id``: see :class:`BomboraStatusSensor`.
    """

    template_fields: Sequence[str] = (
        "account_list_id",
        "audience_name",
        "submitted_after",
        "expected_account_total",
    )

    def __init__(
        self,
        *,
        account_list_id: str | None = None,
        audience_name: str | None = None,
        submitted_after: str | None = None,
        expected_account_total: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (account_list_id is None) == (audience_name is None):
            given = "both were given" if account_list_id is not None else "neither was given"
            raise BomboraValidationError(
                "account_list_id",
                f"give exactly one of account_list_id and audience_name to task {self.task_id!r}; {given}",
            )
        self.account_list_id = account_list_id
        self.audience_name = audience_name
        self.submitted_after = submitted_after
        self.expected_account_total = expected_account_total

    def _target(self) -> Watch:
        target = ExportTarget.from_parameters(
            account_list_id=self.account_list_id,
            audience_name=self.audience_name,
            submitted_after=self.submitted_after,
            expected_account_total=self.expected_account_total,
        )
        return target.identified_by(self._found) if self._found else target

    def _trigger(self, target: Watch, deadline: float) -> BomboraStatusTrigger:
        from airflow_provider_bombora.triggers.bombora import BomboraExportStatusTrigger

        return BomboraExportStatusTrigger(
            **target.to_parameters(),
            deadline=deadline,
            poll_interval=self.poke_interval,
            bombora_conn_id=self.bombora_conn_id,
        )


class BomboraDigitalAudienceSensor(BomboraStatusSensor):
    """
    Wait until a Bombora digital audience is active on its data exchange.

    Its ``status`` is compared case-insensitively (Bombora writes ``Active`` and ``ACTIVE``):
    ``Active`` ends the wait, ``Pending`` is waited for. Fails at once when the audience is
    suspended (resume it with ``activate=True`` on
    :class:`~airflow_provider_bombora.operators.bombora.BomboraDigitalAudienceOperator`) or does
    not exist, and when Bombora refuses the credentials.

    Returns (XCom) ``{"data_exchange", "external_id", "partner_id", "audience_name",
    "audience_status", "domain_count"}``.

    :param data_exchange: The audience's data exchange, e.g. ``trade_desk_direct``. (templated)
    :param external_id: The audience's external id. (templated)
    :param partner_id: The audience's partner id. (templated)

    ``deferrable`` (waits with
    :class:`~airflow_provider_bombora.triggers.bombora.BomboraDigitalAudienceTrigger`),
    ``poke_interval``, ``timeout`` and ``bombora_conn_id``: see :class:`BomboraStatusSensor`.
    """

    template_fields: Sequence[str] = ("data_exchange", "external_id", "partner_id")

    def __init__(self, *, data_exchange: str, external_id: str, partner_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_exchange = data_exchange
        self.external_id = external_id
        self.partner_id = partner_id

    def poke(self, context: Context) -> PokeReturnValue:
        with _no_retry_for_a_lost_audience():
            return super().poke(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        with _no_retry_for_a_lost_audience():
            return super().execute_complete(context, event)

    def _target(self) -> Watch:
        from airflow_provider_bombora.digital_audiences import DigitalAudienceTarget

        return DigitalAudienceTarget.from_parameters(
            data_exchange=self.data_exchange, external_id=self.external_id, partner_id=self.partner_id
        )

    def _trigger(self, target: Watch, deadline: float) -> BomboraStatusTrigger:
        from airflow_provider_bombora.triggers.bombora import BomboraDigitalAudienceTrigger

        return BomboraDigitalAudienceTrigger(
            **target.to_parameters(),
            deadline=deadline,
            poll_interval=self.poke_interval,
            bombora_conn_id=self.bombora_conn_id,
        )


@contextmanager
def _no_retry_for_a_lost_audience() -> Iterator[None]:
    """A suspended or missing audience fails the task without spending its retries: a retry
    would find it the same."""
    try:
        yield
    except BomboraDigitalAudienceError as error:
        raise AirflowFailException(str(error)) from error

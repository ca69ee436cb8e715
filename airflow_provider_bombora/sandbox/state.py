"""The sandbox's in-memory model of Bombora's Authentication and Account List APIs.

Plain Python, no web framework: methods take a request's parsed JSON and return JSON-able
values, raising :class:`ApiError` for the statuses the contract documents. The state is
only touched from the server's event loop, so it needs no lock.

Writes to a list's accounts are queued as update jobs and applied lazily, in order, by
whichever read of the list comes first after their due time (``time.monotonic()``), which
keeps the asynchronous behaviour deterministic without background threads.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from airflow_provider_bombora.sandbox.intent_companies import MAX_COMPANIES

LIST_TYPES = ("Manual", "Derived", "Surge", "VisitorInsights")


class ApiError(Exception):
    """An error answer: ``status`` with the body ``{"message": message}``, or, with ``errors``
    (field -> messages, as the Digital Audience Builder's 422), ``{"errors": ..., "message": ...}``."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        errors: dict[str, list[str]] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers
        self.errors = errors


def utc_timestamp() -> str:
    """Now, as the API writes datetimes: ISO 8601, UTC, no zone suffix, always microseconds."""
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")


def _bad_request(condition: bool, message: str) -> None:
    if not condition:
        raise ApiError(400, message)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _optional_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


@dataclass
class Settings:
    """What tests may change at run time through ``PUT /_sandbox/settings``."""

    processing_delay: float = 0.0  # seconds from an accounts write to its job being applied
    token_lifetime: int = 86400  # seconds
    log_bodies: bool = True  # keep request bodies in the request log
    latency: float = 0.0  # seconds every API request waits before it is handled (admin calls never)
    intent_seed: int = 20240101  # the intent data set: its companies and their scores
    intent_companies: int = 40000  # how many companies the intent data set has
    intent_date: str | None = None  # ISO date whose week the scores are of; None: today (UTC)
    page_token_lifetime: int = 900  # seconds an intent page token lasts from when it is issued
    max_page_bytes: int = 10_000_000  # the most an intent data page's body may take

    def update(self, changes: Any) -> dict:
        """Apply a partial update after validating all of it, so a bad one changes nothing."""
        _bad_request(isinstance(changes, dict), "Settings must be a JSON object")
        unknown = sorted(set(changes) - set(asdict(self)))
        _bad_request(not unknown, f"Unknown settings: {', '.join(unknown)}")
        if "processing_delay" in changes:
            delay = changes["processing_delay"]
            _bad_request(
                isinstance(delay, (int, float)) and not isinstance(delay, bool) and delay >= 0,
                "processing_delay must be a number of seconds >= 0",
            )
        if "token_lifetime" in changes:
            lifetime = changes["token_lifetime"]
            _bad_request(
                isinstance(lifetime, int) and not isinstance(lifetime, bool) and lifetime >= 1,
                "token_lifetime must be a whole number of seconds >= 1",
            )
        if "log_bodies" in changes:
            _bad_request(isinstance(changes["log_bodies"], bool), "log_bodies must be true or false")
        if "latency" in changes:
            latency = changes["latency"]
            _bad_request(
                isinstance(latency, (int, float)) and not isinstance(latency, bool) and 0 <= latency <= 60,
                "latency must be a number of seconds from 0 to 60",
            )
        for name, low, high in (
            ("intent_seed", 0, 2**63 - 1),
            ("intent_companies", 1, MAX_COMPANIES),
            ("page_token_lifetime", 1, 86400 * 365),
            ("max_page_bytes", 16384, 10_000_000),  # 16 KiB: room for the largest row
        ):
            if name in changes:
                value = changes[name]
                _bad_request(
                    isinstance(value, int) and not isinstance(value, bool) and low <= value <= high,
                    f"{name} must be a whole number from {low} to {high}",
                )
        if changes.get("intent_date") is not None:
            _bad_request(
                self._is_iso_date(changes["intent_date"]), "intent_date must be an ISO date (YYYY-MM-DD) or null"
            )
        for name, value in changes.items():
            setattr(self, name, float(value) if name in ("processing_delay", "latency") else value)
        return asdict(self)

    @staticmethod
    def _is_iso_date(value: Any) -> bool:
        try:
            return isinstance(value, str) and len(value) == 10 and date.fromisoformat(value) is not None
        except ValueError:
            return False


@dataclass
class UpdateJob:
    """A queued write to a list's accounts."""

    due: float  # time.monotonic() from which the job may be applied
    kind: str  # "add", "delete" or "empty"
    # "add": (identifier, domain) pairs; "delete": identifiers; "empty": unused
    items: list = field(default_factory=list)

    def apply(self, accounts: dict[str, str]) -> None:
        if self.kind == "add":
            accounts.update(self.items)
        elif self.kind == "delete":
            for identifier in self.items:
                accounts.pop(identifier, None)
        else:
            accounts.clear()


@dataclass
class AccountList:
    id: str
    type: str
    name: str
    description: str | None
    parent_id: str | None
    specification: dict
    created_date: str
    modified_date: str
    # The applied state: account identifier -> domain. When the identifier is the domain
    # both are the same str object, so an account costs one dict entry and one string.
    accounts: dict[str, str] = field(default_factory=dict)
    # Whether some identifier may differ from its domain; while not, the distinct domains
    # are simply the identifiers, which spares a pass over a million values.
    has_custom_ids: bool = False
    accounts_last_modified: str | None = None
    jobs: deque[UpdateJob] = field(default_factory=deque)

    def settle(self) -> None:
        """Apply, in order, the queued jobs that are due."""
        now = time.monotonic()
        while self.jobs and self.jobs[0].due <= now:
            job = self.jobs.popleft()
            job.apply(self.accounts)
            self.accounts_last_modified = utc_timestamp()
            if not self.accounts:
                self.has_custom_ids = False
            elif job.kind == "add" and not self.has_custom_ids:
                self.has_custom_ids = any(identifier != domain for identifier, domain in job.items)

    @property
    def pending_update(self) -> bool:
        return bool(self.jobs)

    def domains(self) -> list[str]:
        """The distinct domains of the applied state, in insertion order."""
        if not self.has_custom_ids:
            return list(self.accounts)
        return list(dict.fromkeys(self.accounts.values()))

    def summary(self) -> dict:
        return {
            "id": self.id,
            "parentId": self.parent_id,
            "type": self.type,
            "name": self.name,
            "description": self.description,
            "accountsLastModified": self.accounts_last_modified,
            "accountTotal": len(self.accounts),
            "pendingUpdate": self.pending_update,
            "createdDate": self.created_date,
            "modifiedDate": self.modified_date,
        }

    def definition(self) -> dict:
        return {
            "id": self.id,
            "type": self.type,
            "parentId": self.parent_id,
            "metadata": {
                "name": self.name,
                "description": self.description,
                "accountTotal": len(self.accounts),
                "pendingUpdate": self.pending_update,
            },
            "specification": self.specification,
            "accountsLastModified": self.accounts_last_modified,
        }


def _parse_accounts(body: Any) -> list[tuple[str, str]]:
    """Validate an add-accounts body into (identifier, domain) pairs, all or nothing."""
    _bad_request(isinstance(body, list) and len(body) > 0, "Body must be a non-empty JSON array of accounts")
    pairs = []
    seen: set[str] = set()
    for position, account in enumerate(body):
        _bad_request(isinstance(account, dict), f"Account {position} is not a JSON object")
        domain = account.get("domain")
        _bad_request(_is_text(domain), f"Account {position} has no domain")
        identifier = account.get("id")
        if identifier is None:
            identifier = domain
        _bad_request(_is_text(identifier), f"Account {position} has an invalid id")
        _bad_request(identifier not in seen, f"Duplicate account identifier in request: {identifier}")
        seen.add(identifier)
        attributes = account.get("attributes")
        if attributes is not None:
            _bad_request(
                isinstance(attributes, dict)
                and all(isinstance(value, str) and '"' not in value for value in attributes.values()),
                f'Account {position}: attribute values must be strings without the character "',
            )
        pairs.append((identifier, domain))
    return pairs


class SandboxState:
    """Credentials, tokens and account lists of one sandbox, plus its run-time settings."""

    def __init__(self, client_id: str, client_secret: str, settings: Settings):
        self.client_id = client_id
        self.client_secret = client_secret
        self.settings = settings
        self.tokens: dict[str, float] = {}  # access token -> monotonic expiry
        self.lists: dict[str, AccountList] = {}

    def reset(self) -> None:
        """Forget tokens and lists; credentials and settings stay."""
        self.tokens.clear()
        self.lists.clear()

    # Authentication

    def issue_token(self, body: Any) -> dict:
        _bad_request(
            isinstance(body, dict)
            and isinstance(body.get("client_id"), str)
            and isinstance(body.get("client_secret"), str),
            "Body must be a JSON object with client_id and client_secret",
        )
        if not (
            secrets.compare_digest(body["client_id"], self.client_id)
            and secrets.compare_digest(body["client_secret"], self.client_secret)
        ):
            raise ApiError(401, "Invalid client credentials")
        token = secrets.token_urlsafe(32)
        lifetime = self.settings.token_lifetime
        self.tokens[token] = time.monotonic() + lifetime
        return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}

    def check_token(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        challenge = {"WWW-Authenticate": "Bearer"}
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "Missing bearer token", challenge)
        expiry = self.tokens.get(token)
        if expiry is None:
            raise ApiError(401, "Invalid access token", challenge)
        if expiry <= time.monotonic():
            raise ApiError(401, "Access token expired", challenge)

    def expire_tokens(self) -> None:
        for token in self.tokens:
            self.tokens[token] = float("-inf")

    # Account lists

    def _list(self, list_id: str) -> AccountList:
        account_list = self.lists.get(list_id)
        if account_list is None:
            raise ApiError(404, f"Account list {list_id} not found")
        account_list.settle()
        return account_list

    def _manual_list(self, list_id: str) -> AccountList:
        account_list = self._list(list_id)
        if account_list.type != "Manual":
            raise ApiError(422, f"Accounts of a {account_list.type} list cannot be changed")
        return account_list

    def _check_name_free(self, name: str, list_id: str | None = None) -> None:
        if any(other.name == name and other.id != list_id for other in self.lists.values()):
            raise ApiError(422, f"An account list named {name!r} already exists")

    def _queue(self, account_list: AccountList, kind: str, items: list) -> None:
        due = time.monotonic() + self.settings.processing_delay
        account_list.jobs.append(UpdateJob(due, kind, items))
        account_list.settle()  # with no processing delay the job is applied at once

    def _refuse_if_pending(self, account_list: AccountList) -> None:
        if account_list.pending_update:
            raise ApiError(409, "An update of this account list is pending; retry when it is done")

    def _all_lists(self) -> list[AccountList]:
        for account_list in self.lists.values():
            account_list.settle()
        return list(self.lists.values())

    def summaries(self) -> list[dict]:
        return [account_list.summary() for account_list in self._all_lists()]

    def _add_list(
        self, list_type: str, name: str, description: str | None, parent_id: str | None, specification: dict
    ) -> AccountList:
        now = utc_timestamp()
        account_list = AccountList(
            id=str(uuid.uuid4()),
            type=list_type,
            name=name,
            description=description,
            parent_id=parent_id,
            specification=specification,
            created_date=now,
            modified_date=now,
        )
        self.lists[account_list.id] = account_list
        return account_list

    def create_list(self, body: Any) -> dict:
        _bad_request(isinstance(body, dict), "Body must be a JSON object")
        list_type = body.get("type")
        _bad_request(list_type in LIST_TYPES, f"type must be one of {', '.join(LIST_TYPES)}")
        metadata = body.get("metadata")
        _bad_request(isinstance(metadata, dict) and _is_text(metadata.get("name")), "metadata.name is required")
        _bad_request(_optional_text(metadata.get("description")), "metadata.description must be a string")
        specification = body.get("specification", {})
        _bad_request(isinstance(specification, dict), "specification must be a JSON object")
        if list_type != "Manual":
            raise ApiError(422, f"The sandbox creates only Manual lists; seed a {list_type} list instead")
        self._check_name_free(metadata["name"])
        account_list = self._add_list(list_type, metadata["name"], metadata.get("description"), None, specification)
        return {"id": account_list.id}

    def get_list(self, list_id: str) -> dict:
        return self._list(list_id).definition()

    def update_list(self, list_id: str, body: Any) -> dict:
        account_list = self._list(list_id)
        _bad_request(isinstance(body, dict), "Body must be a JSON object")
        _bad_request(body.get("id", list_id) == list_id, "id does not match the list in the path")
        metadata = body.get("metadata")
        _bad_request(isinstance(metadata, dict) and _is_text(metadata.get("name")), "metadata.name is required")
        _bad_request(_optional_text(metadata.get("description")), "metadata.description must be a string")
        specification = body.get("specification", account_list.specification)
        _bad_request(isinstance(specification, dict), "specification must be a JSON object")
        if body.get("type", account_list.type) != account_list.type:
            raise ApiError(422, "type cannot be modified")
        if body.get("parentId", account_list.parent_id) != account_list.parent_id:
            raise ApiError(422, "parentId cannot be modified")
        self._check_name_free(metadata["name"], list_id)
        account_list.name = metadata["name"]
        account_list.description = metadata.get("description")
        account_list.specification = specification
        account_list.modified_date = utc_timestamp()
        return account_list.definition()

    def delete_list(self, list_id: str) -> None:
        self._list(list_id)
        if any(other.parent_id == list_id for other in self.lists.values()):
            raise ApiError(409, "The account list is the parent of a Derived list")
        del self.lists[list_id]

    def add_accounts(self, list_id: str, body: Any) -> None:
        account_list = self._manual_list(list_id)
        self._queue(account_list, "add", _parse_accounts(body))

    def delete_accounts(self, list_id: str, body: Any) -> None:
        account_list = self._manual_list(list_id)
        ids = body.get("ids") if isinstance(body, dict) else None
        if not (isinstance(ids, list) and len(ids) > 0 and all(_is_text(identifier) for identifier in ids)):
            raise ApiError(400, 'Body must be {"ids": [...]} with at least one account identifier')
        self._refuse_if_pending(account_list)
        self._queue(account_list, "delete", ids)

    def empty_list(self, list_id: str) -> None:
        account_list = self._manual_list(list_id)
        self._refuse_if_pending(account_list)
        self._queue(account_list, "empty", [])

    def domains(self, list_id: str) -> list[str]:
        return self._list(list_id).domains()

    # Test-only administration

    def seed_list(self, body: Any) -> dict:
        """Create a list of any type with an applied state, as if made outside the provider."""
        _bad_request(isinstance(body, dict), "Body must be a JSON object")
        list_type = body.get("type", "Manual")
        _bad_request(list_type in LIST_TYPES, f"type must be one of {', '.join(LIST_TYPES)}")
        name = body.get("name")
        _bad_request(_is_text(name), "name is required")
        _bad_request(_optional_text(body.get("description")), "description must be a string")
        domains = body.get("domains", [])
        _bad_request(
            isinstance(domains, list) and all(_is_text(domain) for domain in domains),
            "domains must be an array of domain names",
        )
        parent_id = body.get("parent_id")
        _bad_request(parent_id is None or parent_id in self.lists, "parent_id is not a known list")
        pending_update = body.get("pending_update", False)
        _bad_request(isinstance(pending_update, bool), "pending_update must be true or false")
        self._check_name_free(name)
        account_list = self._add_list(list_type, name, body.get("description"), parent_id, {})
        if domains:
            account_list.accounts = {domain: domain for domain in domains}
            account_list.accounts_last_modified = utc_timestamp()
        if pending_update:
            # An update job queued by someone else; it changes no account when applied.
            account_list.jobs.append(UpdateJob(time.monotonic() + self.settings.processing_delay, "add"))
        return account_list.summary()

    def dump(self) -> list[dict]:
        return [{**account_list.summary(), "domains": account_list.domains()} for account_list in self._all_lists()]

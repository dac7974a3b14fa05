"""Bulk intake: the path shared by the Kafka consumer of registration.intake.v1 and `registration import`.

A record (subsidy_contracts.intake.IntakeRecord) carries a person and/or an enterprise, the applicant's payee
account and one application. It is checked in two steps:

1. `prepare` (no database): the record is read into the HTTP API's own request models (PersonIn, EnterpriseIn,
   PayeeAccountIn, ApplicationIn: unknown fields refused, whitespace stripped) and checked with the same rule
   functions (registration.validation), the fields named inside the record ("person.id_number").
2. `store` (one transaction per batch): idempotency on (integration, source_reference), persons and
   enterprises matched on their ID number / credit code, duplicate applications (same applicant, programme,
   beneficiary and period) refused pointing to the existing one; then everything is written with COPY into
   staging tables and INSERT … SELECT … ON CONFLICT, with an audit row per record and per batch, an
   application-submitted event per accepted application and (for Kafka) an intake result per record, all in
   the outbox of the same transaction.

A record is all or nothing: a refused record stores nothing. Like the HTTP path, a batch locks the stored persons
and enterprises it names (FOR UPDATE, in id order), so another writer for the same applicant (an HTTP submission,
another bulk writer) waits (the duplicate check, the facts its events carry and the order of its events stay
consistent). A row another writer creates meanwhile is found taken by the INSERT (or the unique indexes raise:
source reference, one live application per applicant, programme and period), and the batch is run again. Bulk
writers therefore need no lock among themselves (there was one advisory lock for all of them; it only serialised
importers whose records are disjoint: `registration import --workers N` splits a file by applicant).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
import random
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal, TypeVar

import asyncpg
import orjson
from asyncpg.pgproto.pgproto import UUID as _UUID
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from subsidy_contracts.common import AccountKind, ApplicantKind, Proxy
from subsidy_contracts.facts import Fact
from subsidy_contracts.intake import IntakeError, IntakeResult, IntakeResultPayload, IntakeStatus
from subsidy_contracts.registration import ApplicationSubmitted, PayeeAccountRegistered
from subsidy_contracts.topics import APPLICATIONS, INTAKE_RESULTS, PAYEE_ACCOUNTS
from subsidy_runtime.auth import Integration
from subsidy_runtime.db import Connection
from subsidy_runtime.outbox import OutboxRecord, event_headers, json_event_record, notify_channel
from subsidy_runtime.problems import field_errors_from_pydantic

from . import validation
from .api.schemas import ApplicationIn, EnterpriseIn, PayeeAccountIn, PersonIn
from .domain import identity
from .domain.errors import InvalidField
from .usecases import PRODUCER

PLACEHOLDERS = ("person", "enterprise")
FACT_REFERENCES = ("subject_id", "host_enterprise_id", "employer_id")
MAX_ATTEMPTS = 5


# ------------------------------------------------------------------------------------------- results
@dataclass
class RecordResult:
    source_reference: str
    status: IntakeStatus
    application_id: uuid.UUID | None = None
    errors: list[IntakeError] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "source_reference": self.source_reference,
            "status": self.status.value,
            "application_id": str(self.application_id) if self.application_id else None,
            "errors": [e.model_dump() for e in self.errors],
        }


def _refused(source_reference: str, field_name: str, reason_en: str, reason_zh: str) -> RecordResult:
    return RecordResult(
        source_reference,
        IntakeStatus.REJECTED,
        errors=[IntakeError(field=field_name, reason=reason_en, reason_zh=reason_zh)],
    )


def _refused_by(source_reference: str, exc: InvalidField) -> RecordResult:
    return _refused(source_reference, exc.field, exc.reason_en, exc.reason_zh)


def _refused_by_pydantic(source_reference: str, exc: ValidationError, prefix: str = "") -> RecordResult:
    errors = [
        IntakeError(
            field=f"{prefix}{e.field}" if e.field != "(body)" else prefix.rstrip(".") or "(record)",
            reason=e.reason,
            reason_zh=e.reason_zh,
        )
        for e in field_errors_from_pydantic(exc.errors(), drop_prefix=())
    ]
    return RecordResult(source_reference, IntakeStatus.REJECTED, errors=errors)


# ------------------------------------------------------------------------------------------- prepare
@dataclass
class Prepared:
    """A record that passed every rule that needs no database; ids are provisional until `store`."""

    source_reference: str
    digest: str
    person: PersonIn | None
    resident: identity.ResidentId | None
    enterprise: EnterpriseIn | None
    credit_code: str | None
    account: PayeeAccountIn
    account_number: str
    application: ApplicationIn
    jurisdiction: str
    proxy: Proxy | None
    person_id: uuid.UUID
    enterprise_id: uuid.UUID


@dataclass
class Incoming:
    """One raw record of a batch: its reference and content hash, and what `prepare` made of it."""

    source_reference: str | None
    digest: str
    outcome: Prepared | RecordResult


def record_digest(raw: Any) -> str:
    return hashlib.sha256(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _reference(raw: Any) -> str | None:
    ref = raw.get("source_reference") if isinstance(raw, dict) else None
    return ref if isinstance(ref, str) and 0 < len(ref) <= 100 and "\x00" not in ref else None


def may_hold_nul(source: bytes) -> bool:
    """JSON can only carry a NUL character escaped: a cheap test on the bytes before looking at every value."""
    return b"\\u0000" in source


def prepare(raw: Any, caller: Integration, index: int = 0, *, check_nul: bool = True) -> Incoming:
    """Validate one record without the database. `check_nul=False` when its source bytes hold no NUL escape."""
    ref = _reference(raw)
    digest = record_digest(raw) if isinstance(raw, dict) else ""
    shown = ref or f"(record {index})"
    try:
        outcome: Prepared | RecordResult = _prepare(raw, caller, shown, digest, check_nul)
    except InvalidField as exc:
        outcome = _refused_by(shown, exc)
    return Incoming(ref, digest, outcome)


def _prepare(raw: Any, caller: Integration, ref: str, digest: str, check_nul: bool) -> Prepared | RecordResult:
    if not isinstance(raw, dict):
        return _refused(ref, "(record)", "a record must be a JSON object", "每条记录应为 JSON 对象")
    if check_nul and _has_nul(raw):
        return _refused(ref, "(record)", "NUL characters are not allowed", "不允许出现空字符(NUL)")
    if not _plainly_shaped(raw):
        try:
            _RecordShape.model_validate(raw)  # names what is wrong (a record that passes is plainly shaped too)
        except ValidationError as exc:
            return _refused_by_pydantic(ref, exc)
    source_reference: str = raw["source_reference"]
    applicant_kind: str = raw["application"]["applicant"]
    beneficiary_kind: str | None = raw["application"].get("beneficiary")
    (person_id,) = new_ids(1)
    # The HTTP request models: the same field rules, unknown fields refused, whitespace stripped.
    person = enterprise = None
    try:
        if raw.get("person") is not None:
            person = PersonIn.model_validate(raw["person"])
    except ValidationError as exc:
        return _refused_by_pydantic(ref, exc, "person.")
    try:
        if raw.get("enterprise") is not None:
            enterprise = _section(EnterpriseIn, raw["enterprise"])
    except ValidationError as exc:
        return _refused_by_pydantic(ref, exc, "enterprise.")
    # An enterprise keeps one provisional id per credit code in this process: a host unit's interns come in many
    # records, and their facts then name the id the first one stored (no remapping, see _accept).
    enterprise_id = _unit_ids.get(enterprise.credit_code) if enterprise is not None else None
    if enterprise_id is None:
        (enterprise_id,) = new_ids(1)
        if enterprise is not None:
            if len(_unit_ids) >= SECTION_CACHE_SIZE:
                _unit_ids.clear()
            _unit_ids[enterprise.credit_code] = enterprise_id
    kind = ApplicantKind(applicant_kind)
    if kind is ApplicantKind.PERSON and person is None:
        raise InvalidField(
            "person", "申请人为个人时必须提供个人信息", "the applicant is the person: the record needs one"
        )
    if kind is ApplicantKind.ENTERPRISE and enterprise is None:
        raise InvalidField(
            "enterprise", "申请人为单位时必须提供单位信息", "the applicant is the enterprise: the record needs one"
        )
    if beneficiary_kind == "person" and (person is None or kind is ApplicantKind.PERSON):
        raise InvalidField(
            "application.beneficiary",
            "受益人为个人时，申请人应为单位且记录中应有个人信息",
            "a person beneficiary needs an enterprise applicant and the record's person",
        )
    applicant_id = person_id if kind is ApplicantKind.PERSON else enterprise_id
    try:
        account = _section(PayeeAccountIn, raw["account"], owner_id=applicant_id)
    except ValidationError as exc:
        return _refused_by_pydantic(ref, exc, "account.")
    expected_kind = AccountKind.SOCIAL_SECURITY_CARD if kind is ApplicantKind.PERSON else AccountKind.ENTERPRISE_BASIC
    if account.kind is not expected_kind:
        raise InvalidField(
            "account.kind",
            "个人申请应使用社保卡账户，单位申请应使用对公基本账户",
            f"the applicant's account must be of kind {expected_kind.value}",
        )
    ids = {"person": person_id if person else None, "enterprise": enterprise_id if enterprise else None}
    body = {k: v for k, v in raw["application"].items() if k not in ("applicant", "beneficiary")}
    body["facts"] = [_resolve_fact(f, ids, i) for i, f in enumerate(body.get("facts") or [])]
    body.update(
        applicant={"kind": kind.value, "id": applicant_id},
        beneficiary_person_id=person_id if beneficiary_kind == "person" else None,
        payee_account_id=applicant_id,  # placeholder: the account id is known in `store`
        source_reference=source_reference,
    )
    try:
        application = ApplicationIn.model_validate(body)
    except ValidationError as exc:
        return _refused_by_pydantic(ref, exc, "application.")
    resident = validation.check_person(person, "person.") if person else None
    credit_code = validation.check_enterprise(enterprise, "enterprise.") if enterprise else None
    number = validation.check_account_number(account.kind, account.account_number, account.bank_code, "account.")
    owner = person if kind is ApplicantKind.PERSON else enterprise
    assert owner is not None
    validation.check_holder_name(owner.name, account.holder_name, "account.holder_name")
    validation.check_period(application.period, "application.period.end")
    allowed = {applicant_id} | ({person_id} if application.beneficiary_person_id else set())
    validation.check_fact_subjects(application.facts, allowed, "application.")
    validation.check_contacts(application.contacts, "application.")
    proxy = None
    if application.proxy is not None:
        proxy_resident = validation.check_proxy(application.proxy, "application.")
        proxy = Proxy(
            name=application.proxy.name,
            id_number_masked=proxy_resident.masked,
            relationship=application.proxy.relationship,
            authorisation_reference=application.proxy.authorisation_reference,
        )
    jurisdiction = application.jurisdiction or owner.region_code
    identity.check_region_code(jurisdiction, "application.jurisdiction")
    if not caller.covers(jurisdiction):
        raise InvalidField(
            "application.jurisdiction" if application.jurisdiction else f"{kind.value}.region_code",
            f"申请的受理地区 {jurisdiction} 不在接入方的管辖范围（{caller.jurisdiction}）内",
            f"the application's region {jurisdiction} is outside the integration's jurisdiction "
            f"({caller.jurisdiction or 'none'})",
        )
    return Prepared(
        source_reference=source_reference,
        digest=digest,
        person=person,
        resident=resident,
        enterprise=enterprise,
        credit_code=credit_code,
        account=account,
        account_number=number,
        application=application,
        jurisdiction=jurisdiction,
        proxy=proxy,
        person_id=person_id,
        enterprise_id=enterprise_id,
    )


class _ApplicationShape(BaseModel):
    model_config = ConfigDict(extra="allow")  # the rest is ApplicationIn's to check
    applicant: Literal["person", "enterprise"]
    beneficiary: Literal["person"] | None = None


class _RecordShape(BaseModel):
    """The parts of IntakeRecord the HTTP request models do not cover. Each section is then read by its HTTP
    model, which holds the same constraints as the contract and more (unknown fields refused), so the record is
    not parsed a second time as a whole (profiling showed that pass to be a fifth of the validation time)."""

    model_config = ConfigDict(extra="forbid")
    source_reference: str = Field(min_length=1, max_length=100)
    person: dict[str, Any] | None = None
    enterprise: dict[str, Any] | None = None
    account: dict[str, Any]
    application: _ApplicationShape


_RECORD_KEYS = frozenset(_RecordShape.model_fields)
_SECTIONS = ("person", "enterprise")


def _plainly_shaped(raw: dict[str, Any]) -> bool:
    """What _RecordShape checks, for the usual record, without building it: known keys only, a source reference
    of 1 to 100 characters, objects where objects belong, a known applicant and beneficiary kind."""
    ref = raw.get("source_reference")
    app = raw.get("application")
    return (
        raw.keys() <= _RECORD_KEYS
        and type(ref) is str
        and 0 < len(ref) <= 100
        and all(raw.get(k) is None or type(raw[k]) is dict for k in _SECTIONS)
        and type(raw.get("account")) is dict
        and type(app) is dict
        and app.get("applicant") in ("person", "enterprise")
        and app.get("beneficiary") in (None, "person")
    )


_M = TypeVar("_M", bound=BaseModel)
SECTION_CACHE_SIZE = 20_000
_sections: dict[Any, BaseModel] = {}
_unit_ids: dict[str, uuid.UUID] = {}  # credit code -> provisional enterprise id


def _section(model: type[_M], raw: dict[str, Any], **extra: Any) -> _M:
    """`model` validated from a record section; remembered when the section is flat (enterprises and their
    accounts repeat in every record of a host unit's interns). The models are not changed after validation."""
    try:
        key = (model, tuple(raw.items()), tuple(extra.items()))
        hash(key)
    except TypeError:  # a nested value: not remembered (the model refuses it anyway)
        return model.model_validate({**raw, **extra})
    found = _sections.get(key)
    if found is None:
        found = model.model_validate({**raw, **extra})
        if len(_sections) >= SECTION_CACHE_SIZE:
            _sections.clear()
        _sections[key] = found
    assert isinstance(found, model)
    return found


def _resolve_fact(fact: Any, ids: dict[str, uuid.UUID | None], i: int) -> Any:
    """Facts name their subject (and host or employer) "person" or "enterprise": the record's own."""
    if not isinstance(fact, dict):
        return fact
    out = dict(fact)
    for key in FACT_REFERENCES:
        value = out.get(key)
        if value in PLACEHOLDERS:
            resolved = ids[value]
            if resolved is None:
                raise InvalidField(
                    f"application.facts.{i}.{key}",
                    f"记录中没有{'个人' if value == 'person' else '单位'}信息",
                    f"the record has no {value}",
                )
            out[key] = resolved
    return out


def _has_nul(value: Any) -> bool:
    """PostgreSQL text cannot hold NUL: refuse it here, naming the record, instead of failing the batch."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


# --------------------------------------------------------------------------------------------- store
class ConcurrentWrite(Exception):
    """Another writer registered a row this batch looked up as missing: run the batch again."""


@dataclass
class Batch:
    integration: Integration
    batch_id: str
    request_id: str
    records: list[Incoming]
    publish_results: bool = True


async def store(conn: Connection, schema: str, batch: Batch) -> list[RecordResult]:
    """Apply a batch in one transaction (a savepoint when the caller holds one: the Kafka consumer adds its
    inbox row); run again when a concurrent writer took a row the batch meant to create."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            async with conn.transaction():
                return await _store(conn, schema, batch)
        except (ConcurrentWrite, asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError):
            if attempt == MAX_ATTEMPTS:
                raise
            await asyncio.sleep(0.05 * attempt * random.random())  # let the other writer commit first
    raise AssertionError("unreachable")


@dataclass
class _Known:
    """What the batch knows so far of persons, enterprises, accounts and live applications."""

    persons: dict[str, dict[str, Any]] = field(default_factory=dict)  # id_number -> row
    enterprises: dict[str, dict[str, Any]] = field(default_factory=dict)  # credit_code -> row
    accounts: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    live: dict[str, uuid.UUID] = field(default_factory=dict)  # dedup key -> application id
    # subject -> facts: stored (JSON text, orjson.Fragment), then new (dicts in the contract's JSON form)
    facts: dict[uuid.UUID, list[Any]] = field(default_factory=dict)
    linked: set[uuid.UUID] = field(default_factory=set)  # persons and enterprises linked to the integration


async def _store(conn: Connection, schema: str, batch: Batch) -> list[RecordResult]:
    caller = batch.integration
    now = datetime.now(UTC)
    refs = list({r.source_reference for r in batch.records if r.source_reference is not None})
    previous = {
        r["source_reference"]: r
        for r in await conn.fetch(
            """SELECT source_reference, request_hash, status, application_id, errors FROM intake_results
               WHERE integration_id = $1 AND source_reference = ANY($2::text[])""",
            caller.id,
            refs,
        )
    }
    submitted = {
        r["source_reference"]: r
        for r in await conn.fetch(
            """SELECT source_reference, id, request_hash FROM applications
               WHERE integration_id = $1 AND source_reference = ANY($2::text[])""",
            caller.id,
            refs,
        )
    }
    candidates = [
        r.outcome
        for r in batch.records
        if isinstance(r.outcome, Prepared)
        and r.source_reference not in previous
        and r.source_reference not in submitted
    ]
    known = await _look_up(conn, candidates)
    await _look_up_links(conn, caller.id, known)

    results: list[RecordResult] = []
    seen: dict[str, tuple[str, RecordResult]] = {}
    writes = _Writes()
    with gc_paused():  # no await inside: matching and staging the records is pure computation
        for incoming in batch.records:
            ref = incoming.source_reference
            result = _answer_known(incoming, previous.get(ref or ""), submitted.get(ref or ""), seen)
            if result is None:
                if isinstance(incoming.outcome, Prepared):
                    result = _accept(incoming.outcome, known, writes, caller, now)
                else:
                    result = incoming.outcome
            if ref is not None and ref not in seen:
                seen[ref] = (incoming.digest, result)
                if ref not in previous or previous[ref]["request_hash"] != incoming.digest:
                    writes.result_rows.append(
                        (
                            caller.id,
                            ref,
                            incoming.digest,
                            result.status.value,
                            result.application_id,
                            _errors_json(result.errors),
                            batch.batch_id,
                            now,
                        )
                    )
            results.append(result)
    await writes.flush(conn, schema, batch, results, now)
    return results


def _answer_known(
    incoming: Incoming, previous: Any, submitted: Any, seen: dict[str, tuple[str, RecordResult]]
) -> RecordResult | None:
    """The original answer for a record this integration already sent (in an earlier batch or this one)."""
    ref = incoming.source_reference
    if ref is None:
        return None
    if ref in seen:
        digest, first = seen[ref]
        if digest == incoming.digest:
            status = IntakeStatus.ALREADY_ACCEPTED if first.status is IntakeStatus.ACCEPTED else first.status
            return RecordResult(ref, status, first.application_id, list(first.errors))
        return _refused(
            ref,
            "source_reference",
            "the source reference is repeated in the batch with other content",
            "同一批次中来源单号重复且内容不同",
        )
    if submitted is not None:
        if submitted["request_hash"] == incoming.digest:
            return RecordResult(ref, IntakeStatus.ALREADY_ACCEPTED, submitted["id"])
        return _refused(
            ref,
            "source_reference",
            f"the source reference was used for a different request (application {submitted['id']})",
            "来源单号已用于另一笔不同的申请",
        )
    if previous is not None and previous["request_hash"] == incoming.digest:
        errors = [IntakeError.model_validate(e) for e in previous["errors"]]
        return RecordResult(ref, IntakeStatus(previous["status"]), previous["application_id"], errors)
    return None  # new, or refused before and sent again corrected


async def _look_up(conn: Connection, candidates: Sequence[Prepared]) -> _Known:
    known = _Known()
    id_numbers = list({p.resident.number for p in candidates if p.resident})
    codes = list({p.credit_code for p in candidates if p.credit_code})
    # Locked until the batch commits, in one order for every writer (persons, then enterprises, by id).
    for r in await conn.fetch(
        "SELECT * FROM persons WHERE id_number = ANY($1::text[]) ORDER BY id FOR UPDATE", id_numbers
    ):
        known.persons[r["id_number"]] = {**dict(r), "stored": True}
    for r in await conn.fetch(
        "SELECT * FROM enterprises WHERE credit_code = ANY($1::text[]) ORDER BY id FOR UPDATE", codes
    ):
        known.enterprises[r["credit_code"]] = {**dict(r), "stored": True}
    # Accounts, live applications and facts of the stored applicants (new ones have none yet).
    owners, keys = [], []
    for p in candidates:
        applicant = _stored_applicant(p, known)
        beneficiary = (
            known.persons.get(p.resident.number) if p.application.beneficiary_person_id and p.resident else None
        )
        if applicant is not None:
            owners.append(applicant["id"])
            keys.append(
                validation.dedup_key(
                    p.application.programme_id,
                    applicant["id"],
                    (beneficiary["id"] if beneficiary else p.person_id)
                    if p.application.beneficiary_person_id
                    else None,
                    p.application.period,
                )
            )
    if owners:
        for r in await conn.fetch("SELECT * FROM payee_accounts WHERE owner_id = ANY($1::uuid[])", owners):
            known.accounts[(str(r["owner_id"]), r["kind"], r["account_number"])] = {**dict(r), "stored": True}
        for r in await conn.fetch(
            "SELECT dedup_key, id FROM applications WHERE dedup_key = ANY($1::text[]) AND status <> 'withdrawn'", keys
        ):
            known.live[r["dedup_key"]] = r["id"]
    subjects = [r["id"] for r in (*known.persons.values(), *known.enterprises.values())]
    if subjects:
        for r in await conn.fetch(
            "SELECT subject_id, payload::text AS payload FROM facts WHERE subject_id = ANY($1::uuid[])"
            " ORDER BY recorded_at, id",
            subjects,
        ):
            # Stored facts only travel on in events: kept as the JSON text PostgreSQL gives (not parsed here and
            # serialised again), spliced into the event as they are.
            known.facts.setdefault(r["subject_id"], []).append(orjson.Fragment(r["payload"]))
    return known


async def _look_up_links(conn: Connection, integration_id: str, known: _Known) -> None:
    """Which stored persons and enterprises the integration is already linked to: no link row is staged for them
    (a host unit's interns would stage one per record, each then refused by ON CONFLICT)."""
    persons = [r["id"] for r in known.persons.values()]
    enterprises = [r["id"] for r in known.enterprises.values()]
    if not persons and not enterprises:
        return
    for r in await conn.fetch(
        """SELECT person_id AS id FROM person_links WHERE integration_id = $1 AND person_id = ANY($2::uuid[])
           UNION ALL
           SELECT enterprise_id FROM enterprise_links WHERE integration_id = $1 AND enterprise_id = ANY($3::uuid[])""",
        integration_id,
        persons,
        enterprises,
    ):
        known.linked.add(r["id"])


def _stored_applicant(p: Prepared, known: _Known) -> dict[str, Any] | None:
    if p.application.applicant.kind is ApplicantKind.PERSON:
        return known.persons.get(p.resident.number) if p.resident else None
    return known.enterprises.get(p.credit_code) if p.credit_code else None


@dataclass
class _Writes:
    persons: list[tuple[Any, ...]] = field(default_factory=list)
    person_links: list[tuple[Any, ...]] = field(default_factory=list)
    enterprises: list[tuple[Any, ...]] = field(default_factory=list)
    enterprise_links: list[tuple[Any, ...]] = field(default_factory=list)
    accounts: list[tuple[Any, ...]] = field(default_factory=list)
    facts: list[tuple[Any, ...]] = field(default_factory=list)
    applications: list[tuple[Any, ...]] = field(default_factory=list)
    timeline: list[tuple[Any, ...]] = field(default_factory=list)
    audit: list[tuple[Any, ...]] = field(default_factory=list)
    result_rows: list[tuple[Any, ...]] = field(default_factory=list)
    outbox: list[OutboxRecord] = field(default_factory=list)
    # payee-account-registered, one per new account: written only once the accounts are known to be new
    account_outbox: list[OutboxRecord] = field(default_factory=list)

    async def flush(
        self, conn: Connection, schema: str, batch: Batch, results: list[RecordResult], now: datetime
    ) -> None:
        caller = batch.integration
        for result in results:
            self.audit.append(
                (
                    caller.id,
                    batch.request_id,
                    "application.submit" if result.status is IntakeStatus.ACCEPTED else "intake.record",
                    "application",
                    str(result.application_id) if result.application_id else None,
                    _json(
                        {
                            "batch_id": batch.batch_id,
                            "source_reference": result.source_reference,
                            "status": result.status.value,
                            "errors": [e.field for e in result.errors],
                        }
                    ),
                )
            )
        counts = _counts(results)
        self.audit.append((caller.id, batch.request_id, "intake.batch", "intake_batch", batch.batch_id, _json(counts)))
        if batch.publish_results:
            for result in results:
                self.outbox.append(_result_record(caller, batch.batch_id, result, now))
        taken = await _copy_upsert(conn, "persons", PERSON_COLUMNS, self.persons, "ON CONFLICT (id_number) DO NOTHING")
        if taken != len(self.persons):
            raise ConcurrentWrite("a person of the batch was registered meanwhile")
        taken = await _copy_upsert(
            conn, "enterprises", ENTERPRISE_COLUMNS, self.enterprises, "ON CONFLICT (credit_code) DO NOTHING"
        )
        if taken != len(self.enterprises):
            raise ConcurrentWrite("an enterprise of the batch was registered meanwhile")
        await _copy_upsert(conn, "person_links", LINK_COLUMNS["person"], self.person_links, "ON CONFLICT DO NOTHING")
        await _copy_upsert(
            conn, "enterprise_links", LINK_COLUMNS["enterprise"], self.enterprise_links, "ON CONFLICT DO NOTHING"
        )
        taken = await _copy_upsert(
            conn,
            "payee_accounts",
            ACCOUNT_COLUMNS,
            self.accounts,
            "ON CONFLICT (owner_id, kind, account_number) DO NOTHING",
        )
        if taken != len(self.accounts):
            raise ConcurrentWrite("a payee account of the batch was registered meanwhile")
        self.outbox.extend(self.account_outbox)
        # No conflict clause: the unique indexes (source reference, one live application per applicant, programme
        # and period) raise on a concurrent HTTP submission, and the batch runs again.
        await _copy(conn, "applications", APPLICATION_COLUMNS, self.applications)
        await _copy(conn, "application_timeline", TIMELINE_COLUMNS, self.timeline)
        await _copy(conn, "facts", FACT_COLUMNS, self.facts)
        await _copy(conn, "audit_log", AUDIT_COLUMNS, self.audit)
        await _copy_upsert(
            conn,
            "intake_results",
            RESULT_COLUMNS,
            self.result_rows,
            """ON CONFLICT (integration_id, source_reference) DO UPDATE
               SET request_hash = EXCLUDED.request_hash, status = EXCLUDED.status,
                   application_id = EXCLUDED.application_id, errors = EXCLUDED.errors,
                   batch_id = EXCLUDED.batch_id, processed_at = EXCLUDED.processed_at""",
        )
        if self.outbox:
            await _copy(
                conn,
                "outbox",
                OUTBOX_COLUMNS,
                [(r.topic, r.key, r.event_type, _json(r.headers), r.value) for r in self.outbox],
            )
            await conn.execute("SELECT pg_notify($1, '')", notify_channel(schema))


def _accept(p: Prepared, known: _Known, w: _Writes, caller: Integration, now: datetime) -> RecordResult:
    """Match the record against what is known; stage its rows and event, or refuse it."""
    ref = p.source_reference
    person_row = enterprise_row = None
    if p.person is not None and p.resident is not None:
        person_row = known.persons.get(p.resident.number)
        if person_row is not None and person_row["name"] != p.person.name:
            return _refused(
                ref,
                "person.name",
                "this resident ID is registered under another name",
                "该居民身份号码已登记，姓名不一致",
            )
    if p.enterprise is not None and p.credit_code is not None:
        enterprise_row = known.enterprises.get(p.credit_code)
        if enterprise_row is not None and enterprise_row["name"] != p.enterprise.name:
            return _refused(
                ref,
                "enterprise.name",
                "this credit code is registered under another name",
                "该统一社会信用代码已登记，名称不一致",
            )
    new_person = person_row is None and p.person is not None
    new_enterprise = enterprise_row is None and p.enterprise is not None
    if new_person:
        assert p.person is not None
        assert p.resident is not None
        person_row = {
            "id": p.person_id,
            "id_number": p.resident.number,
            "name": p.person.name,
            "birth_date": p.resident.birth_date,
            "sex": p.resident.sex,
            "region_code": p.person.region_code,
            "mobile": p.person.mobile,
            "email": p.person.email,
            "guardian_name": p.person.guardian_name,
            "guardian_mobile": p.person.guardian_mobile,
        }
    if new_enterprise:
        assert p.enterprise is not None
        enterprise_row = {
            "id": p.enterprise_id,
            "credit_code": p.credit_code,
            "name": p.enterprise.name,
            "region_code": p.enterprise.region_code,
            "size": p.enterprise.size.value,
            "contact_name": p.enterprise.contact_name,
            "contact_mobile": p.enterprise.contact_mobile,
            "contact_email": p.enterprise.contact_email,
        }
    app = p.application
    person_kind = app.applicant.kind is ApplicantKind.PERSON
    applicant_row = person_row if person_kind else enterprise_row
    assert applicant_row is not None
    applicant_id = applicant_row["id"]
    beneficiary_row = person_row if app.beneficiary_person_id is not None else None
    key = validation.dedup_key(
        app.programme_id, applicant_id, beneficiary_row["id"] if beneficiary_row else None, app.period
    )
    existing = known.live.get(key)
    if existing is not None:
        return RecordResult(
            ref,
            IntakeStatus.DUPLICATE_APPLICATION,
            existing,
            [
                IntakeError(
                    field="application",
                    reason=f"the applicant already applied for this programme and period: application {existing}",
                    reason_zh=f"该申请人已就同一项目和期间提出申请（申请 {existing}）",
                )
            ],
        )
    application_id, event_id, correlation_id, account_id, account_event_id, *fact_ids = new_ids(5 + len(app.facts))
    account_key = (str(applicant_id), p.account.kind.value, p.account_number)
    account_row = known.accounts.get(account_key)
    new_account = account_row is None
    if account_row is None:
        account_row = {
            "id": None,  # given below, with the record's other new ids
            "owner_id": applicant_id,
            "kind": p.account.kind.value,
            "account_number": p.account_number,
            "holder_name": p.account.holder_name,
            "bank_code": p.account.bank_code,
            "bank_name": p.account.bank_name,
        }

    # Accepted: everything below is staged for the batch's COPY.
    # Facts name the provisional ids; a person or enterprise already known keeps its own.
    remap = {
        str(provisional): str(row["id"])
        for provisional, row in ((p.person_id, person_row), (p.enterprise_id, enterprise_row))
        if row is not None and row["id"] != provisional
    }
    facts: list[dict[str, Any]] = _FACTS.dump_python(app.facts, mode="json")
    if remap:
        facts = [_remapped(f, remap) for f in facts]
    if new_person:
        assert person_row is not None
        known.persons[person_row["id_number"]] = person_row
        w.persons.append((*tuple(person_row[c] for c in PERSON_COLUMNS[:-1]), caller.id))
    if new_enterprise:
        assert enterprise_row is not None
        known.enterprises[enterprise_row["credit_code"]] = enterprise_row
        w.enterprises.append((*tuple(enterprise_row[c] for c in ENTERPRISE_COLUMNS[:-1]), caller.id))
    for linked_row, links in ((person_row, w.person_links), (enterprise_row, w.enterprise_links)):
        if linked_row is not None and linked_row["id"] not in known.linked:
            links.append((linked_row["id"], caller.id))
            known.linked.add(linked_row["id"])
    if new_account:
        account_row["id"] = account_id
        known.accounts[account_key] = account_row
        w.accounts.append((*tuple(account_row[c] for c in ACCOUNT_COLUMNS[:-1]), caller.id))
        w.account_outbox.append(_account_record(account_row, account_event_id, correlation_id, now))
    subjects = [applicant_id] + ([beneficiary_row["id"]] if beneficiary_row else [])
    context = [f for s in subjects for f in known.facts.get(s, [])]
    subject_ids = {str(s): s for s in subjects}  # facts were checked to be about these (check_fact_subjects)
    for fact in facts:
        subject = subject_ids[fact["subject_id"]]
        known.facts.setdefault(subject, []).append(fact)
        w.facts.append((fact_ids.pop(), subject, fact["kind"], _json(fact), caller.id))

    known.live[key] = application_id
    contacts = _contacts_json(app, applicant_row, beneficiary_row)
    proxy = p.proxy.model_dump(mode="json") if p.proxy else None
    w.outbox.append(
        _submitted_record(
            event_id=event_id,
            correlation_id=correlation_id,
            occurred_at=now,
            subject_key=str(applicant_id),
            payload={
                "application_id": str(application_id),
                "programme_id": app.programme_id,
                "applicant": _applicant_json(app.applicant.kind, applicant_row),
                "beneficiary": _person_json(beneficiary_row) if beneficiary_row is not None else None,
                "period": (
                    {"start": app.period.start.isoformat(), "end": app.period.end.isoformat()} if app.period else None
                ),
                "facts": [*context, *facts],
                "payee": {
                    "account_id": str(account_row["id"]),
                    "kind": account_row["kind"],
                    "holder_name": account_row["holder_name"],
                    "account_number": account_row["account_number"],
                    "bank_code": account_row["bank_code"],
                    "bank_name": account_row["bank_name"],
                },
                "contacts": contacts,
                "proxy": proxy,
                "commitment": app.commitment,
                "jurisdiction": p.jurisdiction,
                "integration_id": caller.id,
                "source_reference": ref,
                "submitted_at": _json_time(now),
            },
        )
    )
    w.applications.append(
        (
            application_id,
            app.programme_id,
            app.applicant.kind.value,
            applicant_id,
            beneficiary_row["id"] if beneficiary_row else None,
            app.period.start if app.period else None,
            app.period.end if app.period else None,
            account_row["id"],
            p.jurisdiction,
            caller.id,
            ref,
            None,
            p.digest,
            app.commitment,
            _json(proxy) if proxy is not None else None,
            _json(contacts),
            "submitted",
            key,
            correlation_id,
            now,
        )
    )
    w.timeline.append((application_id, event_id, "submitted", now, "申请已提交 / application submitted"))
    return RecordResult(ref, IntakeStatus.ACCEPTED, application_id)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around a batch's pure computation.

    A batch creates many small objects that stay alive until it is written; the collector, triggered every few
    hundred allocations, kept re-scanning them: profiling showed it taking more than half of the CPU time of
    validation and matching. The objects hold no reference cycles worth collecting early; collection resumes
    when the batch is done (and stays paused only if it already was)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def prepare_all(raws: Sequence[Any], caller: Integration, *, check_nul: bool = True) -> list[Incoming]:
    with gc_paused():
        return [prepare(raw, caller, i, check_nul=check_nul) for i, raw in enumerate(raws)]


_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))  # the version nibble of byte 6
_RFC_4122 = bytes((b & 0x3F) | 0x80 for b in range(256))  # the variant bits of byte 8


class _RandomIds(threading.local):
    """Version 4 UUIDs from system randomness read 64 KiB at a time (per thread): one getrandom call costs about
    as much as 2 KiB of its output here, and a record needs seven ids. The version and variant bits are set on
    the whole buffer at once, and the ids are asyncpg's UUID type (a uuid.UUID, built in C: uuid.UUID's own
    constructor and str() were a tenth of the matching time)."""

    def __init__(self) -> None:
        self.pool = b""
        self.at = 0

    def take(self, n: int) -> list[uuid.UUID]:
        if self.at + 16 * n > len(self.pool):
            fresh = bytearray(os.urandom(max(65536, 16 * n)))
            fresh[6::16] = fresh[6::16].translate(_VERSION_4)
            fresh[8::16] = fresh[8::16].translate(_RFC_4122)
            self.pool, self.at = bytes(fresh), 0
        at, self.at = self.at, self.at + 16 * n
        pool = self.pool
        return [_UUID(pool[i : i + 16]) for i in range(at, at + 16 * n, 16)]


_random_ids = _RandomIds()


def new_ids(n: int) -> list[uuid.UUID]:
    """n random (version 4) UUIDs, as uuid.uuid4 makes them, from the buffered system random source."""
    return _random_ids.take(n)


def _remapped(fact: dict[str, Any], remap: dict[str, str]) -> dict[str, Any]:
    return {k: remap.get(v, v) if k in FACT_REFERENCES and isinstance(v, str) else v for k, v in fact.items()}


# Application-submitted events are written as the contract serialises them (ApplicationSubmitted with its
# ApplicationSubmittedPayload, in mode "json"), from values the record's validation already checked against the
# same constraints (the HTTP models, the identity rules) and facts already in their JSON form: building and
# re-validating the contract models per record was most of the cost of matching a record.
# tests/unit/test_registration_intake.py reads every such event back through the contract and compares.
_FACTS: TypeAdapter[list[Fact]] = TypeAdapter(list[Fact])
_DATETIME: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)
SUBMITTED = ApplicationSubmitted.type_name()
SUBMITTED_VERSION = ApplicationSubmitted.version()


@lru_cache(maxsize=8)
def _json_time(at: datetime) -> str:
    text: str = _DATETIME.dump_python(at, mode="json")
    return text


def _submitted_record(
    *,
    event_id: uuid.UUID,
    correlation_id: uuid.UUID,
    occurred_at: datetime,
    subject_key: str,
    payload: dict[str, Any],
) -> OutboxRecord:
    return json_event_record(
        topic=APPLICATIONS.name,
        event_type=SUBMITTED,
        version=SUBMITTED_VERSION,
        producer=PRODUCER,
        event_id=str(event_id),
        correlation_id=str(correlation_id),
        subject_key=subject_key,
        occurred_at=_json_time(occurred_at),
        payload=payload,
    )


ACCOUNT_REGISTERED = PayeeAccountRegistered.type_name()
ACCOUNT_REGISTERED_VERSION = PayeeAccountRegistered.version()


def _account_record(
    row: dict[str, Any], event_id: uuid.UUID, correlation_id: uuid.UUID, occurred_at: datetime
) -> OutboxRecord:
    """PayeeAccountRegistered for a new account row (as usecases.payee_account_registered), in its JSON form; it
    shares the correlation id of the application the record submits."""
    owner, stamp = str(row["owner_id"]), _json_time(occurred_at)
    payload = {
        "owner_id": owner,
        "account": {
            "account_id": str(row["id"]),
            "kind": row["kind"],
            "holder_name": row["holder_name"],
            "account_number": row["account_number"],
            "bank_code": row["bank_code"],
            "bank_name": row["bank_name"],
        },
        "registered_at": stamp,
    }
    return json_event_record(
        topic=PAYEE_ACCOUNTS.name,
        event_type=ACCOUNT_REGISTERED,
        version=ACCOUNT_REGISTERED_VERSION,
        producer=PRODUCER,
        event_id=str(event_id),
        correlation_id=str(correlation_id),
        subject_key=owner,
        occurred_at=stamp,
        payload=payload,
    )


def _person_json(row: dict[str, Any]) -> dict[str, Any]:
    """PersonSnapshot (as usecases._person_snapshot), in its JSON form."""
    number = row["id_number"]
    return {
        "person_id": str(row["id"]),
        "name": row["name"],
        "id_number_masked": f"{number[:4]}{'*' * 10}{number[-4:]}",
        "birth_date": row["birth_date"].isoformat(),
        "sex": row["sex"],
        "region_code": row["region_code"],
    }


def _applicant_json(kind: ApplicantKind, row: dict[str, Any]) -> dict[str, Any]:
    """Applicant (as usecases._applicant), in its JSON form."""
    if kind is ApplicantKind.PERSON:
        return {"kind": kind.value, "person": _person_json(row), "enterprise": None}
    enterprise = {
        "enterprise_id": str(row["id"]),
        "name": row["name"],
        "credit_code": row["credit_code"],
        "region_code": row["region_code"],
        "size": row["size"],
    }
    return {"kind": kind.value, "person": None, "enterprise": enterprise}


def _contacts_json(app: ApplicationIn, applicant: dict[str, Any], beneficiary: Any) -> list[dict[str, Any]]:
    """The contacts usecases._contacts lists (the same order), in their JSON form (the record's own contacts
    were checked in `prepare`)."""
    out: list[dict[str, Any]] = []

    def add(role: str, name: str, mobile: str | None, email: str | None = None) -> None:
        out.append({"role": role, "name": name, "mobile": mobile, "email": email})

    if app.applicant.kind is ApplicantKind.PERSON:
        add("applicant", applicant["name"], applicant["mobile"], applicant["email"])
        if applicant["guardian_mobile"]:
            add("guardian", applicant["guardian_name"] or "监护人", applicant["guardian_mobile"])
    else:
        add("enterprise_contact", applicant["contact_name"], applicant["contact_mobile"], applicant["contact_email"])
    if beneficiary is not None:
        add("beneficiary", beneficiary["name"], beneficiary["mobile"], beneficiary["email"])
        if beneficiary["guardian_mobile"]:
            add("guardian", beneficiary["guardian_name"] or "监护人", beneficiary["guardian_mobile"])
    if app.proxy is not None and app.proxy.mobile:
        add("proxy", app.proxy.name, app.proxy.mobile)
    for c in app.contacts:
        add(c.role.value, c.name, c.mobile, c.email)
    return out


def _result_record(caller: Integration, batch_id: str, result: RecordResult, now: datetime) -> OutboxRecord:
    event = IntakeResult.create(
        IntakeResultPayload(
            integration_id=caller.id,
            batch_id=batch_id,
            source_reference=result.source_reference,
            status=result.status,
            application_id=result.application_id,
            errors=result.errors,
            processed_at=now,
        ),
        producer=PRODUCER,
        subject_key=caller.id,
        correlation_id=uuid.uuid5(uuid.NAMESPACE_URL, f"intake:{caller.id}:{batch_id}"),
        occurred_at=now,
    )
    return OutboxRecord(
        topic=INTAKE_RESULTS.name,
        key=caller.id,
        value=event.model_dump_json(),
        headers=event_headers(event),
        event_type=event.event_type,
    )


def _counts(results: Iterable[RecordResult]) -> dict[str, int]:
    counts = {s.value: 0 for s in IntakeStatus}
    for r in results:
        counts[r.status.value] += 1
    return counts


# ---------------------------------------------------------------------------------------------- COPY
PERSON_COLUMNS = (
    "id", "id_number", "name", "birth_date", "sex", "region_code", "mobile", "email", "guardian_name",
    "guardian_mobile", "created_by",
)  # fmt: skip
ENTERPRISE_COLUMNS = (
    "id", "credit_code", "name", "region_code", "size", "contact_name", "contact_mobile", "contact_email",
    "created_by",
)  # fmt: skip
LINK_COLUMNS = {"person": ("person_id", "integration_id"), "enterprise": ("enterprise_id", "integration_id")}
ACCOUNT_COLUMNS = ("id", "owner_id", "kind", "account_number", "holder_name", "bank_code", "bank_name", "created_by")
FACT_COLUMNS = ("id", "subject_id", "kind", "payload", "recorded_by")
APPLICATION_COLUMNS = (
    "id", "programme_id", "applicant_kind", "applicant_id", "beneficiary_id", "period_start", "period_end",
    "payee_account_id", "jurisdiction", "integration_id", "source_reference", "idempotency_key", "request_hash",
    "commitment", "proxy", "contacts", "status", "dedup_key", "correlation_id", "submitted_at",
)  # fmt: skip
TIMELINE_COLUMNS = ("application_id", "event_id", "kind", "at", "summary")
AUDIT_COLUMNS = ("integration_id", "request_id", "action", "entity", "entity_id", "detail")
RESULT_COLUMNS = (
    "integration_id", "source_reference", "request_hash", "status", "application_id", "errors", "batch_id",
    "processed_at",
)  # fmt: skip
OUTBOX_COLUMNS = ("topic", "key", "event_type", "headers", "value")


JSON_COLUMNS = frozenset({"payload", "proxy", "contacts", "detail", "errors", "headers"})


async def _copy(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    await _copy_upsert(conn, table, columns, rows, "")


async def _copy_upsert(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], conflict: str
) -> int:
    """COPY into a staging table, then INSERT … SELECT … [ON CONFLICT] into the table: the rows inserted.

    JSON columns come as JSON text (`_json`), staged as text and cast back: asyncpg's COPY is binary and has no
    binary jsonb encoder (the pool's JSON codecs are text codecs)."""
    if not rows:
        return 0
    stage = f"intake_stage_{table}"
    staged = ", ".join(f"{c}::text AS {c}" if c in JSON_COLUMNS else c for c in columns)
    await conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS SELECT {staged} FROM {table} WITH NO DATA"
    )
    await conn.copy_records_to_table(stage, columns=list(columns), records=rows)
    names = ", ".join(columns)
    select = ", ".join(f"{c}::jsonb" if c in JSON_COLUMNS else c for c in columns)
    status = await conn.execute(f"INSERT INTO {table} ({names}) SELECT {select} FROM {stage} {conflict}")
    return int(status.split()[-1])


def _json(value: Any) -> str:
    """The JSON text of a jsonb column's value, made when its row is (not by rebuilding every row later)."""
    return orjson.dumps(value).decode()


def _errors_json(errors: list[IntakeError]) -> str:
    return _json([e.model_dump() for e in errors]) if errors else "[]"

"""Registration's use cases: validate with the domain rules, store, and announce through the outbox.

Each function runs inside one Transaction; the events it publishes commit with the state they describe.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from subsidy_contracts.common import (
    AccountKind,
    Applicant,
    ApplicantKind,
    Contact,
    ContactRole,
    EnterpriseSnapshot,
    PayeeAccount,
    PersonSnapshot,
    Proxy,
)
from subsidy_contracts.facts import Fact
from subsidy_contracts.registration import (
    ApplicationSubmitted,
    ApplicationSubmittedPayload,
    ApplicationWithdrawn,
    ApplicationWithdrawnPayload,
    PayeeAccountRegistered,
    PayeeAccountRegisteredPayload,
)
from subsidy_runtime.auth import Integration
from subsidy_runtime.masking import mask_account, mask_mobile
from subsidy_runtime.outbox import Transaction

from . import validation
from .api.schemas import (
    ApplicationIn,
    AttachmentIn,
    AttachmentOut,
    EnterpriseIn,
    EnterpriseOut,
    PayeeAccountIn,
    PayeeAccountOut,
    PersonIn,
    PersonOut,
)
from .domain import identity
from .domain.errors import Conflict, DuplicateApplication, InvalidField, NotFound

PRODUCER = "registration"


def _mask_id(number: str) -> str:
    return f"{number[:4]}{'*' * 10}{number[-4:]}"


# ----------------------------------------------------------------------------------------------- persons
async def register_person(tx: Transaction, body: PersonIn, caller: Integration) -> PersonOut:
    resident = validation.check_person(body)
    row = await tx.conn.fetchrow(
        """INSERT INTO persons (id, id_number, name, birth_date, sex, region_code, mobile, email,
                                guardian_name, guardian_mobile, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (id_number) DO NOTHING RETURNING id""",
        uuid.uuid4(),
        resident.number,
        body.name,
        resident.birth_date,
        resident.sex,
        body.region_code,
        body.mobile,
        body.email,
        body.guardian_name,
        body.guardian_mobile,
        caller.id,
    )
    created = row is not None
    existing = await tx.conn.fetchrow("SELECT * FROM persons WHERE id_number = $1", resident.number)
    assert existing is not None
    if not created and existing["name"] != body.name:
        raise Conflict(
            "该居民身份号码已登记，姓名不一致",
            "this resident ID is registered under another name",
        )
    # Registering someone already known links them to this integration too (it now may see them).
    await tx.conn.execute(
        "INSERT INTO person_links (person_id, integration_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        existing["id"],
        caller.id,
    )
    return _person_out(existing, created)


def visible(table: str, alias: str, caller_param: int) -> str:
    """SQL: the row is linked to the caller (param n) or in its jurisdiction (param n+1)."""
    link, key = ("person_links", "person_id") if table == "persons" else ("enterprise_links", "enterprise_id")
    return (
        f"(EXISTS (SELECT 1 FROM {link} l WHERE l.{key} = {alias}.id AND l.integration_id = ${caller_param})"
        f" OR {alias}.region_code LIKE ${caller_param + 1} || '%')"
    )


def _person_out(row: Any, created: bool) -> PersonOut:
    return PersonOut(
        person_id=row["id"],
        id_number_masked=_mask_id(row["id_number"]),
        name=row["name"],
        birth_date=row["birth_date"],
        sex=row["sex"],
        region_code=row["region_code"],
        mobile_masked=mask_mobile(row["mobile"]) if row["mobile"] else None,
        created=created,
    )


async def get_person(tx: Transaction, person_id: uuid.UUID, caller: Integration) -> PersonOut:
    row = await tx.conn.fetchrow(
        f"SELECT * FROM persons p WHERE p.id = $1 AND {visible('persons', 'p', 2)}",
        person_id,
        caller.id,
        caller.jurisdiction,
    )
    if row is None:
        raise NotFound("person", str(person_id))
    return _person_out(row, False)


# ------------------------------------------------------------------------------------------- enterprises
async def get_enterprise_row(tx: Transaction, enterprise_id: uuid.UUID, caller: Integration) -> Any:
    row = await tx.conn.fetchrow(
        f"SELECT * FROM enterprises e WHERE e.id = $1 AND {visible('enterprises', 'e', 2)}",
        enterprise_id,
        caller.id,
        caller.jurisdiction,
    )
    if row is None:
        raise NotFound("enterprise", str(enterprise_id))
    return row


async def register_enterprise(tx: Transaction, body: EnterpriseIn, caller: Integration) -> EnterpriseOut:
    code = validation.check_enterprise(body)
    row = await tx.conn.fetchrow(
        """INSERT INTO enterprises (id, credit_code, name, region_code, size, contact_name, contact_mobile,
                                    contact_email, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (credit_code) DO NOTHING RETURNING id""",
        uuid.uuid4(),
        code,
        body.name,
        body.region_code,
        body.size.value,
        body.contact_name,
        body.contact_mobile,
        body.contact_email,
        caller.id,
    )
    existing = await tx.conn.fetchrow("SELECT * FROM enterprises WHERE credit_code = $1", code)
    assert existing is not None
    if row is None and existing["name"] != body.name:
        raise Conflict("该统一社会信用代码已登记，名称不一致", "this credit code is registered under another name")
    await tx.conn.execute(
        "INSERT INTO enterprise_links (enterprise_id, integration_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        existing["id"],
        caller.id,
    )
    return EnterpriseOut(
        enterprise_id=existing["id"],
        credit_code=existing["credit_code"],
        name=existing["name"],
        region_code=existing["region_code"],
        size=existing["size"],
        created=row is not None,
    )


# ----------------------------------------------------------------------------------------------- accounts
async def register_payee_account(
    tx: Transaction,
    body: PayeeAccountIn,
    caller: Integration,
    correlation_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> PayeeAccountOut:
    """Store the account once per (owner, kind, number); a new one is announced (payee-account-registered), so that
    payments can re-issue what failed on the owner's previous account."""
    number = validation.check_account_number(body.kind, body.account_number, body.bank_code)
    if body.kind is AccountKind.SOCIAL_SECURITY_CARD:
        owner = await tx.conn.fetchrow(
            f"SELECT name FROM persons p WHERE p.id = $1 AND {visible('persons', 'p', 2)}",
            body.owner_id,
            caller.id,
            caller.jurisdiction,
        )
        if owner is None:
            raise InvalidField(
                "owner_id",
                "社保卡账户的持有人必须是已登记的个人",
                "a social-security-card account belongs to a registered person",
            )
    else:
        owner = await tx.conn.fetchrow(
            f"SELECT name FROM enterprises e WHERE e.id = $1 AND {visible('enterprises', 'e', 2)}",
            body.owner_id,
            caller.id,
            caller.jurisdiction,
        )
        if owner is None:
            raise InvalidField(
                "owner_id",
                "对公基本账户的持有人必须是已登记的单位",
                "an enterprise basic account belongs to a registered enterprise",
            )
    validation.check_holder_name(owner["name"], body.holder_name)
    row = await tx.conn.fetchrow(
        """INSERT INTO payee_accounts (id, owner_id, kind, account_number, holder_name, bank_code, bank_name, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (owner_id, kind, account_number) DO NOTHING RETURNING id""",
        uuid.uuid4(),
        body.owner_id,
        body.kind.value,
        number,
        body.holder_name,
        body.bank_code,
        body.bank_name,
        caller.id,
    )
    existing = await tx.conn.fetchrow(
        "SELECT * FROM payee_accounts WHERE owner_id = $1 AND kind = $2 AND account_number = $3",
        body.owner_id,
        body.kind.value,
        number,
    )
    assert existing is not None
    if row is not None:
        tx.publish(payee_account_registered(existing, correlation_id or uuid.uuid4(), now or datetime.now(UTC)))
    return PayeeAccountOut(
        account_id=existing["id"],
        owner_id=existing["owner_id"],
        kind=existing["kind"],
        account_number_masked=mask_account(existing["account_number"]),
        holder_name=existing["holder_name"],
        bank_code=existing["bank_code"],
        bank_name=existing["bank_name"],
        created=row is not None,
    )


def payee_account(row: Any) -> PayeeAccount:
    """A payee_accounts row as the contracts carry it (on an application and in the account's own event)."""
    return PayeeAccount(
        account_id=row["id"],
        kind=row["kind"],
        holder_name=row["holder_name"],
        account_number=row["account_number"],
        bank_code=row["bank_code"],
        bank_name=row["bank_name"],
    )


def payee_account_registered(row: Any, correlation_id: uuid.UUID, now: datetime) -> PayeeAccountRegistered:
    """The event announcing a newly stored payee_accounts row, keyed by its owner."""
    return PayeeAccountRegistered.create(
        PayeeAccountRegisteredPayload(
            owner_id=row["owner_id"],
            account=payee_account(row),
            registered_at=now,
        ),
        producer=PRODUCER,
        subject_key=str(row["owner_id"]),
        correlation_id=correlation_id,
        occurred_at=now,
    )


# -------------------------------------------------------------------------------------------------- facts
async def record_facts(
    tx: Transaction,
    subject_id: uuid.UUID,
    facts: list[Fact],
    integration_id: str,
    allowed_subjects: set[uuid.UUID] | None = None,
) -> int:
    validation.check_fact_subjects(facts, allowed_subjects or {subject_id})
    await tx.conn.executemany(
        "INSERT INTO facts (id, subject_id, kind, payload, recorded_by) VALUES ($1, $2, $3, $4, $5)",
        [(uuid.uuid4(), f.subject_id, f.kind, f.model_dump(mode="json"), integration_id) for f in facts],
    )
    return len(facts)


# -------------------------------------------------------------------------------------------- applications
def request_hash(body: ApplicationIn) -> str:
    return hashlib.sha256(orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)).hexdigest()


async def find_by_idempotency(
    tx: Transaction, integration_id: str, key: str | None, source_reference: str | None
) -> Any:
    if key is not None:
        row = await tx.conn.fetchrow(
            "SELECT id, request_hash FROM applications WHERE integration_id = $1 AND idempotency_key = $2",
            integration_id,
            key,
        )
        if row is not None:
            return row
    if source_reference is not None:
        return await tx.conn.fetchrow(
            "SELECT id, request_hash FROM applications WHERE integration_id = $1 AND source_reference = $2",
            integration_id,
            source_reference,
        )
    return None


async def submit_application(
    tx: Transaction,
    body: ApplicationIn,
    *,
    caller: Integration,
    idempotency_key: str | None,
    correlation_id: uuid.UUID,
    now: datetime | None = None,
) -> tuple[uuid.UUID, bool]:
    """Store the application and publish application-submitted. Returns (id, created)."""
    digest = request_hash(body)
    integration_id = caller.id
    previous = await find_by_idempotency(tx, integration_id, idempotency_key, body.source_reference)
    if previous is not None:
        if previous["request_hash"] != digest:
            raise Conflict(
                "幂等键或来源单号已用于另一笔不同的申请",
                "the idempotency key or source reference was used for a different request",
                existing=f"/v1/applications/{previous['id']}",
            )
        return previous["id"], False
    now = now or datetime.now(UTC)
    conn = tx.conn
    # Lock the applicant first: serialises this applicant's submissions (duplicate check, event order).
    table = "persons" if body.applicant.kind is ApplicantKind.PERSON else "enterprises"
    applicant_row = await conn.fetchrow(
        f"SELECT * FROM {table} a WHERE a.id = $1 AND {visible(table, 'a', 2)} FOR UPDATE",
        body.applicant.id,
        caller.id,
        caller.jurisdiction,
    )
    if applicant_row is None:
        raise InvalidField("applicant.id", "申请人未登记", "the applicant is not registered")
    validation.check_period(body.period)
    subjects = [body.applicant.id] + ([body.beneficiary_person_id] if body.beneficiary_person_id else [])
    dedup_key = validation.dedup_key(body.programme_id, body.applicant.id, body.beneficiary_person_id, body.period)
    # Everything else the application needs, in one round trip.
    context = await conn.fetchrow(
        f"""SELECT (SELECT row_to_json(p) FROM persons p WHERE p.id = $1 AND {visible("persons", "p", 5)}) AS beneficiary,
                  (SELECT row_to_json(a) FROM payee_accounts a WHERE a.id = $2) AS account,
                  (SELECT id FROM applications WHERE dedup_key = $3 AND status <> 'withdrawn') AS duplicate,
                  (SELECT coalesce(json_agg(payload ORDER BY recorded_at, id), '[]'::json)
                     FROM facts WHERE subject_id = ANY($4::uuid[])) AS facts""",
        body.beneficiary_person_id,
        body.payee_account_id,
        dedup_key,
        subjects,
        caller.id,
        caller.jurisdiction,
    )
    assert context is not None
    beneficiary_row = context["beneficiary"]
    if body.beneficiary_person_id is not None and beneficiary_row is None:
        raise InvalidField("beneficiary_person_id", "受益人未登记", "the beneficiary is not registered")
    account = context["account"]
    if account is None or account["owner_id"] != str(body.applicant.id):
        raise InvalidField(
            "payee_account_id",
            "收款账户不存在或不属于申请人",
            "the payee account does not exist or is not the applicant's",
        )
    if context["duplicate"] is not None:
        raise DuplicateApplication(str(context["duplicate"]))
    jurisdiction = body.jurisdiction or applicant_row["region_code"]
    identity.check_region_code(jurisdiction, "jurisdiction")
    if not caller.covers(jurisdiction):  # as in bulk intake: an integration files only within its area
        raise InvalidField(
            "jurisdiction",
            f"申请的受理地区 {jurisdiction} 不在接入方的管辖范围（{caller.jurisdiction}）内",
            f"the application's region {jurisdiction} is outside the integration's jurisdiction "
            f"({caller.jurisdiction or 'none'})",
        )
    contacts = _contacts(body, applicant_row, beneficiary_row)
    application_id = uuid.uuid4()
    proxy = None
    if body.proxy is not None:
        proxy_id = validation.check_proxy(body.proxy)
        proxy = Proxy(
            name=body.proxy.name,
            id_number_masked=proxy_id.masked,
            relationship=body.proxy.relationship,
            authorisation_reference=body.proxy.authorisation_reference,
        )
    event_id = uuid.uuid4()
    await conn.execute(
        """WITH application AS (
               INSERT INTO applications (id, programme_id, applicant_kind, applicant_id, beneficiary_id, period_start,
                                         period_end, payee_account_id, jurisdiction, integration_id, source_reference,
                                         idempotency_key, request_hash, commitment, proxy, contacts, status,
                                         dedup_key, correlation_id, submitted_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'submitted', $17, $18,
                       $19)
               RETURNING id)
           INSERT INTO application_timeline (application_id, event_id, kind, at, summary)
           SELECT id, $20, 'submitted', $19, '申请已提交 / application submitted' FROM application""",
        application_id,
        body.programme_id,
        body.applicant.kind.value,
        body.applicant.id,
        body.beneficiary_person_id,
        body.period.start if body.period else None,
        body.period.end if body.period else None,
        body.payee_account_id,
        jurisdiction,
        integration_id,
        body.source_reference,
        idempotency_key,
        digest,
        body.commitment,
        proxy.model_dump(mode="json") if proxy else None,
        [c.model_dump(mode="json") for c in contacts],
        dedup_key,
        correlation_id,
        now,
        event_id,
    )
    if body.facts:
        await record_facts(tx, body.applicant.id, body.facts, integration_id, allowed_subjects=set(subjects))
    payload = ApplicationSubmittedPayload(
        application_id=application_id,
        programme_id=body.programme_id,
        applicant=_applicant(body.applicant.kind, applicant_row),
        beneficiary=_person_snapshot(beneficiary_row) if beneficiary_row is not None else None,
        period=body.period,
        facts=[*context["facts"], *(f.model_dump(mode="json") for f in body.facts)],
        payee=payee_account(account),
        contacts=contacts,
        proxy=proxy,
        commitment=body.commitment,
        jurisdiction=jurisdiction,
        integration_id=integration_id,
        source_reference=body.source_reference,
        submitted_at=now,
    )
    event = ApplicationSubmitted.create(
        payload,
        producer=PRODUCER,
        subject_key=str(body.applicant.id),
        correlation_id=correlation_id,
        occurred_at=now,
        event_id=event_id,
    )
    tx.publish(event)
    return application_id, True


def _person_snapshot(row: Any) -> PersonSnapshot:
    return PersonSnapshot(
        person_id=row["id"],
        name=row["name"],
        id_number_masked=_mask_id(row["id_number"]),
        birth_date=row["birth_date"],
        sex=row["sex"],
        region_code=row["region_code"],
    )


def _applicant(kind: ApplicantKind, row: Any) -> Applicant:
    if kind is ApplicantKind.PERSON:
        return Applicant(kind=kind, person=_person_snapshot(row))
    return Applicant(
        kind=kind,
        enterprise=EnterpriseSnapshot(
            enterprise_id=row["id"],
            name=row["name"],
            credit_code=row["credit_code"],
            region_code=row["region_code"],
            size=row["size"],
        ),
    )


def _contacts(body: ApplicationIn, applicant: Any, beneficiary: Any) -> list[Contact]:
    """Everyone to notify: the applicant (or enterprise contact), the beneficiary, guardians, the proxy."""
    out: list[Contact] = []
    if body.applicant.kind is ApplicantKind.PERSON:
        out.append(
            Contact(
                role=ContactRole.APPLICANT, name=applicant["name"], mobile=applicant["mobile"], email=applicant["email"]
            )
        )
        if applicant["guardian_mobile"]:
            out.append(
                Contact(
                    role=ContactRole.GUARDIAN,
                    name=applicant["guardian_name"] or "监护人",
                    mobile=applicant["guardian_mobile"],
                )
            )
    else:
        out.append(
            Contact(
                role=ContactRole.ENTERPRISE_CONTACT,
                name=applicant["contact_name"],
                mobile=applicant["contact_mobile"],
                email=applicant["contact_email"],
            )
        )
    if beneficiary is not None:
        out.append(
            Contact(
                role=ContactRole.BENEFICIARY,
                name=beneficiary["name"],
                mobile=beneficiary["mobile"],
                email=beneficiary["email"],
            )
        )
        if beneficiary["guardian_mobile"]:
            out.append(
                Contact(
                    role=ContactRole.GUARDIAN,
                    name=beneficiary["guardian_name"] or "监护人",
                    mobile=beneficiary["guardian_mobile"],
                )
            )
    if body.proxy is not None and body.proxy.mobile:
        out.append(Contact(role=ContactRole.PROXY, name=body.proxy.name, mobile=body.proxy.mobile))
    validation.check_contacts(body.contacts)
    for c in body.contacts:
        out.append(Contact(role=c.role, name=c.name, mobile=c.mobile, email=c.email))
    return out


async def withdraw_application(
    tx: Transaction, application_id: uuid.UUID, reason: str, integration_id: str, correlation_id: uuid.UUID
) -> None:
    """Only the integration that submitted an application may withdraw it."""
    row = await tx.conn.fetchrow(
        "SELECT * FROM applications WHERE id = $1 AND integration_id = $2 FOR UPDATE", application_id, integration_id
    )
    if row is None:
        raise NotFound("application", str(application_id))
    if row["status"] == "withdrawn":
        return
    if row["status"] not in ("submitted", "under_review", "public_notice"):
        raise Conflict("申请已作出决定，不能撤回", f"an application in status {row['status']} cannot be withdrawn")
    now = datetime.now(UTC)
    await tx.conn.execute(
        "UPDATE applications SET status = 'withdrawn', updated_at = $2 WHERE id = $1", application_id, now
    )
    event = ApplicationWithdrawn.create(
        ApplicationWithdrawnPayload(
            application_id=application_id, programme_id=row["programme_id"], reason=reason, withdrawn_at=now
        ),
        producer=PRODUCER,
        subject_key=str(row["applicant_id"]),
        correlation_id=row["correlation_id"],
        causation_id=correlation_id,
    )
    tx.publish(event)
    await tx.conn.execute(
        "INSERT INTO application_timeline (application_id, event_id, kind, at, summary) VALUES ($1, $2, 'withdrawn', $3, $4)",
        application_id,
        event.event_id,
        now,
        f"申请已撤回 / withdrawn: {reason}",
    )


async def add_attachment(
    tx: Transaction, application_id: uuid.UUID, body: AttachmentIn, integration_id: str
) -> AttachmentOut:
    row = await tx.conn.fetchrow(
        """INSERT INTO attachments (id, application_id, kind, file_name, content_type, size_bytes, sha256, storage_uri,
                                    added_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (application_id, sha256) DO NOTHING RETURNING id""",
        uuid.uuid4(),
        application_id,
        body.kind,
        body.file_name,
        body.content_type,
        body.size_bytes,
        body.sha256,
        body.storage_uri,
        integration_id,
    )
    existing = await tx.conn.fetchrow(
        "SELECT * FROM attachments WHERE application_id = $1 AND sha256 = $2", application_id, body.sha256
    )
    assert existing is not None
    return AttachmentOut(
        attachment_id=existing["id"],
        application_id=application_id,
        kind=existing["kind"],
        file_name=existing["file_name"],
        sha256=existing["sha256"],
        created=row is not None,
    )

"""HTTP routes of the registration API: thin adapters from signed requests to use cases.

Every write appends an audit row (integration, request id, action, entity) in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Header, Query, Request, Response

from subsidy_runtime.audit import audit
from subsidy_runtime.auth import Integration
from subsidy_runtime.outbox import Transaction
from subsidy_runtime.problems import FieldError, Problem, validation_problem
from subsidy_runtime.service import ServiceRuntime

from .. import queries, usecases
from ..domain.errors import Conflict, DuplicateApplication, InvalidField, NotFound
from .auth import CallerDep
from .schemas import (
    ApplicationIn,
    ApplicationOut,
    ApplicationPage,
    AttachmentIn,
    AttachmentOut,
    EnterpriseIn,
    EnterpriseOut,
    FactsIn,
    FactsOut,
    PayeeAccountIn,
    PayeeAccountOut,
    PersonIn,
    PersonOut,
    WithdrawIn,
)

T = TypeVar("T")
router = APIRouter(prefix="/v1")


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


async def _in_transaction(request: Request, work: Callable[[Transaction], Awaitable[T]]) -> T:
    """Run a use case in one transaction, translating domain errors into problem responses."""
    try:
        async with _runtime(request).transaction() as tx:
            return await work(tx)
    except InvalidField as exc:
        raise validation_problem(
            [FieldError(field=exc.field, reason=exc.reason_en, reason_zh=exc.reason_zh, code="invalid")]
        ) from exc
    except NotFound as exc:
        raise Problem(
            404, "not-found", "Not found", f"{exc.what} {exc.ident} not found", "资源不存在或无权访问"
        ) from exc
    except DuplicateApplication as exc:
        raise Problem(
            409,
            "duplicate-application",
            "Duplicate application",
            "the applicant already applied for this programme and period",
            "该申请人已就同一项目和期间提出申请",
            existing=f"/v1/applications/{exc.existing_id}",
        ) from exc
    except Conflict as exc:
        raise Problem(409, "conflict", "Conflict", exc.reason_en, exc.reason_zh, existing=exc.existing) from exc


async def _audit(
    tx: Transaction, request: Request, caller: Integration, action: str, entity: str, entity_id: object
) -> None:
    await audit(
        tx.conn,
        integration_id=caller.id,
        request_id=request.state.correlation_id,
        action=action,
        entity=entity,
        entity_id=str(entity_id) if entity_id is not None else None,
    )


@router.post(
    "/persons",
    status_code=201,
    response_model=PersonOut,
    tags=["persons"],
    summary="Register a person (deduplicated on the resident ID number)",
)
async def register_person(body: PersonIn, request: Request, response: Response, caller: CallerDep) -> PersonOut:
    async def work(tx: Transaction) -> PersonOut:
        out = await usecases.register_person(tx, body, caller)
        await _audit(tx, request, caller, "person.register", "person", out.person_id)
        return out

    out = await _in_transaction(request, work)
    if not out.created:
        response.status_code = 200
    return out


@router.get("/persons/{person_id}", response_model=PersonOut, tags=["persons"])
async def get_person(person_id: uuid.UUID, request: Request, caller: CallerDep) -> PersonOut:
    return await _in_transaction(request, lambda tx: usecases.get_person(tx, person_id, caller))


@router.post("/persons/{person_id}/facts", status_code=201, response_model=FactsOut, tags=["facts"])
async def record_person_facts(person_id: uuid.UUID, body: FactsIn, request: Request, caller: CallerDep) -> FactsOut:
    async def work(tx: Transaction) -> FactsOut:
        await usecases.get_person(tx, person_id, caller)
        recorded = await usecases.record_facts(tx, person_id, body.facts, caller.id)
        await _audit(tx, request, caller, "facts.record", "person", person_id)
        return FactsOut(recorded=recorded)

    return await _in_transaction(request, work)


@router.post(
    "/enterprises",
    status_code=201,
    response_model=EnterpriseOut,
    tags=["enterprises"],
    summary="Register an enterprise (deduplicated on the unified social credit code)",
)
async def register_enterprise(
    body: EnterpriseIn, request: Request, response: Response, caller: CallerDep
) -> EnterpriseOut:
    async def work(tx: Transaction) -> EnterpriseOut:
        out = await usecases.register_enterprise(tx, body, caller)
        await _audit(tx, request, caller, "enterprise.register", "enterprise", out.enterprise_id)
        return out

    out = await _in_transaction(request, work)
    if not out.created:
        response.status_code = 200
    return out


@router.post("/enterprises/{enterprise_id}/facts", status_code=201, response_model=FactsOut, tags=["facts"])
async def record_enterprise_facts(
    enterprise_id: uuid.UUID, body: FactsIn, request: Request, caller: CallerDep
) -> FactsOut:
    async def work(tx: Transaction) -> FactsOut:
        await usecases.get_enterprise_row(tx, enterprise_id, caller)
        recorded = await usecases.record_facts(tx, enterprise_id, body.facts, caller.id)
        await _audit(tx, request, caller, "facts.record", "enterprise", enterprise_id)
        return FactsOut(recorded=recorded)

    return await _in_transaction(request, work)


@router.post(
    "/payee-accounts",
    status_code=201,
    response_model=PayeeAccountOut,
    tags=["accounts"],
    summary="Register a payee account (社保卡 account of a person, basic account of an enterprise)",
)
async def register_payee_account(
    body: PayeeAccountIn, request: Request, response: Response, caller: CallerDep
) -> PayeeAccountOut:
    async def work(tx: Transaction) -> PayeeAccountOut:
        out = await usecases.register_payee_account(
            tx, body, caller, correlation_id=_uuid_or_new(request.state.correlation_id)
        )
        await _audit(tx, request, caller, "payee_account.register", "payee_account", out.account_id)
        return out

    out = await _in_transaction(request, work)
    if not out.created:
        response.status_code = 200
    return out


@router.post(
    "/applications",
    status_code=201,
    response_model=ApplicationOut,
    tags=["applications"],
    summary="Submit an application (retries with the same Idempotency-Key return the original)",
)
async def submit_application(
    body: ApplicationIn,
    request: Request,
    response: Response,
    caller: CallerDep,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$")
    ] = None,
) -> ApplicationOut:
    correlation_id = _uuid_or_new(request.state.correlation_id)

    async def work(tx: Transaction) -> ApplicationOut:
        app_id, created = await usecases.submit_application(
            tx, body, caller=caller, idempotency_key=idempotency_key, correlation_id=correlation_id
        )
        if created:
            await _audit(tx, request, caller, "application.submit", "application", app_id)
        else:
            response.status_code = 200
        return await queries.get_application(tx.conn, app_id, caller)

    out = await _in_transaction(request, work)
    response.headers["Location"] = f"/v1/applications/{out.application_id}"
    return out


@router.get(
    "/applications/{application_id}",
    response_model=ApplicationOut,
    tags=["applications"],
    summary="Status of an application with its timeline",
)
async def get_application(application_id: uuid.UUID, request: Request, caller: CallerDep) -> ApplicationOut:
    return await _in_transaction(request, lambda tx: queries.get_application(tx.conn, application_id, caller))


@router.get(
    "/applications",
    response_model=ApplicationPage,
    tags=["applications"],
    summary="Applications the caller submitted or whose jurisdiction it covers, newest first",
)
async def list_applications(
    request: Request,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(max_length=40)] = None,
    programme_id: Annotated[str | None, Query(max_length=80)] = None,
) -> ApplicationPage:
    return await _in_transaction(
        request,
        lambda tx: queries.list_applications(
            tx.conn, caller, limit=limit, cursor=cursor, status=status, programme_id=programme_id
        ),
    )


@router.post("/applications/{application_id}/withdraw", response_model=ApplicationOut, tags=["applications"])
async def withdraw_application(
    application_id: uuid.UUID, body: WithdrawIn, request: Request, caller: CallerDep
) -> ApplicationOut:
    async def work(tx: Transaction) -> ApplicationOut:
        await usecases.withdraw_application(tx, application_id, body.reason, caller.id, uuid.uuid4())
        await _audit(tx, request, caller, "application.withdraw", "application", application_id)
        return await queries.get_application(tx.conn, application_id, caller)

    return await _in_transaction(request, work)


@router.post(
    "/applications/{application_id}/attachments",
    status_code=201,
    response_model=AttachmentOut,
    tags=["applications"],
    summary="Record the metadata of a supporting document (the file stays with the caller)",
)
async def add_attachment(
    application_id: uuid.UUID, body: AttachmentIn, request: Request, caller: CallerDep
) -> AttachmentOut:
    async def work(tx: Transaction) -> AttachmentOut:
        await queries.get_application(tx.conn, application_id, caller)
        out = await usecases.add_attachment(tx, application_id, body, caller.id)
        await _audit(tx, request, caller, "attachment.add", "application", application_id)
        return out

    return await _in_transaction(request, work)


def _uuid_or_new(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        return uuid.uuid4()

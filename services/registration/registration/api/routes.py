"""HTTP routes of the registration API: thin adapters from requests to use cases."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from subsidy_runtime.outbox import Transaction
from subsidy_runtime.problems import FieldError, Problem, validation_problem
from subsidy_runtime.service import ServiceRuntime

from .. import queries, usecases
from ..domain.errors import Conflict, DuplicateApplication, InvalidField, NotFound
from .auth import Caller, authenticate
from .schemas import (
    ApplicationIn,
    ApplicationOut,
    ApplicationPage,
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
CallerDep = Annotated[Caller, Depends(authenticate)]


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
        raise Problem(404, "not-found", "Not found", f"{exc.what} {exc.ident} not found", "资源不存在") from exc
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


@router.post(
    "/persons",
    status_code=201,
    response_model=PersonOut,
    tags=["persons"],
    summary="Register a person (deduplicated on the resident ID number)",
)
async def register_person(body: PersonIn, request: Request, response: Response, caller: CallerDep) -> PersonOut:
    out = await _in_transaction(request, lambda tx: usecases.register_person(tx, body, caller.integration_id))
    if not out.created:
        response.status_code = 200
    return out


@router.get("/persons/{person_id}", response_model=PersonOut, tags=["persons"])
async def get_person(person_id: uuid.UUID, request: Request, caller: CallerDep) -> PersonOut:
    return await _in_transaction(request, lambda tx: usecases.get_person(tx, person_id))


@router.post("/persons/{person_id}/facts", status_code=201, response_model=FactsOut, tags=["facts"])
async def record_person_facts(person_id: uuid.UUID, body: FactsIn, request: Request, caller: CallerDep) -> FactsOut:
    async def work(tx: Transaction) -> FactsOut:
        await usecases.get_person(tx, person_id)
        return FactsOut(recorded=await usecases.record_facts(tx, person_id, body.facts, caller.integration_id))

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
    out = await _in_transaction(request, lambda tx: usecases.register_enterprise(tx, body, caller.integration_id))
    if not out.created:
        response.status_code = 200
    return out


@router.post("/enterprises/{enterprise_id}/facts", status_code=201, response_model=FactsOut, tags=["facts"])
async def record_enterprise_facts(
    enterprise_id: uuid.UUID, body: FactsIn, request: Request, caller: CallerDep
) -> FactsOut:
    return await _in_transaction(request, lambda tx: _record_facts(tx, enterprise_id, body, caller.integration_id))


async def _record_facts(tx: Transaction, subject_id: uuid.UUID, body: FactsIn, integration_id: str) -> FactsOut:
    return FactsOut(recorded=await usecases.record_facts(tx, subject_id, body.facts, integration_id))


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
    out = await _in_transaction(request, lambda tx: usecases.register_payee_account(tx, body, caller.integration_id))
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
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)] = None,
) -> ApplicationOut:
    correlation_id = uuid.UUID(request.state.correlation_id) if _is_uuid(request.state.correlation_id) else uuid.uuid4()

    async def work(tx: Transaction) -> ApplicationOut:
        app_id, created = await usecases.submit_application(
            tx,
            body,
            integration_id=caller.integration_id,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
        )
        if not created:
            response.status_code = 200
        return await queries.get_application(tx.conn, app_id, caller.integration_id)

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
    return await _in_transaction(
        request, lambda tx: queries.get_application(tx.conn, application_id, caller.integration_id)
    )


@router.get("/applications", response_model=ApplicationPage, tags=["applications"])
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
            tx.conn, caller.integration_id, limit=limit, cursor=cursor, status=status, programme_id=programme_id
        ),
    )


@router.post("/applications/{application_id}/withdraw", response_model=ApplicationOut, tags=["applications"])
async def withdraw_application(
    application_id: uuid.UUID, body: WithdrawIn, request: Request, caller: CallerDep
) -> ApplicationOut:
    async def work(tx: Transaction) -> ApplicationOut:
        await usecases.withdraw_application(tx, application_id, body.reason, caller.integration_id, uuid.uuid4())
        return await queries.get_application(tx.conn, application_id, caller.integration_id)

    return await _in_transaction(request, work)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False

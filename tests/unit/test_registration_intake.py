"""Bulk intake without servers: per-record validation (the HTTP API's models and rules, fields named inside the
record), matching within a batch, and the application-submitted events it writes (checked against the contract)."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.registration_import import intake_records
from registration import intake
from registration.domain import identity
from registration.domain.errors import InvalidField
from subsidy_contracts.intake import IntakeStatus
from subsidy_contracts.registration import ApplicationSubmitted, PayeeAccountRegistered
from subsidy_contracts.topics import PAYEE_ACCOUNTS
from subsidy_runtime.auth import IntegrationRegistry
from subsidy_runtime.outbox import event_headers

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = IntegrationRegistry.from_file(ROOT / "deploy" / "local" / "integrations.yaml")
SX = next(i for i in REGISTRY if i.id == "sx-provincial-platform")
TAIYUAN = next(i for i in REGISTRY if i.id == "taiyuan-city")
HUNAN = next(i for i in REGISTRY if i.id == "hn-provincial-platform")


def record(i: int = 0, seed: int = 11) -> dict[str, Any]:
    return copy.deepcopy(list(intake_records(i + 1, seed=seed, units=1))[i])


def refused_fields(raw: Any, caller: Any = SX) -> dict[str, str]:
    outcome = intake.prepare(raw, caller).outcome
    assert isinstance(outcome, intake.RecordResult), "the record was accepted"
    assert outcome.status is IntakeStatus.REJECTED
    assert all(e.reason and e.reason_zh for e in outcome.errors)
    return {e.field: e.reason for e in outcome.errors}


def test_a_valid_record_is_prepared_with_its_facts_pointing_at_the_record_s_person_and_enterprise() -> None:
    prepared = intake.prepare(record(), SX).outcome
    assert isinstance(prepared, intake.Prepared)
    subjects = {f.subject_id for f in prepared.application.facts}
    assert subjects == {prepared.person_id, prepared.enterprise_id}
    assert prepared.application.beneficiary_person_id == prepared.person_id
    assert prepared.application.applicant.id == prepared.enterprise_id
    assert prepared.jurisdiction.startswith("1401")


def test_wrong_check_digit_is_refused_with_the_http_api_s_reason() -> None:
    raw = record()
    number = raw["person"]["id_number"]
    raw["person"]["id_number"] = number[:-1] + ("1" if number[-1] == "0" else "0")
    with pytest.raises(InvalidField) as http_path:
        identity.parse_resident_id(raw["person"]["id_number"])
    assert refused_fields(raw) == {"person.id_number": http_path.value.reason_en}


@pytest.mark.parametrize(
    ("change", "field_name"),
    [
        (lambda r: r["person"].update(nickname="小明"), "person.nickname"),  # unknown fields refused, as over HTTP
        (lambda r: r["person"].update(mobile="12345"), "person.mobile"),
        (lambda r: r["enterprise"].update(credit_code="91140105MA0L0ABCD1"), "enterprise.credit_code"),
        (lambda r: r["account"].update(holder_name="别人"), "account.holder_name"),
        (lambda r: r["account"].update(kind="social_security_card"), "account.kind"),
        (lambda r: r["account"].update(bank_code="123"), "account.bank_code"),
        (
            lambda r: r["application"].update(period={"start": "2022-09-01", "end": "2022-03-01"}),
            "application.period.end",
        ),
        (lambda r: r["application"].update(programme_id="Not A Programme"), "application.programme_id"),
        (lambda r: r["application"]["facts"][0].update(months="many"), "application.facts.0.internship.months"),
        (lambda r: r["application"].update(jurisdiction="430102"), "application.jurisdiction"),
        (lambda r: r.pop("enterprise"), "enterprise"),
        (lambda r: r.pop("source_reference"), "source_reference"),
        (lambda r: r["application"].update(applicant="someone"), "application.applicant"),
    ],
)
def test_bad_fields_are_named_inside_the_record(change: Any, field_name: str) -> None:
    raw = record()
    change(raw)
    assert field_name in refused_fields(raw)


def test_a_city_integration_may_not_file_applications_of_another_city() -> None:
    raw = record()
    assert isinstance(intake.prepare(raw, TAIYUAN).outcome, intake.Prepared)
    assert "enterprise.region_code" in refused_fields(raw, HUNAN)


def test_a_fact_about_a_person_the_record_does_not_carry_is_refused() -> None:
    raw = record()
    raw["application"].update(beneficiary=None)
    raw.pop("person")
    assert "application.facts.0.subject_id" in refused_fields(raw)


def test_nul_characters_are_refused_when_the_source_holds_one() -> None:
    raw = record()
    raw["person"]["name"] = "王\x00伟"
    line = orjson.dumps(raw)
    assert intake.may_hold_nul(line)
    assert "(record)" in refused_fields(orjson.loads(line))
    assert not intake.may_hold_nul(orjson.dumps(record()))


def _accept_all(raws: list[dict[str, Any]]) -> tuple[list[intake.RecordResult], intake._Writes]:
    known, writes, now = intake._Known(), intake._Writes(), datetime.now(UTC)
    results = []
    for raw in raws:
        outcome = intake.prepare(raw, SX).outcome
        assert isinstance(outcome, intake.Prepared)
        results.append(intake._accept(outcome, known, writes, SX, now))
    return results, writes


def test_within_a_batch_persons_enterprises_and_accounts_are_registered_once_and_duplicates_refused() -> None:
    first, second = record(0), record(1)  # two interns of the same host unit
    twin = copy.deepcopy(first) | {"source_reference": "twin"}
    renamed = copy.deepcopy(second) | {"source_reference": "renamed"}
    renamed["person"]["name"] = "另一个名字"
    results, writes = _accept_all([first, second, twin, renamed])
    assert [r.status for r in results] == [
        IntakeStatus.ACCEPTED,
        IntakeStatus.ACCEPTED,
        IntakeStatus.DUPLICATE_APPLICATION,
        IntakeStatus.REJECTED,
    ]
    assert results[2].application_id == results[0].application_id
    assert results[3].errors[0].field == "person.name"
    assert len(writes.persons) == 2
    assert len(writes.enterprises) == 1
    assert len(writes.person_links) == 2
    assert len(writes.enterprise_links) == 1  # one link row per person or enterprise, not per record
    assert len(writes.accounts) == 1
    assert len(writes.applications) == 2
    assert len(writes.outbox) == 2


def test_application_submitted_events_match_the_contract_and_carry_earlier_facts_of_their_subjects() -> None:
    results, writes = _accept_all([record(0), record(1)])
    events = [ApplicationSubmitted.model_validate_json(r.value) for r in writes.outbox]
    for event, outbox in zip(events, writes.outbox, strict=True):
        # The hand-assembled JSON is exactly the contract's own serialisation of the event.
        assert orjson.loads(outbox.value) == event.model_dump(mode="json")
        assert outbox.key == event.subject_key
        assert outbox.headers == event_headers(event)
    first, second = events
    assert first.payload.application_id == results[0].application_id
    assert len(first.payload.facts) == 3
    # The second intern's host unit already has the first cohort fact (as the HTTP path reads stored facts).
    assert len(second.payload.facts) == 4
    assert second.payload.payee.account_id == first.payload.payee.account_id
    assert first.payload.applicant.enterprise is not None
    assert first.payload.beneficiary is not None
    assert first.payload.beneficiary.id_number_masked.count("*") == 10
    assert uuid.UUID(str(first.payload.application_id))


def test_each_new_payee_account_is_announced_once_as_the_contract_serialises_it() -> None:
    first, second = record(0), record(1)  # two interns of the same host unit: one enterprise account
    _, writes = _accept_all([first, second])
    assert len(writes.accounts) == 1
    (outbox,) = writes.account_outbox
    event = PayeeAccountRegistered.model_validate_json(outbox.value)
    assert orjson.loads(outbox.value) == event.model_dump(mode="json")
    assert outbox.headers == event_headers(event)
    assert (outbox.topic, outbox.key, outbox.event_type) == (PAYEE_ACCOUNTS.name, event.subject_key, event.event_type)
    row = dict(zip(intake.ACCOUNT_COLUMNS, writes.accounts[0], strict=True))
    assert event.subject_key == str(row["owner_id"]) == str(event.payload.owner_id)
    account = event.payload.account
    assert (account.account_id, account.kind.value, account.account_number) == (
        row["id"],
        row["kind"],
        row["account_number"],
    )
    submitted = ApplicationSubmitted.model_validate_json(writes.outbox[0].value)
    assert submitted.payload.payee == account
    assert event.correlation_id == submitted.correlation_id  # the same business flow as the application
    # Staged apart from the applications' events: flush writes them only once the accounts are known to be new.
    assert [r.topic for r in writes.outbox] == ["registration.applications.v1"] * 2


def test_events_of_a_person_applicant_with_guardian_proxy_and_contacts_match_the_contract() -> None:
    from stdnum import luhn

    from registration.usecases import _contacts

    raw = record(0)
    person = raw["person"] | {"guardian_name": "王建国", "guardian_mobile": "13900000001", "email": "a@example.cn"}
    card = "622848001234567890"
    raw = {
        "source_reference": "person-applicant",
        "person": person,
        "account": {
            "kind": "social_security_card",
            "account_number": card + luhn.calc_check_digit(card),
            "holder_name": person["name"],
            "bank_code": "102161000017",
            "bank_name": "中国工商银行太原分行",
        },
        "application": {
            "programme_id": raw["application"]["programme_id"],
            "applicant": "person",
            "period": raw["application"]["period"],
            "contacts": [{"role": "applicant", "name": "联系人", "mobile": "13700000002", "email": "c@example.cn"}],
            "proxy": {
                "name": "代办人",
                "id_number": record(1)["person"]["id_number"],
                "relationship": "子女",
                "authorisation_reference": "SQ-2026-001",
                "mobile": "13600000003",
            },
            "commitment": True,
        },
    }
    outcome = intake.prepare(raw, SX).outcome
    assert isinstance(outcome, intake.Prepared), outcome
    results, writes = _accept_all([raw])
    assert [r.status for r in results] == [IntakeStatus.ACCEPTED]
    (outbox,) = writes.outbox
    event = ApplicationSubmitted.model_validate_json(outbox.value)
    assert orjson.loads(outbox.value) == event.model_dump(mode="json")
    assert outbox.headers == event_headers(event)
    payload = event.payload
    assert payload.proxy is not None
    assert payload.proxy.id_number_masked.count("*") == 10
    assert payload.applicant.person is not None
    assert payload.beneficiary is None
    assert [c.role.value for c in payload.contacts] == ["applicant", "guardian", "proxy", "applicant"]
    # The same contacts as the HTTP path lists (and the application row stores).
    person_row = next(iter(writes.persons))
    row = dict(zip(intake.PERSON_COLUMNS, person_row, strict=True))
    http = [c.model_dump(mode="json") for c in _contacts(outcome.application, row, None)]
    assert [c.model_dump(mode="json") for c in payload.contacts] == http
    assert orjson.loads(writes.applications[0][intake.APPLICATION_COLUMNS.index("contacts")]) == http


def test_new_ids_are_distinct_version_4_uuids() -> None:
    ids = [i for _ in range(5000) for i in intake.new_ids(7)]
    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {4}
    assert {i.variant for i in ids} == {uuid.RFC_4122}
    assert all(isinstance(i, uuid.UUID) and uuid.UUID(str(i)) == i for i in ids[:100])

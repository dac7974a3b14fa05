"""The event contracts against the JSON Schemas committed under docs/events, and the compatibility rules.

- the committed files are exactly what `python -m subsidy_contracts.schemas write` produces (a); when this fails
  after an intentional, additive change, regenerate and commit the files;
- the current models make no breaking change relative to the committed schemas (b), nor to any version of them
  committed before (so regenerating and committing does not launder a breaking change): the failure says what
  broke, and a breaking change needs a new event type or schema version instead;
- `breaking_changes` itself, rule by rule, on small hand-written schemas (c);
- money travels as a decimal string, never a float (d).
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import jsonschema  # type: ignore[import-untyped]  # (no types-jsonschema in the dev group)
import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from subsidy_contracts import Money, schemas
from subsidy_contracts.deadletter import DeadLetter
from subsidy_contracts.payments import PaymentInstructionCreated, PaymentInstructionCreatedPayload, PaymentStatus
from subsidy_contracts.topics import EVENT_CLASSES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EVENTS = DOCS / schemas.EVENTS_DIR
REGENERATE = "python -m subsidy_contracts.schemas write  (or: python docs/tools/generate.py)"

# Historical versions a schema may break, by file name → commit ids. Only for a version that was committed by
# mistake and never produced in any environment; everything else needs a new schema version.
HISTORY_EXEMPT: dict[str, frozenset[str]] = {}

GENERATED = schemas.expected_files()
COMMITTED_SCHEMAS = sorted(p.name for p in EVENTS.glob("*.json")) if EVENTS.is_dir() else []


# ------------------------------------------------------------------------------- (a) committed == generated


@pytest.mark.parametrize("rel", sorted(GENERATED))
def test_committed_file_is_current(rel: str) -> None:
    path = DOCS / rel
    assert path.is_file(), f"docs/{rel} is missing: run `{REGENERATE}` and commit it"
    committed = path.read_text(encoding="utf-8")
    if committed != GENERATED[rel]:
        breaking = []
        if rel.endswith(".json"):
            breaking = schemas.breaking_changes(json.loads(committed), json.loads(GENERATED[rel]))
        pytest.fail(
            f"docs/{rel} is not what the contracts generate. If the change is intentional and additive, run "
            f"`{REGENERATE}` and commit the result."
            + (" It is NOT additive:\n  " + "\n  ".join(breaking) if breaking else ""),
            pytrace=False,
        )


def test_generation_is_deterministic() -> None:
    assert schemas.expected_files() == GENERATED
    for rel, text in GENERATED.items():
        assert text.endswith("\n"), rel
        assert not text.endswith("\n\n"), rel
        if rel.endswith(".json"):
            assert schemas.render_json(json.loads(text)) == text, f"{rel} is not pretty-printed with sorted keys"


def test_every_event_class_and_record_contract_has_a_schema_file() -> None:
    names = {f"{t}.v{cls.version()}.json" for t, cls in EVENT_CLASSES.items()} | {
        "dead-letter.v1.json",
        "intake-batch.v1.json",
    }
    assert {rel.removeprefix("events/") for rel in GENERATED if rel.endswith(".json")} == names
    readme = GENERATED["events/README.md"]
    for name in names:
        assert f"({name})" in readme


def test_write_and_check_round_trip(tmp_path: Path) -> None:
    assert schemas.check(tmp_path)  # empty: everything missing
    assert sorted(schemas.write(tmp_path)) == sorted(GENERATED)
    assert schemas.check(tmp_path) == []
    assert schemas.write(tmp_path) == []  # nothing changes the second time
    (tmp_path / "events" / "retired-event.v1.json").write_text("{}\n")
    assert schemas.check(tmp_path) == ["events/retired-event.v1.json: no longer generated (its event class is gone)"]
    assert schemas.write(tmp_path) == ["events/retired-event.v1.json"]
    assert not (tmp_path / "events" / "retired-event.v1.json").exists()


def test_check_names_breaking_changes_of_an_out_of_date_file(tmp_path: Path) -> None:
    schemas.write(tmp_path)
    path = tmp_path / "events" / "payments.instruction-created.v1.json"
    doc = json.loads(path.read_text())
    doc["$defs"]["PaymentInstructionCreatedPayload"]["properties"]["legacy_reference"] = {"type": "string"}
    path.write_text(schemas.render_json(doc))
    assert schemas.check(tmp_path) == [
        "events/payments.instruction-created.v1.json: out of date",
        "events/payments.instruction-created.v1.json: BREAKING $.payload.legacy_reference: property removed",
    ]
    assert schemas.main(["check", "--docs", str(tmp_path)]) == 1
    assert schemas.main(["write", "--docs", str(tmp_path)]) == 0
    assert schemas.main(["check", "--docs", str(tmp_path)]) == 0


# ----------------------------------------------------------------------- (b) no breaking change to committed


def _current_schema(name: str) -> dict[str, Any]:
    current = schemas.event_schemas()
    if name not in current:
        pytest.fail(
            f"docs/events/{name} is committed but no contract produces it any more: consumers may still read it. "
            "Keep the event class (deprecated) until no consumer reads it; remove the file only then.",
            pytrace=False,
        )
    return current[name]


@pytest.mark.parametrize("name", COMMITTED_SCHEMAS)
def test_no_breaking_change_to_committed_schema(name: str) -> None:
    committed = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    breaking = schemas.breaking_changes(committed, _current_schema(name))
    assert not breaking, (
        f"the contract breaks docs/events/{name}; consumers of this schema version cannot absorb:\n  "
        + "\n  ".join(breaking)
        + "\nMake the change additive, or publish a new event type or schema version."
    )


def _git(*args: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    done = subprocess.run([git, *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else None


@pytest.mark.parametrize("name", COMMITTED_SCHEMAS)
def test_no_breaking_change_to_any_earlier_committed_version(name: str) -> None:
    log = _git("log", "--format=%H", "--", f"docs/events/{name}")
    if log is None:
        pytest.skip("not in a git work tree")
    current = _current_schema(name)
    failures = []
    for commit in log.split():
        if commit in HISTORY_EXEMPT.get(name, frozenset()):
            continue
        text = _git("show", f"{commit}:docs/events/{name}")
        if text is None:
            continue  # the file was deleted in this commit
        failures += [f"{commit[:10]}: {b}" for b in schemas.breaking_changes(json.loads(text), current)]
    assert not failures, (
        f"the contract breaks an earlier committed version of docs/events/{name}:\n  "
        + "\n  ".join(failures)
        + "\nRegenerating does not make a breaking change compatible: publish a new schema version."
    )


# -------------------------------------------------------------------------------------- (c) the rules


def obj(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required), **extra}


STR = {"type": "string"}
INT = {"type": "integer"}
NULL = {"type": "null"}


def optional(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, NULL], "default": None}


class TestPropertyRemoved:
    def test_removed_property_breaks(self) -> None:
        old = obj({"a": STR, "b": STR}, ("a",))
        assert schemas.breaking_changes(old, obj({"a": STR}, ("a",))) == ["$.b: property removed"]

    def test_removed_required_property_breaks(self) -> None:
        old = obj({"a": STR, "b": STR}, ("a", "b"))
        assert schemas.breaking_changes(old, obj({"a": STR}, ("a",))) == ["$.b: property removed"]

    def test_added_optional_property_is_fine(self) -> None:
        old = obj({"a": STR}, ("a",))
        assert schemas.breaking_changes(old, obj({"a": STR, "b": optional(STR)}, ("a",))) == []

    def test_same_schema_is_fine(self) -> None:
        old = obj({"a": STR, "b": optional(INT)}, ("a",))
        assert schemas.breaking_changes(old, copy.deepcopy(old)) == []


class TestTypeChanged:
    def test_string_to_number_breaks(self) -> None:
        old = obj({"amount": {"type": "string", "pattern": r"^\d+\.\d\d$"}}, ("amount",))
        new = obj({"amount": {"type": "number"}}, ("amount",))
        assert schemas.breaking_changes(old, new) == ["$.amount: type changed from string to number"]

    def test_integer_to_number_breaks(self) -> None:
        assert schemas.breaking_changes(obj({"n": INT}), obj({"n": {"type": "number"}})) == [
            "$.n: type changed from integer to number"
        ]

    def test_object_to_string_breaks(self) -> None:
        old = obj({"period": obj({"start": STR}, ("start",))})
        assert schemas.breaking_changes(old, obj({"period": STR})) == ["$.period: type changed from object to string"]

    def test_any_to_typed_breaks(self) -> None:
        assert schemas.breaking_changes(obj({"x": {}}), obj({"x": STR})) == ["$.x: type restricted from any to string"]

    def test_typed_to_any_is_fine(self) -> None:
        assert schemas.breaking_changes(obj({"x": STR}), obj({"x": {"description": "anything"}})) == []

    def test_format_pattern_length_and_description_changes_are_fine(self) -> None:
        old = obj({"id": {"type": "string", "format": "uuid", "pattern": "^[0-9a-f-]+$", "maxLength": 36}})
        new = obj(
            {
                "id": {
                    "type": "string",
                    "format": "uri",
                    "pattern": "^.+$",
                    "maxLength": 10,
                    "title": "Id",
                    "description": "now documented",
                    "minLength": 1,
                }
            }
        )
        assert schemas.breaking_changes(old, new) == []

    def test_type_list_widened_is_fine_and_narrowed_breaks(self) -> None:
        narrow = obj({"x": {"type": "string"}})
        wide = obj({"x": {"type": ["string", "null"]}})
        assert schemas.breaking_changes(narrow, wide) == []
        assert schemas.breaking_changes(wide, narrow) == ["$.x: type changed from null|string to string"]

    def test_nested_type_change_has_the_full_path(self) -> None:
        old = obj({"payload": obj({"applicant": obj({"name": STR}, ("name",))}, ("applicant",))}, ("payload",))
        new = copy.deepcopy(old)
        new["properties"]["payload"]["properties"]["applicant"]["properties"]["name"] = {"type": "boolean"}
        assert schemas.breaking_changes(old, new) == ["$.payload.applicant.name: type changed from string to boolean"]


class TestEnum:
    def test_enum_value_removed_breaks(self) -> None:
        old = obj({"s": {"type": "string", "enum": ["a", "b", "c"]}})
        new = obj({"s": {"type": "string", "enum": ["a", "c"]}})
        assert schemas.breaking_changes(old, new) == ['$.s: enum values removed: "b"']

    def test_enum_value_added_is_fine(self) -> None:
        old = obj({"s": {"type": "string", "enum": ["a", "b"]}})
        new = obj({"s": {"type": "string", "enum": ["a", "b", "c"]}})
        assert schemas.breaking_changes(old, new) == []

    def test_enum_dropped_is_fine_and_introduced_breaks(self) -> None:
        free = obj({"s": STR})
        closed = obj({"s": {"type": "string", "enum": ["a"]}})
        assert schemas.breaking_changes(closed, free) == []
        assert schemas.breaking_changes(free, closed) == ['$.s: values restricted to "a"']

    def test_enum_values_keep_json_types_apart(self) -> None:
        old = obj({"v": {"enum": [1, True]}})
        assert schemas.breaking_changes(old, obj({"v": {"enum": [1]}})) == ["$.v: enum values removed: true"]


class TestConst:
    def test_const_changed_breaks(self) -> None:
        old = obj({"event_type": {"type": "string", "const": "x.created"}})
        new = obj({"event_type": {"type": "string", "const": "x.made"}})
        assert schemas.breaking_changes(old, new) == ['$.event_type: const changed from "x.created" to "x.made"']

    def test_const_kept_is_fine(self) -> None:
        old = obj({"v": {"const": 1, "type": "integer", "default": 1}})
        assert schemas.breaking_changes(old, obj({"v": {"const": 1, "type": "integer", "title": "V"}})) == []

    def test_const_widened_to_enum_is_fine(self) -> None:
        old = obj({"v": {"const": "a", "type": "string"}})
        assert schemas.breaking_changes(old, obj({"v": {"enum": ["a", "b"], "type": "string"}})) == []

    def test_const_of_another_type_breaks(self) -> None:
        old = obj({"v": {"const": 1}})
        assert schemas.breaking_changes(old, obj({"v": {"const": "1"}})) == ['$.v: const changed from 1 to "1"']
        typed = obj({"v": {"const": 1, "type": "integer"}})
        assert schemas.breaking_changes(typed, obj({"v": {"const": "1", "type": "string"}})) == [
            "$.v: type changed from integer to string"
        ]


class TestRequired:
    def test_optional_made_required_breaks(self) -> None:
        old = obj({"a": STR, "b": STR}, ("a",))
        new = obj({"a": STR, "b": STR}, ("a", "b"))
        assert schemas.breaking_changes(old, new) == ["$.b: optional property made required"]

    def test_required_made_optional_is_fine(self) -> None:
        old = obj({"a": STR, "b": STR}, ("a", "b"))
        assert schemas.breaking_changes(old, obj({"a": STR, "b": STR}, ("a",))) == []

    def test_new_required_property_breaks(self) -> None:
        old = obj({"a": STR}, ("a",))
        new = obj({"a": STR, "c": INT}, ("a", "c"))
        assert schemas.breaking_changes(old, new) == ["$.c: new required property added"]

    def test_new_optional_property_is_fine(self) -> None:
        old = obj({"a": STR}, ("a",))
        assert schemas.breaking_changes(old, obj({"a": STR, "c": INT}, ("a",))) == []


class TestUnions:
    def test_any_of_member_removed_breaks(self) -> None:
        old = obj({"v": {"anyOf": [STR, INT, {"type": "boolean"}]}})
        new = obj({"v": {"anyOf": [STR, {"type": "boolean"}]}})
        assert schemas.breaking_changes(old, new) == ["$.v: union member removed: integer"]

    def test_any_of_member_added_or_reordered_is_fine(self) -> None:
        old = obj({"v": {"anyOf": [STR, INT]}})
        assert schemas.breaking_changes(old, obj({"v": {"anyOf": [INT, {"type": "boolean"}, STR]}})) == []

    def test_one_of_member_removed_breaks(self) -> None:
        old = obj({"v": {"oneOf": [STR, INT]}})
        assert schemas.breaking_changes(old, obj({"v": {"oneOf": [STR]}})) == ["$.v: union member removed: integer"]

    def test_one_of_member_added_is_fine(self) -> None:
        old = obj({"v": {"oneOf": [STR]}})
        assert schemas.breaking_changes(old, obj({"v": {"oneOf": [STR, INT]}})) == []

    def test_single_type_widened_to_union_is_fine(self) -> None:
        assert schemas.breaking_changes(obj({"v": STR}), obj({"v": {"anyOf": [STR, INT]}})) == []

    def test_single_type_replaced_by_union_without_it_breaks(self) -> None:
        assert schemas.breaking_changes(obj({"v": STR}), obj({"v": {"anyOf": [INT, NULL]}})) == [
            "$.v: type changed from string to integer | null"
        ]

    def test_change_inside_a_member_is_reported_with_the_member(self) -> None:
        a = obj({"a": STR}, ("a",), title="A")
        b = obj({"b": STR}, ("b",), title="B")
        old = obj({"v": {"anyOf": [a, b]}})
        b2 = obj({"b": INT}, ("b",), title="B")
        assert schemas.breaking_changes(old, obj({"v": {"anyOf": [a, b2]}})) == [
            "$.v<B>.b: type changed from string to integer"
        ]


class TestOptional:
    def test_null_removed_breaks(self) -> None:
        old = obj({"note": optional(STR)})
        assert schemas.breaking_changes(old, obj({"note": STR})) == ["$.note: union member removed: null"]

    def test_made_optional_is_fine(self) -> None:
        old = obj({"note": STR}, ("note",))
        assert schemas.breaking_changes(old, obj({"note": optional(STR)})) == []

    def test_optional_value_type_changed_breaks(self) -> None:
        old = obj({"n": optional(STR)})
        assert schemas.breaking_changes(old, obj({"n": optional(INT)})) == ["$.n: type changed from string to integer"]

    def test_optional_object_change_is_reported_inside_it(self) -> None:
        person = obj({"name": STR, "age": INT}, ("name",))
        old = obj({"beneficiary": optional(person)})
        new = obj({"beneficiary": optional(obj({"name": STR}, ("name",)))})
        assert schemas.breaking_changes(old, new) == ["$.beneficiary.age: property removed"]


class TestArrays:
    def test_items_type_changed_breaks(self) -> None:
        old = obj({"tags": {"type": "array", "items": STR}})
        new = obj({"tags": {"type": "array", "items": INT}})
        assert schemas.breaking_changes(old, new) == ["$.tags[*]: type changed from string to integer"]

    def test_items_constraints_changed_is_fine(self) -> None:
        old = obj({"tags": {"type": "array", "items": STR}})
        new = obj({"tags": {"type": "array", "items": {"type": "string", "maxLength": 5}, "maxItems": 3}})
        assert schemas.breaking_changes(old, new) == []

    def test_items_typed_where_any_was_allowed_breaks(self) -> None:
        old = obj({"tags": {"type": "array"}})
        assert schemas.breaking_changes(old, obj({"tags": {"type": "array", "items": STR}})) == [
            "$.tags[*]: type restricted from any to string"
        ]

    def test_change_inside_array_of_objects(self) -> None:
        old = obj({"rows": {"type": "array", "items": obj({"n": INT, "m": INT}, ("n",))}})
        new = obj({"rows": {"type": "array", "items": obj({"n": INT, "m": INT}, ("n", "m"))}})
        assert schemas.breaking_changes(old, new) == ["$.rows[*].m: optional property made required"]

    def test_tuple_item_changed_breaks(self) -> None:
        old = obj({"pair": {"type": "array", "prefixItems": [STR, INT]}})
        new = obj({"pair": {"type": "array", "prefixItems": [STR, STR]}})
        assert schemas.breaking_changes(old, new) == ["$.pair[1]: type changed from integer to string"]


class TestAdditionalProperties:
    def test_open_to_closed_breaks(self) -> None:
        assert schemas.breaking_changes(obj({"a": STR}), obj({"a": STR}, additionalProperties=False)) == [
            "$.*: additionalProperties tightened: extra properties no longer allowed"
        ]

    def test_open_to_schema_breaks(self) -> None:
        assert schemas.breaking_changes({"type": "object"}, {"type": "object", "additionalProperties": STR}) == [
            "$.*: additionalProperties tightened: extra properties now constrained by a schema"
        ]

    def test_value_type_changed_breaks(self) -> None:
        old = obj({"values": {"type": "object", "additionalProperties": STR}})
        new = obj({"values": {"type": "object", "additionalProperties": INT}})
        assert schemas.breaking_changes(old, new) == [
            "$.values.*: type changed from string to integer (additionalProperties tightened)"
        ]

    def test_loosened_is_fine(self) -> None:
        closed = obj({"a": STR}, additionalProperties=False)
        assert schemas.breaking_changes(closed, obj({"a": STR})) == []
        assert schemas.breaking_changes(closed, obj({"a": STR}, additionalProperties=STR)) == []
        typed = {"type": "object", "additionalProperties": STR}
        assert schemas.breaking_changes(typed, {"type": "object", "additionalProperties": True}) == []
        assert schemas.breaking_changes(typed, {"type": "object"}) == []


class TestRefs:
    @staticmethod
    def doc(person: dict[str, Any], name: str = "Person") -> dict[str, Any]:
        return {
            **obj(
                {"applicant": {"$ref": f"#/$defs/{name}"}, "proxy": optional({"$ref": f"#/$defs/{name}"})},
                ("applicant",),
            ),
            "$defs": {name: {**person, "title": name}},
        }

    def test_change_behind_a_ref_is_reported_where_it_is_used(self) -> None:
        old = self.doc(obj({"name": STR, "mobile": STR}, ("name",)))
        new = self.doc(obj({"name": STR}, ("name",)))
        assert schemas.breaking_changes(old, new) == [
            "$.applicant.mobile: property removed",
            "$.proxy.mobile: property removed",
        ]

    def test_renamed_definition_with_the_same_shape_is_fine(self) -> None:
        person = obj({"name": STR}, ("name",))
        assert schemas.breaking_changes(self.doc(person), self.doc(person, name="PersonSnapshot")) == []

    def test_ref_replaced_by_inline_copy_is_fine(self) -> None:
        person = obj({"name": STR}, ("name",))
        old = self.doc(person)
        new = obj({"applicant": person, "proxy": optional(person)}, ("applicant",))
        assert schemas.breaking_changes(old, new) == []

    def test_ref_with_sibling_keywords_and_chains(self) -> None:
        old = {**obj({"p": {"$ref": "#/$defs/A", "description": "a"}}), "$defs": {"A": {"$ref": "#/$defs/B"}, "B": STR}}
        new = {**obj({"p": {"$ref": "#/$defs/A", "description": "b"}}), "$defs": {"A": {"$ref": "#/$defs/B"}, "B": INT}}
        assert schemas.breaking_changes(old, new) == ["$.p: type changed from string to integer"]

    def test_recursive_schema_terminates(self) -> None:
        def tree(label: dict[str, Any]) -> dict[str, Any]:
            node = obj(
                {
                    "label": label,
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                    "parent": optional({"$ref": "#/$defs/Node"}),
                }
            )
            return {"$ref": "#/$defs/Node", "$defs": {"Node": node}}

        assert schemas.breaking_changes(tree(STR), tree(STR)) == []
        assert schemas.breaking_changes(tree(STR), tree(INT)) == ["$.label: type changed from string to integer"]

    def test_remote_refs_are_refused(self) -> None:
        with pytest.raises(ValueError, match="only local"):
            schemas.breaking_changes(obj({"a": {"$ref": "https://example.org/a.json"}}), obj({"a": STR}))


class TestDiscriminatedUnions:
    @staticmethod
    def doc(*members: tuple[str, tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        defs = {
            name: {**obj({"kind": {"const": tag, "type": "string"}, **props}, ("kind",)), "title": name}
            for name, (tag, props) in members
        }
        union = {
            "oneOf": [{"$ref": f"#/$defs/{name}"} for name in defs],
            "discriminator": {
                "propertyName": "kind",
                "mapping": {tag: f"#/$defs/{name}" for name, (tag, _) in members},
            },
        }
        return {**obj({"facts": {"type": "array", "items": union}}), "$defs": defs}

    AWARD = ("Award", ("award", {"code": STR}))
    TITLE = ("Title", ("title", {"level": INT}))
    GRAD = ("Graduation", ("graduation", {"on": STR}))

    def test_member_removed_breaks(self) -> None:
        assert schemas.breaking_changes(self.doc(self.AWARD, self.TITLE), self.doc(self.AWARD)) == [
            '$.facts[*]: union member removed: kind="title" Title'
        ]

    def test_member_added_or_reordered_is_fine(self) -> None:
        old = self.doc(self.AWARD, self.TITLE)
        assert schemas.breaking_changes(old, self.doc(self.GRAD, self.TITLE, self.AWARD)) == []

    def test_change_in_a_member_is_reported_with_its_tag(self) -> None:
        old = self.doc(self.AWARD, self.TITLE)
        new = self.doc(self.AWARD, ("Title", ("title", {"level": STR})))
        assert schemas.breaking_changes(old, new) == [
            "$.facts[*][?(@.kind=='title')].level: type changed from integer to string"
        ]

    def test_member_renamed_but_same_tag_is_fine(self) -> None:
        old = self.doc(self.AWARD, self.TITLE)
        assert schemas.breaking_changes(old, self.doc(self.AWARD, ("ProfessionalTitle", self.TITLE[1]))) == []

    def test_tag_changed_breaks(self) -> None:
        old = self.doc(self.AWARD)
        assert schemas.breaking_changes(old, self.doc(("Award", ("prize", {"code": STR})))) == [
            '$.facts[*]: union member removed: kind="award" Award'
        ]

    def test_discriminator_property_changed_breaks(self) -> None:
        old = self.doc(self.AWARD)
        new = copy.deepcopy(old)
        new["properties"]["facts"]["items"]["discriminator"]["propertyName"] = "type"
        assert schemas.breaking_changes(old, new) == ["$.facts[*]: union discriminator changed from 'kind' to 'type'"]

    def test_asyncapi_string_discriminator_is_understood(self) -> None:
        old = self.doc(self.AWARD, self.TITLE)
        new = self.doc(self.AWARD)
        for d in (old, new):
            d["properties"]["facts"]["items"]["discriminator"] = "kind"
        assert schemas.breaking_changes(old, new) == ['$.facts[*]: union member removed: kind="title" Title']


class TestPydanticModels:
    """The rules applied to schemas pydantic generates, as the contracts' schemas are."""

    def test_adding_an_optional_field_is_fine(self) -> None:
        class V1(BaseModel):
            kind: Literal["a"] = "a"
            amount: Money

        class V2(BaseModel):
            kind: Literal["a"] = "a"
            amount: Money
            note: str | None = Field(default=None, max_length=10)
            tags: list[str] = Field(default_factory=list)

        assert schemas.breaking_changes(V1.model_json_schema(), V2.model_json_schema()) == []

    def test_money_as_float_breaks(self) -> None:
        class V1(BaseModel):
            amount: Money

        class V2(BaseModel):
            amount: float

        assert schemas.breaking_changes(V1.model_json_schema(), V2.model_json_schema()) == [
            "$.amount: type changed from string to number"
        ]

    def test_forbidding_extra_fields_breaks(self) -> None:
        class V1(BaseModel):
            model_config = ConfigDict(extra="ignore")
            a: int

        class V2(BaseModel):
            model_config = ConfigDict(extra="forbid")
            a: int

        assert schemas.breaking_changes(V1.model_json_schema(), V2.model_json_schema()) == [
            "$.*: additionalProperties tightened: extra properties no longer allowed"
        ]

    @pytest.mark.parametrize("name", sorted(schemas.event_schemas()))
    def test_every_contract_is_compatible_with_itself(self, name: str) -> None:
        schema = schemas.event_schemas()[name]
        assert schemas.breaking_changes(schema, copy.deepcopy(schema)) == []

    def test_a_breaking_edit_of_a_real_contract_is_found(self) -> None:
        old = schemas.event_schemas()["registration.application-submitted.v1.json"]
        new = copy.deepcopy(old)
        defs = new["$defs"]
        defs["Award"]["properties"]["code"] = {"type": "integer"}
        defs["Sex"]["enum"].remove("female")
        defs["ApplicationSubmittedPayload"]["required"].append("proxy")
        new["properties"]["causation_id"] = {"type": "string", "format": "uuid"}
        assert schemas.breaking_changes(old, new) == [
            "$.causation_id: union member removed: null",
            '$.payload.applicant.person.sex: enum values removed: "female"',
            '$.payload.beneficiary.sex: enum values removed: "female"',
            "$.payload.facts[*][?(@.kind=='award')].code: type changed from string to integer",
            "$.payload.proxy: optional property made required",
        ]


# --------------------------------------------------------------------------------------- (d) money on the wire


def _instruction(amount: Any) -> PaymentInstructionCreated:
    payload = PaymentInstructionCreatedPayload(
        end_to_end_id="D0000000000000000001-01",
        decision_id=uuid.uuid4(),
        instalment_number=1,
        application_id=uuid.uuid4(),
        applicant_id=uuid.uuid4(),
        programme_id="sx.internship-subsidy",
        fund_code="SX-EMP-2026",
        amount=amount,
        payee_account_masked="************1234",
        status=PaymentStatus.SCHEDULED,
        created_at=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
    )
    return PaymentInstructionCreated.create(
        payload, producer="payments", subject_key=str(payload.applicant_id), correlation_id=uuid.uuid4()
    )


def test_money_serialises_as_a_decimal_string() -> None:
    event = _instruction("12.30")
    assert event.payload.amount == Decimal("12.30")
    assert '"amount":"12.30"' in event.model_dump_json()
    assert event.model_dump(mode="json")["payload"]["amount"] == "12.30"
    assert _instruction(12).model_dump(mode="json")["payload"]["amount"] == "12.00"
    assert PaymentInstructionCreated.model_validate_json(event.model_dump_json()) == event


@pytest.mark.parametrize("amount", [12.3, 1128.0, "12.345", "abc", True])
def test_money_rejects_floats_and_sub_fen_amounts(amount: Any) -> None:
    with pytest.raises(ValidationError, match="amount"):
        _instruction(amount)


def test_wire_format_matches_the_committed_schema() -> None:
    event = json.loads(_instruction("1128.00").model_dump_json())
    schema = json.loads((EVENTS / "payments.instruction-created.v1.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    validator.validate(event)
    event["payload"]["amount"] = 1128.0
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(event)


def test_dead_letter_record_matches_the_committed_schema() -> None:
    record = DeadLetter(
        service="payments",
        consumer="payments.entitlements",
        failure="invalid",
        reason="payload.amount: bad",
        original_topic="eligibility.decisions.v1",
        original_partition=3,
        original_offset=42,
        original_headers={"event_type": "eligibility.entitlement-released"},
        original_value="{}",
        failed_at=datetime(2026, 11, 23, tzinfo=UTC),
    )
    schema = json.loads((EVENTS / "dead-letter.v1.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(json.loads(record.model_dump_json()))

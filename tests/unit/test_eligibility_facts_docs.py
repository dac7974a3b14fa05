"""docs/facts/ documents the facts schema of every programme and is current with the rule packs and fact models."""

from __future__ import annotations

from pathlib import Path

from eligibility import factsdoc
from eligibility.programmes import CATALOGUE


def test_committed_facts_docs_are_current() -> None:
    assert factsdoc.stale() == [], "run: .venv/bin/python -m eligibility.factsdoc"


def test_every_programme_has_a_document_and_every_declared_fact_a_model() -> None:
    docs = factsdoc.documents()
    models = factsdoc.fact_models()
    for pid in CATALOGUE.programmes():
        assert f"{pid}.md" in docs
        for pack in CATALOGUE.versions(pid):
            for kind in pack.facts_needed:
                assert kind in models, f"{pid} {pack.version} declares unknown fact kind {kind}"
                assert f"### `{kind}`" in docs[f"{pid}.md"]


def test_a_changed_or_extra_file_is_reported(tmp_path: Path) -> None:
    factsdoc.write(tmp_path)
    assert factsdoc.stale(tmp_path) == []
    target = tmp_path / "hn.unemployment-assistance.md"
    target.write_text(target.read_text(encoding="utf-8").replace("unemployment_registration", "x"), encoding="utf-8")
    (tmp_path / "old.md").write_text("stale", encoding="utf-8")
    assert factsdoc.stale(tmp_path) == ["hn.unemployment-assistance.md", "old.md"]


def test_the_document_lists_the_fields_of_a_fact() -> None:
    text = factsdoc.documents()["hn.fisherman-pension-subsidy.md"]
    assert "| `household_id` | string | yes |" in text
    assert "`professional_licensed`" in text

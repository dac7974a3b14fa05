"""Producer idempotence follows the broker: on by default, off on the fallback broker (Tansu), explicit wins."""

from __future__ import annotations

import pytest

from subsidy_runtime.settings import ServiceSettings, idempotent_producer


@pytest.mark.parametrize(
    ("broker", "explicit", "expected"),
    [
        (None, None, True),
        ("kafka", None, True),
        ("tansu", None, False),
        ("tansu", "true", True),
        ("kafka", "false", False),
        ("kafka", "0", False),
    ],
)
def test_idempotent_producer(
    monkeypatch: pytest.MonkeyPatch, broker: str | None, explicit: str | None, expected: bool
) -> None:
    for name, value in (("BROKER_IMPLEMENTATION", broker), ("KAFKA_IDEMPOTENT_PRODUCER", explicit)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert idempotent_producer() is expected
    settings = ServiceSettings(service_name="eligibility", database_url="postgresql://x@127.0.0.1/x")
    assert settings.kafka_idempotent_producer is expected

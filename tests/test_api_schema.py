"""Property-based tests of the API from its own OpenAPI schema (schemathesis): whatever
a client sends, with a partner's key or the owner's, the server answers without a server
error, with a status code and a body its schema declares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from listguard.oppositions import record_opposition
from tests.web_server import served_site


def _fuzz(operation: Any, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def check(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(
            headers=headers,
            checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
        )

    check()


def test_no_server_error_whatever_is_sent(engine: Engine, tmp_path: Path) -> None:
    with served_site(engine, tmp_path) as site:
        record_opposition(engine, channel="all", contact_id="C1")  # messages to pull
        schema = schemathesis.openapi.from_url(f"{site.url}/api/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
        assert len(operations) >= 6
        for operation in operations:
            partner = operation.path.startswith("/api/v1/partner/")
            _fuzz(operation, {"Authorization": f"Bearer {site.p1 if partner else site.machine}"})

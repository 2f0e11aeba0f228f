"""What the /api/v1 fuzz tests share: bounded, derandomised hypothesis settings, the contract's
error shape as a schemathesis check, and one way to send a case and check its answer.

The fuzz suite is tests/test_api_fuzz.py (POS key), tests/test_people_api_fuzz.py (secretary's
token), tests/test_member_api_fuzz.py (member's token) and tests/test_api_fuzz_coverage.py
(every operation fuzzed by one of them; every operation without, with a wrong or with another
kind's credential)."""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

EXAMPLES_PER_CALL = 8


def bounded(examples: int = EXAMPLES_PER_CALL):  # type: ignore[no-untyped-def]
    """Hypothesis settings for one API call: a fixed number of examples, the same every run."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def contract_error_problem(status: int, content_type: str, body: bytes) -> str | None:
    """Why an error answer is not in the contract's shape ``{"error": {"code", "message"}}``
    (an optional ``details`` object beside them), or None when it is (or is no error)."""
    if status < 400:
        return None
    if not content_type.startswith("application/json"):
        return f"a {status} answered {content_type or 'no content type'}, not JSON"
    try:
        document = json.loads(body)
    except ValueError:
        return f"a {status} body is not JSON: {body[:200]!r}"
    if not isinstance(document, dict) or set(document) != {"error"}:
        return f'a {status} body is not {{"error": …}}: {document!r}'
    error = document["error"]
    if not isinstance(error, dict) or not {"code", "message"} <= set(error):
        return f"a {status} error lacks code or message: {error!r}"
    if set(error) - {"code", "message", "details"}:
        return f"a {status} error has undocumented fields: {sorted(set(error))}"
    for field in ("code", "message"):
        if not isinstance(error[field], str) or not error[field]:
            return f"a {status} error's {field} is not a non-empty string: {error[field]!r}"
    if "details" in error and not isinstance(error["details"], dict):
        return f"a {status} error's details is not an object: {error['details']!r}"
    return None


@schemathesis.check
def error_in_contract_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx and 5xx of /api/v1 is ``{"error": {"code": str, "message": str}}``."""
    problem = contract_error_problem(
        response.status_code, (response.headers.get("content-type") or [""])[0], response.content
    )
    if problem:
        raise AssertionError(problem)
    return None


def call_and_check(case: Any, headers: dict[str, str] | None) -> Any:
    """Send ``case`` with ``headers`` and check the answer: every default check (no 5xx, a
    documented status, content type and body) and the contract's error shape.

    A schema-valid body may still be refused by a rule (a random token is token_invalid, a random
    id is not found), so positive data need not be accepted."""
    return case.call_and_validate(
        headers=headers,
        additional_checks=[error_in_contract_shape],
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )

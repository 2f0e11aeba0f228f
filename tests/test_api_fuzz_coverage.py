"""The fuzz suite covers the whole /api/v1: every operation of the served OpenAPI document is
fuzzed with a valid credential by one of the three fuzz modules, and every operation that needs
a credential is fuzzed without one, with a wrong one and with another kind's (a POS key on the
people API, a people token on the POS API, a member's token on the secretaries' calls and a
secretary's on the members'): always refused (401/403) in the contract's error shape, never a
server error, never an undocumented answer."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import given
from sqlalchemy.orm import Session

from rewards.models import Role
from tests import factories, test_api_fuzz, test_member_api_fuzz, test_people_api_fuzz
from tests.fuzzing import bounded, call_and_check, contract_error_problem
from tests.test_api import bearer, new_key
from tests.test_people_api import token_for

FUZZ_MODULES = (test_api_fuzz, test_people_api_fuzz, test_member_api_fuzz)
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
# Examples per operation and credential: the refusal comes before any body is read.
EXAMPLES_PER_CREDENTIAL = 3


def document_operations(app: Flask) -> dict[tuple[str, str], list[dict[str, list[str]]]]:
    """Every operation of /api/v1/openapi.json: (METHOD, path) -> its security requirement."""
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    return {
        (method.upper(), path): operation.get("security", document.get("security", []))
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def test_every_operation_of_the_document_is_fuzzed(app: Flask) -> None:
    fuzzed = [call for module in FUZZ_MODULES for call in module.CALLS]
    documented = set(document_operations(app))
    assert documented, "the OpenAPI document lists no operation"
    assert len(fuzzed) == len(set(fuzzed)), "an operation is fuzzed twice"
    assert sorted(documented - set(fuzzed)) == [], "operations no fuzz test calls"
    assert sorted(set(fuzzed) - documented) == [], "fuzzed calls the document does not list"


def test_an_error_body_outside_the_contract_is_caught() -> None:
    """The shape check itself bites: each malformed error body is named."""
    json = "application/json"
    assert contract_error_problem(401, json, b'{"error": {"code": "x", "message": "m"}}') is None
    assert contract_error_problem(200, "text/html", b"<html>") is None
    assert contract_error_problem(404, "text/html", b"<html>")
    assert contract_error_problem(422, json, b'{"message": "m"}')
    assert contract_error_problem(422, json, b'{"error": {"code": "x"}}')
    assert contract_error_problem(422, json, b'{"error": {"code": "", "message": "m"}}')
    assert contract_error_problem(422, json, b'{"error": {"code": 3, "message": "m"}}')
    assert contract_error_problem(400, json, b'{"error": {"code": "x", "message": "m"}, "x": 1}')
    assert contract_error_problem(500, json, b"not json")


def _role_of_blueprint(app: Flask, method: str, path: str) -> str:
    """The blueprint serving an operation (``member_api``, ``secretary_api``, ``people_api``,
    ``api`` …), from the URL map."""
    rule_path = path.replace("{", "<").replace("}", ">")
    for rule in app.url_map.iter_rules():
        if _strip_converters(rule.rule) == rule_path and method in (rule.methods or set()):
            return rule.endpoint.partition(".")[0]
    raise AssertionError(f"no route for {method} {path}")


def _strip_converters(rule: str) -> str:
    """``/claims/<int(max=2147483647):claim_id>`` -> ``/claims/<claim_id>``."""
    out, i = [], 0
    while i < len(rule):
        if rule[i] == "<":
            end = rule.index(">", i)
            out.append("<" + rule[i + 1 : end].rpartition(":")[2] + ">")
            i = end + 1
        else:
            out.append(rule[i])
            i += 1
    return "".join(out)


def fuzz_refusal(operation: Any, sent: dict[str, str] | None, expected: int) -> None:
    """Fuzz ``operation`` with the credential ``sent`` (None: no Authorization header): every
    answer is ``expected`` (401 or 403), documented, in the contract's error shape."""

    @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE))
    @bounded(EXAMPLES_PER_CREDENTIAL)
    def is_refused(case: Any) -> None:
        case.headers = {
            k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"
        }
        response = call_and_check(case, sent)
        assert response.status_code == expected, (operation.label, response.text)

    is_refused()


CREDENTIALS = ["none", "malformed", "unknown", "other kind", "other role"]


@pytest.mark.parametrize("credential", CREDENTIALS)
def test_every_operation_refuses_a_missing_or_wrong_credential_in_the_contract_shape(
    app: Flask, world: factories.World, session: Session, credential: str
) -> None:
    pos_key = bearer(new_key(session, world.shop.id))
    member_account = factories.account(session, Role.MEMBER, member=world.gold)
    session.commit()
    member_token = token_for(session, member_account)
    secretary_token = token_for(session, world.secretary)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    refused = 0
    for (method, path), security in sorted(document_operations(app).items()):
        if not security:
            continue  # signing in needs no credential (its own fuzz sends wrong passwords)
        scheme = next(iter(security[0]))
        blueprint = _role_of_blueprint(app, method, path)
        sent: dict[str, str] | None
        if credential == "none":
            sent = None
        elif credential == "malformed":
            sent = {"Authorization": "Basic dXNlcjpwYXNz"}
        elif credential == "unknown":
            prefix = "rpk_" if scheme == "bearerAuth" else "rpt_"
            sent = bearer(prefix + "0" * 40)
        elif credential == "other kind":
            sent = secretary_token if scheme == "bearerAuth" else pos_key
        elif blueprint == "member_api":
            sent = secretary_token
        elif blueprint == "secretary_api":
            sent = member_token
        else:
            continue  # open to every role, or a POS call (its other role is the other kind)
        expected = 403 if credential == "other role" else 401
        fuzz_refusal(schema[path][method], sent, expected)
        refused += 1
    assert refused, "no operation was tried"

"""The OpenAPI 3 document of the POS API: valid, complete, and true to what is served."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from sqlalchemy.orm import Session

from rewards.models import Role
from rewards.services import merchants
from rewards.services.audit import Actor

DOCUMENT = "/api/v1/openapi.json"
CONTRACT = {
    ("post", "/api/v1/checkout/preview"),
    ("post", "/api/v1/checkout/redemptions"),
    ("post", "/api/v1/redemptions/{redemption_id}/void"),
    ("get", "/api/v1/redemptions"),
    ("get", "/api/v1/redemptions/{redemption_id}"),
}
# The people API (DESIGN.md, "The people API"): sign-in, categories and the secretary's calls.
PEOPLE = {
    ("post", "/api/v1/auth/token"),
    ("delete", "/api/v1/auth/token"),
    ("get", "/api/v1/categories"),
    ("get", "/api/v1/claims"),
    ("post", "/api/v1/claims/{claim_id}/certify"),
    ("post", "/api/v1/claims/{claim_id}/reject"),
    ("get", "/api/v1/members"),
    ("post", "/api/v1/members/{member_no}/adjustments"),
    ("post", "/api/v1/activities"),
    ("post", "/api/v1/activities/{activity_id}/attendance"),
}
# The member's calls of the people API (DESIGN.md, "The people API", "Member").
MEMBER = {
    ("get", "/api/v1/me"),
    ("get", "/api/v1/me/ledger"),
    ("post", "/api/v1/me/claims"),
    ("get", "/api/v1/me/claims"),
    ("get", "/api/v1/merchants"),
    ("post", "/api/v1/me/card/offline-key"),
    ("get", "/api/v1/me/export"),
}
PEOPLE |= MEMBER
SIGN_IN = ("post", "/api/v1/auth/token")
# Generated clients name their functions after the operationIds (previewCheckout becomes
# preview_checkout): renaming one breaks every vendor's client, so they are pinned here.
POS_OPERATION_IDS = {
    ("post", "/api/v1/checkout/preview"): "previewCheckout",
    ("post", "/api/v1/checkout/redemptions"): "createRedemption",
    ("post", "/api/v1/redemptions/{redemption_id}/void"): "voidRedemption",
    ("get", "/api/v1/redemptions"): "listRedemptions",
    ("get", "/api/v1/redemptions/{redemption_id}"): "getRedemption",
}
PEOPLE_OPERATION_IDS = {
    ("post", "/api/v1/auth/token"): "createToken",
    ("delete", "/api/v1/auth/token"): "revokeToken",
    ("get", "/api/v1/categories"): "listCategories",
    ("get", "/api/v1/claims"): "listClaims",
    ("post", "/api/v1/claims/{claim_id}/certify"): "certifyClaim",
    ("post", "/api/v1/claims/{claim_id}/reject"): "rejectClaim",
    ("get", "/api/v1/members"): "listMembers",
    ("post", "/api/v1/members/{member_no}/adjustments"): "createAdjustment",
    ("post", "/api/v1/activities"): "createActivity",
    ("post", "/api/v1/activities/{activity_id}/attendance"): "recordAttendance",
    ("get", "/api/v1/me"): "getMyOverview",
    ("get", "/api/v1/me/ledger"): "listMyLedgerEntries",
    ("post", "/api/v1/me/claims"): "submitMyClaim",
    ("get", "/api/v1/me/claims"): "listMyClaims",
    ("get", "/api/v1/merchants"): "listMerchants",
    ("post", "/api/v1/me/card/offline-key"): "issueOfflineKey",
    ("get", "/api/v1/me/export"): "exportMyData",
}
# camelCase of at least two words, verb first: createRedemption, listMyLedgerEntries.
CAMEL_CASE = re.compile(r"[a-z]+(?:[A-Z][a-z0-9]+)+")
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture()
def document(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = client.get(DOCUMENT)
    assert response.status_code == 200 and response.is_json
    return response.get_json()


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        _, *parts = node["$ref"].split("/")
        node = document
        for part in parts:
            node = node[part]
    return node


def conforms(document: dict[str, Any], schema_name: str, instance: Any) -> None:
    """Validate ``instance`` against a component schema of the served document."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    OAS30Validator(schema).validate(instance)


def test_document_is_valid_openapi_3(document):
    validate(document)
    assert document["openapi"].startswith("3.")
    assert document["info"]["version"] == "v1"


def test_every_call_of_the_pos_contract_is_documented(document):
    assert set(operations(document)) == CONTRACT | PEOPLE


def test_every_operation_has_a_readable_unique_operation_id(document):
    """Without an explicit operationId a generator names the function after the method and the
    path (post_api_v1_checkout_preview); flask-smorest writes none by itself."""
    ids = {key: operation.get("operationId") for key, operation in operations(document).items()}
    missing = sorted(key for key, operation_id in ids.items() if not operation_id)
    assert not missing, f"operations without an operationId: {missing}"
    unreadable = sorted(i for i in ids.values() if not CAMEL_CASE.fullmatch(i))
    assert not unreadable, f"operationIds not camelCase verb and noun: {unreadable}"
    repeated = sorted(i for i, count in Counter(ids.values()).items() if count > 1)
    assert not repeated, f"operationIds used twice: {repeated}"


def test_the_pos_calls_have_the_operation_ids_vendors_generate_clients_from(document):
    found = {key: operations(document)[key].get("operationId") for key in POS_OPERATION_IDS}
    assert found == POS_OPERATION_IDS


def test_the_people_calls_keep_their_operation_ids(document):
    found = {key: operations(document)[key].get("operationId") for key in PEOPLE_OPERATION_IDS}
    assert found == PEOPLE_OPERATION_IDS
    assert set(POS_OPERATION_IDS) | set(PEOPLE_OPERATION_IDS) == set(operations(document))


def test_every_call_requires_the_bearer_key(document):
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for key in CONTRACT:
        operation = operations(document)[key]
        assert operation["security"] == [{"bearerAuth": []}], key
        assert "401" in operation["responses"], key


def test_every_people_call_but_sign_in_requires_the_people_token(document):
    scheme = document["components"]["securitySchemes"]["peopleToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for key in PEOPLE - {SIGN_IN}:
        operation = operations(document)[key]
        assert operation["security"] == [{"peopleToken": []}], key
        assert "401" in operation["responses"], key
        assert operation["summary"] and not operation["summary"].isascii(), key
    sign_in = operations(document)[SIGN_IN]
    assert sign_in["security"] == [] and {"401", "429"} <= set(sign_in["responses"])


def test_every_documented_error_has_the_contracts_body(document):
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    body = resolve(document, error["properties"]["error"])
    assert set(body["required"]) == {"code", "message"}
    for key, operation in operations(document).items():
        for status, response in operation["responses"].items():
            if status == "default" or int(status) >= 400:
                schema = resolve(document, response)["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (key, status)


def test_confirm_documents_201_for_a_new_sale_and_200_for_a_retry(document):
    responses = operations(document)[("post", "/api/v1/checkout/redemptions")]["responses"]
    for status in ("201", "200"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Redemption"}
    assert {"409", "422"} <= set(responses)


def test_amount_is_documented_as_text_and_bodies_refuse_unknown_fields(document):
    schemas = document["components"]["schemas"]
    for name in ("PreviewRequest", "ConfirmRequest"):
        assert schemas[name]["properties"]["amount"]["type"] == "string"
        assert {"token", "amount"} <= set(schemas[name]["required"])
        assert schemas[name]["additionalProperties"] is False
    assert "idempotency_key" in schemas["ConfirmRequest"]["required"]


def test_documented_responses_show_nothing_a_merchant_may_not_see(document):
    schemas = document["components"]["schemas"]
    shown = {
        name
        for schema in ("Quote", "Redemption", "DiscountRule")
        for name in schemas[schema]["properties"]
    }
    for private in ("phone", "member_no", "card_no", "name", "tier_points", "member_id", "points"):
        assert private not in shown


def test_document_needs_no_key_and_no_browser_ui_is_served(client):
    assert client.get(DOCUMENT).status_code == 200
    for ui in ("/api/v1/swagger-ui", "/api/v1/redoc", "/api/v1/rapidoc"):
        assert client.get(ui).status_code == 404


def test_served_bodies_match_the_document(client, document, world, session: Session, tokens):
    _, key = merchants.create_api_key(
        session, Actor(label="tests", role=Role.DISTRICT_ADMIN), world.shop.id, "1号收银台"
    )
    session.commit()
    headers = {"Authorization": f"Bearer {key}"}
    token, _ = tokens.phone_token(world.gold_card)

    preview = client.post(
        "/api/v1/checkout/preview", json={"token": token, "amount": "128.50"}, headers=headers
    )
    conforms(document, "Quote", preview.get_json())
    body = {"token": token, "amount": "128.50", "idempotency_key": "openapi-0001"}
    created = client.post("/api/v1/checkout/redemptions", json=body, headers=headers)
    assert created.status_code == 201
    conforms(document, "Redemption", created.get_json())
    sale_id = created.get_json()["id"]
    conforms(document, "RedemptionPage", client.get("/api/v1/redemptions", headers=headers).json)
    one = client.get(f"/api/v1/redemptions/{sale_id}", headers=headers)
    conforms(document, "Redemption", one.get_json())
    voided = client.post(
        f"/api/v1/redemptions/{sale_id}/void", json={"reason": "顾客退货"}, headers=headers
    )
    conforms(document, "Redemption", voided.get_json())
    for refused in (
        client.post("/api/v1/checkout/preview", json={"token": token, "amount": "1"}),
        client.post(
            "/api/v1/checkout/preview", json={"token": token, "amount": 1}, headers=headers
        ),
        client.post("/api/v1/checkout/preview", json={"amount": "1"}, headers=headers),
        client.post("/api/v1/checkout/redemptions", json=body | {"amount": "2"}, headers=headers),
    ):
        assert refused.status_code >= 400
        conforms(document, "Error", refused.get_json())

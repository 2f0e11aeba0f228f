"""A vendor's generated client: openapi-python-client (a dev dependency) generates a Python
client from the OpenAPI document the app serves, and the client previews and confirms a sale
against the app served for real on 127.0.0.1.

The generator runs offline (``--path``, the document saved from the live server) into
``tmp_path``, without its post-generation hooks (they only tidy the generated code with ruff).
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy.orm import Session

from rewards import create_app
from rewards.extensions import db
from rewards.models import Redemption, Role
from rewards.services import merchants
from rewards.services.audit import Actor
from rewards.services.cards import CardTokens
from tests import factories
from tests.live_http import serving

PACKAGE = "rewards_api_client"
# The generator's configuration, as docs/api.md shows it, without the formatting hooks.
CONFIG = {"package_name_override": PACKAGE, "post_hooks": []}
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
TIMEOUT = 10
ADMIN = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)
# The POS calls, and the functions a vendor's generated client calls them by.
POS_CALLS = [
    ("post", "/api/v1/checkout/preview"),
    ("post", "/api/v1/checkout/redemptions"),
    ("post", "/api/v1/redemptions/{redemption_id}/void"),
    ("get", "/api/v1/redemptions"),
    ("get", "/api/v1/redemptions/{redemption_id}"),
]
POS_FUNCTIONS = (
    "preview_checkout",
    "create_redemption",
    "void_redemption",
    "list_redemptions",
    "get_redemption",
)


@dataclass
class Generated:
    """A client generated from the served document, imported from ``tmp_path``."""

    url: str  # the live server it was generated from
    document: dict[str, Any]
    root: Path  # the generated package's directory

    def module(self, method: str, path: str) -> ModuleType:
        """The generated module of one operation, found by its operationId (as a vendor would
        write ``from rewards_api_client.api.pos_api import preview_checkout``)."""
        operation = self.document["paths"][path][method]
        tag = snake_case(operation["tags"][0])
        return importlib.import_module(
            f"{PACKAGE}.api.{tag}.{snake_case(operation['operationId'])}"
        )


def snake_case(name: str) -> str:
    """previewCheckout → preview_checkout (what generators make of a camelCase operationId)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def generate(document: dict[str, Any], where: Path) -> Path:
    """Run the generator's CLI on ``document``; the generated package's directory."""
    assert GENERATOR.exists(), (
        f"{GENERATOR} is missing: openapi-python-client is a dev dependency "
        "(pip install -e '.[dev]')"
    )
    source = where / "openapi.json"
    source.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    config = where / "openapi-python-client.json"
    config.write_text(json.dumps(CONFIG), encoding="utf-8")
    output = where / PACKAGE
    done = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(source),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(output),
            "--fail-on-warning",  # an operation it could not generate fails the test
        ],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return output


def forget_package() -> None:
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def generated(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    """The app as production configures it, on the test database, served on 127.0.0.1; a client
    generated once from the document it serves, importable for this module's tests."""
    where = tmp_path_factory.mktemp("generated_client")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REWARDS_INSTANCE_PATH", str(where / "instance"))
        patch.delenv("DATABASE_URL", raising=False)
        live = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                # The shared test app's keys, so its card tokens are the live app's too.
                "SECRET_KEY": app.config["SECRET_KEY"],
                "SECRET_KEY_FALLBACKS": app.config["SECRET_KEY_FALLBACKS"],
            }
        )
        try:
            with serving(live) as url:
                served = requests.get(f"{url}/api/v1/openapi.json", timeout=TIMEOUT)
                assert served.status_code == 200, served.text
                document = served.json()
                root = generate(document, where)
                forget_package()
                patch.syspath_prepend(str(where))
                try:
                    yield Generated(url, document, root)
                finally:
                    forget_package()
        finally:
            with live.app_context():
                db.session.remove()
                db.engine.dispose()


def test_the_generated_client_names_every_function_after_its_operation_id(
    generated: Generated,
) -> None:
    operations = [
        (method, path)
        for path, item in generated.document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    ]
    names = set()
    for method, path in operations:
        module = generated.module(method, path)
        assert callable(module.sync) and callable(module.sync_detailed), (method, path)
        names.add(module.__name__)
    # One module per operation, each named by its operationId: none made up from a path.
    made = {
        f"{PACKAGE}.api.{file.parent.name}.{file.stem}"
        for file in (generated.root / "api").glob("*/*.py")
        if file.name != "__init__.py"
    }
    assert names == made and len(made) == len(operations)
    assert {generated.module(method, path).__name__ for method, path in POS_CALLS} == {
        f"{PACKAGE}.api.pos_api.{name}" for name in POS_FUNCTIONS
    }


def test_the_generated_client_previews_and_confirms_a_sale_on_the_live_server(
    generated: Generated,
    world: factories.World,
    session: Session,
    tokens: CardTokens,
) -> None:
    shop_id = world.shop.id
    _, key = merchants.create_api_key(session, ADMIN, shop_id, "1号收银台")
    token, _ = tokens.phone_token(world.gold_card)
    # End this session's transaction: on SQLite it holds the write lock the server needs.
    session.commit()
    preview_checkout = generated.module("post", "/api/v1/checkout/preview")
    create_redemption = generated.module("post", "/api/v1/checkout/redemptions")
    get_redemption = generated.module("get", "/api/v1/redemptions/{redemption_id}")
    assert preview_checkout.__name__.endswith(".pos_api.preview_checkout")
    assert create_redemption.__name__.endswith(".pos_api.create_redemption")
    client = importlib.import_module(PACKAGE)
    models = importlib.import_module(f"{PACKAGE}.models")
    pos = client.AuthenticatedClient(
        base_url=generated.url, token=key, timeout=TIMEOUT, raise_on_unexpected_status=True
    )

    with pos:
        quote = preview_checkout.sync(
            client=pos, body=models.PreviewRequest(token=token, amount="128.50")
        )
        assert isinstance(quote, models.Quote), quote
        assert (quote.amount_fen, quote.discount_fen, quote.payable_fen) == (12850, 1542, 11308)
        assert quote.tier == models.QuoteTier.GOLD and quote.rule.pay_percent == 88

        confirm = models.ConfirmRequest(token=token, amount="128.50", idempotency_key="gen-0001")
        created = create_redemption.sync_detailed(client=pos, body=confirm)
        assert created.status_code == 201, created.content
        sale = created.parsed
        assert isinstance(sale, models.Redemption), sale
        assert (sale.amount_fen, sale.discount_fen, sale.payable_fen) == (12850, 1542, 11308)
        assert sale.status == models.RedemptionStatus.COMPLETED and sale.pay_percent == 88

        again = get_redemption.sync(client=pos, redemption_id=sale.id)
        assert isinstance(again, models.Redemption) and again.payable_fen == 11308

        # A retry with the same idempotency key is the same sale, answered 200.
        retry = create_redemption.sync_detailed(client=pos, body=confirm)
        assert retry.status_code == 200 and retry.parsed.id == sale.id

    session.rollback()
    recorded = session.get(Redemption, sale.id)
    assert recorded is not None and recorded.merchant_id == shop_id
    assert (recorded.amount_fen, recorded.payable_fen) == (12850, 11308)

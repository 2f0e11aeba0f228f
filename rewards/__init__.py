"""红色动力双赢卡 (Red Power Win-Win Card): the domain core and the app factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from rewards.config import load_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application: settings from the environment, then ``config`` on top."""
    instance_path = os.environ.get("REWARDS_INSTANCE_PATH") or str(PROJECT_ROOT / "instance")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    app.config.update(load_settings(Path(instance_path)))
    if config:
        app.config.update(config)
    app.json.ensure_ascii = False  # readable Chinese for POS vendors debugging with curl

    from rewards import auth, security_headers, web
    from rewards.extensions import babel, configure_engine, csrf, db, end_session, migrate
    from rewards.services.activation import ActivationCodes
    from rewards.services.cards import CardTokens
    from rewards.services.secretbox import SecretBox

    db.init_app(app)
    app.teardown_appcontext(end_session)
    with app.app_context():
        configure_engine(db.engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=web.select_locale)
    auth.init_app(app)
    web.init_app(app)
    security_headers.init_app(app)

    keys = [*reversed(app.config.get("SECRET_KEY_FALLBACKS") or []), app.config["SECRET_KEY"]]
    box = SecretBox(keys)
    app.extensions["rewards.secret_box"] = box
    app.extensions["rewards.card_tokens"] = CardTokens(keys, app.config["REWARDS_QR_TTL"], box)
    app.extensions["rewards.activation_codes"] = ActivationCodes(keys)

    from community_portal import bp as community_bp
    from district_portal import bp as district_bp
    from member_portal import bp as member_bp
    from merchant_portal import bp as merchant_bp

    app.register_blueprint(merchant_bp)
    app.register_blueprint(member_bp)
    app.register_blueprint(community_bp)
    app.register_blueprint(district_bp)

    from merchant_portal.api import init_app as init_pos_api

    init_pos_api(app)

    from community_portal.api import init_app as init_secretary_api
    from rewards.people_api import init_app as init_people_api

    init_people_api(app)
    init_secretary_api(app)

    from member_portal.api import init_app as init_member_api

    init_member_api(app)

    from rewards.cli import register_commands

    register_commands(app)
    return app

"""The operator CLI: ``rewards`` (a Flask CLI group, so ``rewards db upgrade`` and ``rewards run``
work too)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def register_commands(app: Flask) -> None:
    """Attach the operator commands to the app's CLI."""


def main() -> None:
    """Entry point of the ``rewards`` console script."""
    from rewards import create_app

    cli = FlaskGroup(create_app=lambda: create_app(), help="红色动力双赢卡 operator commands.")
    cli(prog_name="rewards")


_ = click

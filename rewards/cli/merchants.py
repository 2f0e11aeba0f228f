"""``rewards merchants``: alliance merchants (联盟商家)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from rewards.cli import OPERATOR, merchant_by_code, operator_transaction
from rewards.services import merchants

merchants_group = AppGroup("merchants", help="Alliance merchants (联盟商家).")


@merchants_group.command("api-key")
@click.argument("merchant_code")
@click.option("--label", default="命令行创建", show_default=True, help="密钥名称，如“1号收银台”。")
def api_key_command(merchant_code: str, label: str) -> None:
    """Create a POS API key for a merchant and print it once, alone on the last line."""
    with operator_transaction() as session:
        merchant = merchant_by_code(session, merchant_code)
        api_key, key = merchants.create_api_key(session, OPERATOR, merchant.id, label)
        about = (
            f"已为 {merchant.code} {merchant.name} 创建 POS 密钥「{api_key.label}」"
            f"（前缀 {api_key.prefix}）。密钥只显示这一次，请立即保存："
        )
    click.echo(about)
    click.echo(key)

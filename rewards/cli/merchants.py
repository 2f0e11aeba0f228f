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


@merchants_group.command("create")
@click.option("--code", default="", help="商家代码，如 M131；不填则用下一个空闲代码。")
@click.option("--name", default="", help="店名。")
@click.option("--category", default="", help="类别，如 餐饮、超市。")
@click.option("--address", default="", help="地址。")
@click.option("--phone", default="", help="联系电话。")
@click.option("--manager-username", default="", help="店长登录名；不填则为 <代码>-manager。")
@click.option("--manager-name", default="", help="店长姓名。")
def create_command(
    code: str,
    name: str,
    category: str,
    address: str,
    phone: str,
    manager_username: str,
    manager_name: str,
) -> None:
    """Sign up a merchant with its manager account; print the one-time password last, alone."""
    with operator_transaction() as session:
        code = code.strip() or merchants.next_merchant_code(session)
        created = merchants.create_merchant(
            session,
            OPERATOR,
            code=code,
            name=name,
            category=category,
            address=address,
            phone=phone,
            manager_username=manager_username.strip() or merchants.manager_username_for(code),
            manager_name=manager_name,
        )
        shop, manager = created.merchant, created.manager
        about = (
            f"已创建商家 {shop.code} {shop.name}（{shop.category}），"
            f"店长账号 {manager.username}（{manager.display_name}）。\n"
            "一次性密码 7 天内有效，首次登录后须立即修改。密码只显示这一次，请交给店长本人："
        )
    click.echo(about)
    click.echo(created.password)


@merchants_group.command("suspend")
@click.argument("merchant_code")
@click.option("--reason", default="", help="必填：暂停原因（员工登录和 POS 调用时看到）。")
def suspend_command(merchant_code: str, reason: str) -> None:
    """Suspend a merchant: its staff and POS keys stop at once, told the reason."""
    with operator_transaction() as session:
        shop = merchant_by_code(session, merchant_code)
        merchants.suspend_merchant(session, OPERATOR, shop.id, reason)
        done = f"已暂停 {shop.code} {shop.name} 的联盟资格；其员工和 POS 密钥即刻停用。"
    click.echo(done)


@merchants_group.command("resume")
@click.argument("merchant_code")
@click.option("--reason", default="", help="必填：恢复原因。")
def resume_command(merchant_code: str, reason: str) -> None:
    """Resume a suspended merchant: its staff and POS keys work again."""
    with operator_transaction() as session:
        shop = merchant_by_code(session, merchant_code)
        merchants.resume_merchant(session, OPERATOR, shop.id, reason)
        done = f"已恢复 {shop.code} {shop.name} 的联盟资格；其员工和 POS 密钥可以再用。"
    click.echo(done)

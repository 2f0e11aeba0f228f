"""``rewards users``: sign-in accounts (账号)."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from rewards.cli import (
    OPERATOR,
    OperatorError,
    community_by_code,
    member_by_number,
    merchant_by_code,
    operator_transaction,
)
from rewards.models import ROLE_LABELS, Role
from rewards.services import accounts

users_group = AppGroup("users", help="Sign-in accounts (账号).")


@users_group.command("create")
@click.option("--username", required=True, help="登录名：3–40 位字母、数字、_ . -")
@click.option(
    "--role", required=True, type=click.Choice([r.value for r in Role]), help="账号角色。"
)
@click.option("--community", "community_code", help="社区代码（社区书记账号）。")
@click.option("--merchant", "merchant_code", help="商家代码（店长、收银员账号）。")
@click.option("--member-no", help="党员编号（党员账号）。")
@click.option("--name", "display_name", default="", help="显示的姓名。")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（一行）。")
def create_user(
    username: str,
    role: str,
    community_code: str | None,
    merchant_code: str | None,
    member_no: str | None,
    display_name: str,
    password_stdin: bool,
) -> None:
    """Create a sign-in account of any role."""
    chosen = Role(role)
    scopes = {
        "--community": (community_code, {Role.SECRETARY}),
        "--merchant": (merchant_code, {Role.CASHIER, Role.MERCHANT_MANAGER}),
        "--member-no": (member_no, {Role.MEMBER}),
    }
    for option, (value, roles) in scopes.items():
        if value and chosen not in roles:
            raise OperatorError(f"{option} 不适用于 {chosen.value} 账号。")
        if not value and chosen in roles:
            raise OperatorError(f"{chosen.value} 账号需要 {option}。")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            "密码", hide_input=True, confirmation_prompt="再输入一次密码", err=True
        )
    with operator_transaction() as session:
        account = accounts.create_account(
            session,
            OPERATOR,
            username=username,
            password=password,
            role=chosen,
            display_name=display_name,
            community_id=community_by_code(session, community_code).id if community_code else None,
            merchant_id=merchant_by_code(session, merchant_code).id if merchant_code else None,
            member_id=member_by_number(session, member_no).id if member_no else None,
        )
        created = f"已创建账号 {account.username}（{ROLE_LABELS[chosen]}，id {account.id}）。"
    click.echo(created)

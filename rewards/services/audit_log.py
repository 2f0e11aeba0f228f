"""The audit log as the district administrator reads it (审计日志): filtered by person,
community, kind and date, newest first, each line in words (who, the action, the object and its
details). Writing the log is ``services.audit.record``; this module only reads it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from rewards.clock import BUSINESS_TZ, business_day_bounds
from rewards.errors import ValidationFailed
from rewards.models import (
    ROLE_LABELS,
    Account,
    Activity,
    Agreement,
    ApiKey,
    AuditEvent,
    Card,
    Claim,
    Community,
    LedgerEntry,
    Member,
    Merchant,
    PointCategory,
    Redemption,
    Role,
    TierPolicy,
)
from rewards.money import format_fen, format_zhe
from rewards.services.audit import Actor, require_role
from rewards.services.paging import check_page

# -- reading the log (审计日志), for the district administrator ---------------------------------
#
# Newest first, a page at a time with LIMIT/OFFSET over the ``recorded_at`` index; no total is
# counted (a count would read the whole log on every page), the page only knows whether another
# follows. Each line is put in words: who, the action, the object and its details, never a raw
# JSON blob (nothing secret is ever recorded, and keys that sound secret are left out anyway).

LOG_PAGE_SIZE = 50
MAX_PERSON_QUERY = 80

# Kinds of action (the log's "kind" filter), each a set of action prefixes or exact codes.
SIGN_IN_ACTIONS = (
    "account.sign_in",
    "account.sign_in_failed",
    "account.activation_failed",
    "api_token.issue",
    "api_token.revoke",
)


@dataclass(frozen=True)
class LogKind:
    """A kind of action in the log's filter: its label and the actions it covers."""

    code: str
    label: str
    prefixes: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    excluding: tuple[str, ...] = ()


LOG_KINDS = (
    LogKind("points", "积分", ("ledger.",)),
    LogKind("claims", "申报", ("claim.",)),
    LogKind("activities", "活动", ("activity.",)),
    LogKind("cards", "卡", ("card.",)),
    LogKind("checkout", "结算", ("redemption.",)),
    LogKind("roster", "名册", ("member.", "roster.")),
    LogKind("accounts", "账号", ("account.", "activation."), excluding=SIGN_IN_ACTIONS),
    LogKind("sign_in", "登录", actions=SIGN_IN_ACTIONS),
    LogKind("merchants", "商家", ("merchant.", "api_key.")),
    LogKind("agreements", "协议", ("agreement.",)),
    LogKind("policy", "积分标准", ("tier_policy.", "category.")),
)
LOG_KIND_BY_CODE = {kind.code: kind for kind in LOG_KINDS}

ACTION_LABELS = {
    "account.activate": "首次登录（激活账号）",
    "account.activation_failed": "激活码错误",
    "account.create": "开通账号",
    "account.disable": "停用账号",
    "account.enable": "启用账号",
    "account.password": "修改密码",
    "account.reset_password": "重置密码（一次性密码）",
    "account.sign_in": "登录",
    "account.sign_in_failed": "登录失败",
    "account.unlock": "解除登录锁定",
    "activation.issue": "生成激活码",
    "activity.attendance": "活动签到",
    "activity.create": "创建活动",
    "agreement.amend": "修订发展协议",
    "agreement.end": "终止发展协议",
    "agreement.sign": "签订发展协议",
    "api_key.create": "新建 POS 密钥",
    "api_key.revoke": "吊销 POS 密钥",
    "api_token.issue": "接口登录（令牌）",
    "api_token.revoke": "接口退出（令牌作废）",
    "card.issue": "发卡",
    "card.offline_key": "手机离线卡码开通",
    "card.replace": "补办卡",
    "card.resume": "恢复卡",
    "card.revoke": "注销卡",
    "card.suspend": "暂停卡",
    "category.create": "新增积分类别",
    "category.disable": "停用积分类别",
    "category.enable": "启用积分类别",
    "category.update": "修改积分类别",
    "category.change_points": "修改积分类别分值",
    "claim.certify": "认定申报",
    "claim.photos": "上传申报照片",
    "claim.reject": "退回申报",
    "claim.submit": "提交申报",
    "claim.withdraw": "撤回申报",
    "demo.seed": "生成演示数据",
    "ledger.adjust": "积分调整",
    "ledger.reverse": "冲正",
    "member.add": "登记党员",
    "member.export": "下载个人数据",
    "member.transfer": "组织关系转接",
    "member.update": "修改党员信息",
    "merchant.create": "新增联盟商家",
    "merchant.resume": "恢复商家",
    "merchant.suspend": "暂停商家",
    "merchant.update": "修改商家信息",
    "redemption.create": "优惠结算",
    "redemption.void": "撤销结算",
    "roster.import": "导入名册",
    "tier_policy.publish": "发布等级标准",
}

OBJECT_LABELS = {
    "access_token": "接口令牌",
    "account": "账号",
    "activation_batch": "激活码批次",
    "activity": "活动",
    "agreement": "发展协议",
    "api_key": "POS 密钥",
    "card": "动力卡",
    "category": "积分类别",
    "claim": "申报",
    "community": "社区",
    "demo": "演示数据",
    "ledger_entry": "积分记录",
    "member": "党员",
    "merchant": "商家",
    "point_category": "积分类别",
    "redemption": "结算",
    "tier_policy": "等级标准",
}

DETAIL_LABELS = {
    "after": "修改后",
    "already_recorded": "此前已签到",
    "before": "修改前",
    "amount_fen": "消费金额",
    "batch": "批次",
    "cap_fen": "每笔封顶",
    "category": "类别",
    "changed": "修改",
    "code": "代码",
    "default_points": "默认分值",
    "effective_from": "生效时间",
    "employer": "工作单位",
    "joined_on": "报到日期",
    "community_id": "社区",
    "count": "数量",
    "created": "新增",
    "credited": "本次签到",
    "discount_fen": "优惠金额",
    "from_community_id": "转出社区",
    "generation": "卡次",
    "gold": "金卡门槛",
    "gold_pay_percent": "金卡折扣",
    "ip": "IP 地址",
    "label": "名称",
    "ledger_entry_id": "积分记录",
    "ledger_entries": "积分记录数",
    "manager": "店长账号",
    "max_points": "最高分值",
    "member_id": "党员",
    "member_ids": "党员",
    "members": "党员人数",
    "merchant_id": "商家",
    "min_spend_fen": "最低消费",
    "name": "名称",
    "note": "备注",
    "phone": "手机号",
    "points": "分值",
    "prefix": "密钥前缀",
    "proposed": "申报分值",
    "reason": "原因",
    "reverses_id": "冲正的记录",
    "role": "角色",
    "silver": "银卡门槛",
    "silver_pay_percent": "银卡折扣",
    "status": "状态",
    "title": "标题",
    "to_community_id": "转入社区",
    "token_kind": "卡码类型",
    "unchanged": "未变",
    "updated": "更新",
    "username": "用户名",
    "valid_from": "生效日期",
    "valid_until": "有效期至",
    "version": "版本",
    "window_months": "积分周期（月）",
}
# Keys never shown, whatever an event holds: nothing secret is recorded, and none ever will be.
_SECRET_KEY = re.compile(r"password|secret|hash|otp|credential|^key$|_key$|^token$", re.IGNORECASE)
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_MAX_VALUE = 120
_MAX_LISTED = 10


@dataclass(frozen=True)
class LogFilter:
    """What the log is narrowed to: the person who acted (username, name or label), the
    community concerned, the kind of action, business dates (inclusive), and one object."""

    person: str = ""
    community_id: int | None = None
    kind: str = ""
    date_from: date | None = None
    date_to: date | None = None
    object_type: str | None = None
    object_id: int | None = None


@dataclass(frozen=True)
class LogObject:
    """What an event was about, in words, with what a page needs to link to it."""

    type_label: str
    name: str
    account_id: int | None = None
    member_no: str | None = None


@dataclass(frozen=True)
class LogLine:
    """One event of the log in words."""

    event: AuditEvent
    who: str
    username: str | None
    action_label: str
    subject: LogObject | None
    details: list[tuple[str, str]]

    @property
    def action(self) -> str:
        return self.event.action


@dataclass(frozen=True)
class LogPage:
    """A page of the log and whether another follows (the log is never counted)."""

    items: list[LogLine]
    page: int
    page_size: int
    has_next: bool


def action_label(action: str) -> str:
    """The action in Chinese words; an unknown code as it is."""
    return ACTION_LABELS.get(action, action)


def _kind_condition(kind: LogKind) -> ColumnElement[bool]:
    matches = [AuditEvent.action.startswith(prefix, autoescape=True) for prefix in kind.prefixes]
    if kind.actions:
        matches.append(AuditEvent.action.in_(kind.actions))
    condition = or_(*matches)
    if kind.excluding:
        condition = and_(condition, AuditEvent.action.not_in(kind.excluding))
    return condition


def _person_condition(session: Session, person: str) -> ColumnElement[bool]:
    """Events by the account with this username or name, by this label (``cli``,
    ``api-key:ab12cd``), and failed sign-ins typed with this username."""
    accounts = session.execute(
        select(Account.id, Account.username).where(
            or_(func.lower(Account.username) == person.lower(), Account.display_name == person)
        )
    ).all()
    usernames = {person, *(username for _, username in accounts)}
    labels = {person, f"api-key:{person}", *(f"sign-in:{name}" for name in usernames)}
    return or_(
        AuditEvent.actor_account_id.in_([account_id for account_id, _ in accounts]),
        AuditEvent.actor_label.in_(labels),
    )


def _community_condition(community_id: int) -> ColumnElement[bool]:
    """Events that concern a community: done by one of its accounts (its secretary, its
    members), or about its members, their accounts, cards and sales (by the member's community
    now), or about claims, activities and ledger entries recorded in it, its agreements, or the
    community itself (a roster import)."""

    def about(object_type: str, ids: Select[Any]) -> ColumnElement[bool]:
        return and_(AuditEvent.object_type == object_type, AuditEvent.object_id.in_(ids))

    members = select(Member.id).where(Member.community_id == community_id)
    return or_(
        AuditEvent.actor_account_id.in_(
            select(Account.id).where(Account.community_id == community_id)
        ),
        about("member", members),
        about("account", select(Account.id).where(Account.community_id == community_id)),
        about("card", select(Card.id).where(Card.member_id.in_(members))),
        about("redemption", select(Redemption.id).where(Redemption.member_id.in_(members))),
        about("claim", select(Claim.id).where(Claim.community_id == community_id)),
        about("activity", select(Activity.id).where(Activity.community_id == community_id)),
        about(
            "ledger_entry",
            select(LedgerEntry.id).where(LedgerEntry.community_id == community_id),
        ),
        about("agreement", select(Agreement.id).where(Agreement.community_id == community_id)),
        and_(AuditEvent.object_type == "community", AuditEvent.object_id == community_id),
    )


def log_statement(session: Session, filters: LogFilter) -> Select[tuple[AuditEvent]]:
    """The log narrowed by ``filters``, newest first."""
    statement = select(AuditEvent).order_by(AuditEvent.recorded_at.desc(), AuditEvent.id.desc())
    person = (filters.person or "").strip()[:MAX_PERSON_QUERY]
    if person:
        statement = statement.where(_person_condition(session, person))
    if filters.community_id is not None:
        statement = statement.where(_community_condition(filters.community_id))
    if filters.kind:
        kind = LOG_KIND_BY_CODE.get(filters.kind)
        if kind is None:
            raise ValidationFailed("没有这种操作类别。", fields={"kind": ["没有这种操作类别。"]})
        statement = statement.where(_kind_condition(kind))
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        message = "开始日期不能晚于结束日期。"
        raise ValidationFailed(message, fields={"date_to": [message]})
    if filters.date_from:
        statement = statement.where(
            AuditEvent.recorded_at >= business_day_bounds(filters.date_from)[0]
        )
    if filters.date_to:
        statement = statement.where(
            AuditEvent.recorded_at < business_day_bounds(filters.date_to)[1]
        )
    if filters.object_type is not None:
        statement = statement.where(
            AuditEvent.object_type == filters.object_type,
            AuditEvent.object_id == filters.object_id,
        )
    return statement


def audit_log(
    session: Session,
    actor: Actor,
    filters: LogFilter = LogFilter(),
    page: int = 1,
    page_size: int = LOG_PAGE_SIZE,
) -> LogPage:
    """The audit log (审计日志) for the district administrator: newest first, filtered, in words."""
    require_role(actor, Role.DISTRICT_ADMIN)
    check_page(page, page_size)
    statement = log_statement(session, filters)
    rows = list(session.scalars(statement.limit(page_size + 1).offset((page - 1) * page_size)))
    events = rows[:page_size]
    return LogPage(describe_events(session, events), page, page_size, len(rows) > page_size)


# -- the log in words ------------------------------------------------------------------------


@dataclass
class _Names:
    """Names of what a page of events mentions, looked up once per kind of record."""

    accounts: dict[int, Account]
    members: dict[int, Member]
    communities: dict[int, Community]
    merchants: dict[int, Merchant]
    cards: dict[int, Card]
    activities: dict[int, str]
    claims: dict[int, int]  # claim -> member
    entries: dict[int, int]  # ledger entry -> member
    redemptions: dict[int, tuple[str, int]]  # number, member
    agreements: dict[int, tuple[int, int | None]]  # merchant, community
    api_keys: dict[int, tuple[str, str, int]]  # label, prefix, merchant
    categories: dict[int, str]
    policies: dict[int, int]  # tier policy -> version


def _ids(events: Sequence[AuditEvent], object_type: str) -> set[int]:
    return {e.object_id for e in events if e.object_type == object_type and e.object_id}


def _detail_ids(events: Sequence[AuditEvent], *keys: str) -> set[int]:
    found = set()
    for event in events:
        for key in keys:
            value = (event.details or {}).get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                found.add(value)
    return found


def _by_id(session: Session, model: Any, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids)))}


def _pairs(session: Session, statement: Select[Any], ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {
        row[0]: row[1] if len(row) == 2 else tuple(row[1:]) for row in session.execute(statement)
    }


def _look_up(session: Session, events: Sequence[AuditEvent]) -> _Names:
    claim_ids, entry_ids = _ids(events, "claim"), _ids(events, "ledger_entry")
    redemption_ids, agreement_ids = _ids(events, "redemption"), _ids(events, "agreement")
    key_ids = _ids(events, "api_key")
    category_ids = _ids(events, "point_category") | _ids(events, "category")
    policy_ids = _ids(events, "tier_policy")
    names = _Names(
        accounts=_by_id(
            session,
            Account,
            _ids(events, "account") | {e.actor_account_id for e in events if e.actor_account_id},
        ),
        members={},
        communities={},
        merchants={},
        cards=_by_id(session, Card, _ids(events, "card")),
        activities=_pairs(
            session,
            select(Activity.id, Activity.title).where(Activity.id.in_(_ids(events, "activity"))),
            _ids(events, "activity"),
        ),
        claims=_pairs(
            session, select(Claim.id, Claim.member_id).where(Claim.id.in_(claim_ids)), claim_ids
        ),
        entries=_pairs(
            session,
            select(LedgerEntry.id, LedgerEntry.member_id).where(LedgerEntry.id.in_(entry_ids)),
            entry_ids,
        ),
        redemptions=_pairs(
            session,
            select(Redemption.id, Redemption.number, Redemption.member_id).where(
                Redemption.id.in_(redemption_ids)
            ),
            redemption_ids,
        ),
        agreements=_pairs(
            session,
            select(Agreement.id, Agreement.merchant_id, Agreement.community_id).where(
                Agreement.id.in_(agreement_ids)
            ),
            agreement_ids,
        ),
        api_keys=_pairs(
            session,
            select(ApiKey.id, ApiKey.label, ApiKey.prefix, ApiKey.merchant_id).where(
                ApiKey.id.in_(key_ids)
            ),
            key_ids,
        ),
        categories=_pairs(
            session,
            select(PointCategory.id, PointCategory.name).where(PointCategory.id.in_(category_ids)),
            category_ids,
        ),
        policies=_pairs(
            session,
            select(TierPolicy.id, TierPolicy.version).where(TierPolicy.id.in_(policy_ids)),
            policy_ids,
        ),
    )
    member_ids = (
        _ids(events, "member")
        | _detail_ids(events, "member_id")
        | {card.member_id for card in names.cards.values()}
        | set(names.claims.values())
        | set(names.entries.values())
        | {member for _, member in names.redemptions.values()}
        | {a.member_id for a in names.accounts.values() if a.member_id}
    )
    names.members = _by_id(session, Member, member_ids)
    names.communities = _by_id(
        session,
        Community,
        _ids(events, "community")
        | _detail_ids(events, "community_id", "from_community_id", "to_community_id")
        | {c for _, c in names.agreements.values() if c}
        | {a.community_id for a in names.accounts.values() if a.community_id},
    )
    names.merchants = _by_id(
        session,
        Merchant,
        _ids(events, "merchant")
        | _detail_ids(events, "merchant_id")
        | {m for m, _ in names.agreements.values()}
        | {m for _, _, m in names.api_keys.values()}
        | {a.merchant_id for a in names.accounts.values() if a.merchant_id},
    )
    return names


def describe_events(session: Session, events: Sequence[AuditEvent]) -> list[LogLine]:
    """Each event in words, in a dozen queries at most for the whole page."""
    names = _look_up(session, events)
    return [
        LogLine(
            event=event,
            who=_who(event, names),
            username=_username(event, names),
            action_label=action_label(event.action),
            subject=_subject(event, names),
            details=_details(event, names),
        )
        for event in events
    ]


def _who(event: AuditEvent, names: _Names) -> str:
    account = names.accounts.get(event.actor_account_id or 0)
    if account is not None:
        return account.display_name
    kind, _, rest = event.actor_label.partition(":")
    if kind == "api-key":
        return f"POS 密钥 {rest}"
    if kind == "sign-in":
        return f"登录尝试（用户名 {rest}）"
    if kind == "activation":
        return f"激活尝试（党员编号 {rest}）"
    if event.actor_label == "cli":
        return "命令行（运维）"
    return event.actor_label


def _username(event: AuditEvent, names: _Names) -> str | None:
    account = names.accounts.get(event.actor_account_id or 0)
    return account.username if account is not None else None


def _member_name(names: _Names, member_id: int | None) -> str:
    member = names.members.get(member_id or 0)
    return f"{member.member_no} {member.name}" if member else f"#{member_id}"


def _merchant_name(names: _Names, merchant_id: int | None) -> str:
    merchant = names.merchants.get(merchant_id or 0)
    return f"{merchant.code} {merchant.name}" if merchant else f"#{merchant_id}"


def _community_name(names: _Names, community_id: int | None) -> str:
    community = names.communities.get(community_id or 0)
    return f"{community.code} {community.name}" if community else f"#{community_id}"


def _subject(event: AuditEvent, names: _Names) -> LogObject | None:
    """What the event was about, named: an account's username, a member's number and name …"""
    kind, object_id = event.object_type, event.object_id
    label = OBJECT_LABELS.get(kind, kind)
    if object_id is None:
        return None
    if kind == "account" and object_id in names.accounts:
        account = names.accounts[object_id]
        return LogObject(label, account.username, account_id=account.id)
    if kind == "member" and object_id in names.members:
        member = names.members[object_id]
        return LogObject(label, _member_name(names, member.id), member_no=member.member_no)
    if kind == "card" and object_id in names.cards:
        card = names.cards[object_id]
        member = names.members.get(card.member_id)
        name = f"尾号 {card.card_no[-4:]}" + (f"（{member.name}）" if member else "")
        return LogObject(label, name, member_no=member.member_no if member else None)
    member_of = {"claim": names.claims, "ledger_entry": names.entries}.get(kind, {})
    if object_id in member_of:
        member = names.members.get(member_of[object_id])
        name = f"#{object_id}" + (f"（{member.name}）" if member else "")
        return LogObject(label, name, member_no=member.member_no if member else None)
    if kind == "redemption" and object_id in names.redemptions:
        number, member_id = names.redemptions[object_id]
        member = names.members.get(member_id)
        return LogObject(label, number, member_no=member.member_no if member else None)
    if kind == "agreement" and object_id in names.agreements:
        merchant_id, community_id = names.agreements[object_id]
        where = _community_name(names, community_id) if community_id else "全部社区"
        return LogObject(label, f"{_merchant_name(names, merchant_id)} · {where}")
    if kind == "api_key" and object_id in names.api_keys:
        key_label, prefix, merchant_id = names.api_keys[object_id]
        return LogObject(label, f"{key_label}（{prefix}，{_merchant_name(names, merchant_id)}）")
    if kind == "activity" and object_id in names.activities:
        return LogObject(label, names.activities[object_id])
    if kind in ("point_category", "category") and object_id in names.categories:
        return LogObject(label, names.categories[object_id])
    if kind == "tier_policy" and object_id in names.policies:
        return LogObject(label, f"第 {names.policies[object_id]} 版")
    if kind == "merchant":
        return LogObject(label, _merchant_name(names, object_id))
    if kind == "community":
        return LogObject(label, _community_name(names, object_id))
    return LogObject(label, f"#{object_id}")


def _details(event: AuditEvent, names: _Names) -> list[tuple[str, str]]:
    """The event's details as readable (label, value) pairs, secrets left out."""
    details = event.details if isinstance(event.details, dict) else {}
    return [
        (DETAIL_LABELS.get(key, key), _value(key, value, names))
        for key, value in details.items()
        if not _SECRET_KEY.search(key) and value not in (None, "", [], {})
    ]


def _value(key: str, value: Any, names: _Names) -> str:
    """One detail's value in words: money in yuan, 折, names for ids, lists shortened."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int) and key.endswith("_fen"):
        return f"¥{format_fen(value)}"
    if isinstance(value, int) and key.endswith("pay_percent"):
        return format_zhe(value)
    if isinstance(value, int) and key == "member_id":
        return _member_name(names, value)
    if isinstance(value, int) and key == "merchant_id":
        return _merchant_name(names, value)
    if isinstance(value, int) and key.endswith("community_id"):
        return _community_name(names, value)
    if key == "role" and isinstance(value, str):
        return ROLE_LABELS.get(value, value)  # type: ignore[call-overload]
    if isinstance(value, dict):
        return _short("；".join(_change(k, v) for k, v in value.items()))
    if isinstance(value, str) and _INSTANT.match(value):
        return _instant(value)
    if isinstance(value, list):
        if key.endswith("_ids"):
            return f"{len(value)} 人" if key == "member_ids" else f"{len(value)} 项"
        shown = "、".join(str(item) for item in value[:_MAX_LISTED])
        more = f" 等 {len(value)} 项" if len(value) > _MAX_LISTED else ""
        return _short(shown + more)
    return _short(str(value))


def _change(key: str, value: Any) -> str:
    """A changed field (``{"name": ["张三", "张三丰"]}``) as ``name：张三 → 张三丰``."""
    label = DETAIL_LABELS.get(key, key)
    if isinstance(value, list) and len(value) == 2:
        return f"{label}：{value[0]} → {value[1]}"
    return f"{label}：{value}"


def _instant(text: str) -> str:
    """A recorded ISO instant in Beijing time, to the minute (as it is if it does not parse)."""
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        return _short(text)
    if instant.tzinfo is None:
        return instant.strftime("%Y-%m-%d %H:%M")
    return instant.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")


def _short(text: str) -> str:
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"

"""Development agreements (发展协议): signing, amending, and finding the terms in force."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session, aliased, lazyload

from rewards.clock import utcnow
from rewards.errors import NoAgreement, NotFound, ValidationFailed
from rewards.models import Agreement, AgreementVersion, Community, Merchant, Role, Tier
from rewards.services.audit import Actor, record, require_community, require_role


@dataclass(frozen=True)
class Terms:
    """An agreement version's terms as they apply to one tier."""

    version: AgreementVersion
    tier: Tier
    pay_percent: int
    cap_fen: int | None
    min_spend_fen: int


def sign_agreement(
    session: Session,
    actor: Actor,
    merchant_id: int,
    community_id: int | None,
    gold_pay_percent: int,
    silver_pay_percent: int,
    valid_from: date,
    valid_until: date | None = None,
    cap_fen: int | None = None,
    min_spend_fen: int = 0,
    note: str = "",
    now: datetime | None = None,
) -> AgreementVersion:
    """Sign an agreement, or amend it: each call adds a version; old versions are kept as signed.

    ``community_id`` None means the merchant serves members of every community.
    """
    now = now or utcnow()
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    if community_id is None:
        require_role(actor, Role.DISTRICT_ADMIN)
    else:
        require_community(actor, community_id, "找不到该社区。")
        if session.get(Community, community_id) is None:
            raise NotFound("找不到该社区。")
    if session.get(Merchant, merchant_id) is None:
        raise NotFound("找不到该商家。")
    if not 1 <= gold_pay_percent <= 100 or not 1 <= silver_pay_percent <= 100:
        raise ValidationFailed("折扣必须在 1 到 100 之间（88 表示 88折）。")
    if gold_pay_percent > silver_pay_percent:
        raise ValidationFailed("金卡的折扣不能少于银卡（金卡折数应不高于银卡）。")
    if cap_fen is not None and cap_fen <= 0:
        raise ValidationFailed("单笔优惠上限必须大于 0，不设上限请留空。")
    if min_spend_fen < 0:
        raise ValidationFailed("最低消费不能为负数。")
    if valid_until is not None and valid_until < valid_from:
        raise ValidationFailed("协议的截止日期不能早于生效日期。")

    agreement = session.scalar(
        select(Agreement)
        .where(
            Agreement.merchant_id == merchant_id,
            Agreement.community_id.is_(None)
            if community_id is None
            else Agreement.community_id == community_id,
        )
        .with_for_update(of=Agreement)
    )
    if agreement is None:
        agreement = Agreement(merchant_id=merchant_id, community_id=community_id, created_at=now)
        session.add(agreement)
        session.flush()
    latest = (
        session.scalar(
            select(func.max(AgreementVersion.version)).where(
                AgreementVersion.agreement_id == agreement.id
            )
        )
        or 0
    )
    version = AgreementVersion(
        agreement_id=agreement.id,
        version=latest + 1,
        gold_pay_percent=gold_pay_percent,
        silver_pay_percent=silver_pay_percent,
        cap_fen=cap_fen,
        min_spend_fen=min_spend_fen,
        valid_from=valid_from,
        valid_until=valid_until,
        note=note,
        signed_by_id=actor.account_id,
        signed_at=now,
    )
    session.add(version)
    session.flush()
    record(
        session,
        actor,
        "agreement.sign" if latest == 0 else "agreement.amend",
        "agreement",
        agreement.id,
        at=now,
        version=version.version,
        gold_pay_percent=gold_pay_percent,
        silver_pay_percent=silver_pay_percent,
        cap_fen=cap_fen,
        min_spend_fen=min_spend_fen,
    )
    return version


def version_in_force(session: Session, agreement_id: int, on: date) -> AgreementVersion | None:
    """The newest version already in effect on ``on`` and not yet expired."""
    version = session.scalar(
        select(AgreementVersion)
        .where(AgreementVersion.agreement_id == agreement_id, AgreementVersion.valid_from <= on)
        .order_by(AgreementVersion.version.desc())
        .limit(1)
    )
    return version if version is not None and version.in_effect_on(on) else None


@cache
def _terms_statement() -> Select[tuple[int | None, AgreementVersion]]:
    """Each agreement of a merchant applying to a community, with its newest version already in
    effect (NULL if none): the version ``version_in_force`` picks, for all of them in one query.

    Built once: the checkout runs it on every call.
    """
    newer = aliased(AgreementVersion)
    newest = (
        select(func.max(newer.version))
        .where(newer.agreement_id == Agreement.id, newer.valid_from <= bindparam("on"))
        .correlate(Agreement)
        .scalar_subquery()
    )
    return (
        select(Agreement.community_id, AgreementVersion)
        .select_from(Agreement)
        .outerjoin(
            AgreementVersion,
            and_(AgreementVersion.agreement_id == Agreement.id, AgreementVersion.version == newest),
        )
        .where(
            Agreement.merchant_id == bindparam("merchant_id"),
            or_(
                Agreement.community_id == bindparam("community_id"),
                Agreement.community_id.is_(None),
            ),
        )
        .options(lazyload(AgreementVersion.agreement))
    )


def terms_for(session: Session, merchant_id: int, community_id: int, tier: Tier, on: date) -> Terms:
    """The discount terms a merchant grants a member of ``community_id`` at ``tier`` on ``on``.

    A community's own agreement takes precedence over the merchant's district-wide one.
    """
    rows = session.execute(
        _terms_statement(), {"merchant_id": merchant_id, "community_id": community_id, "on": on}
    ).all()
    for _, version in sorted(rows, key=lambda row: row[0] is None):
        if version is not None and version.in_effect_on(on):
            pay = version.gold_pay_percent if tier is Tier.GOLD else version.silver_pay_percent
            return Terms(version, tier, pay, version.cap_fen, version.min_spend_fen)
    if rows:
        raise NoAgreement("本店与持卡人所在社区的共建协议不在有效期内，本次不能享受优惠。")
    raise NoAgreement()


def agreements_of_merchant(session: Session, merchant_id: int) -> list[Agreement]:
    """A merchant's agreements with their versions, district-wide first."""
    return list(
        session.scalars(
            select(Agreement)
            .where(Agreement.merchant_id == merchant_id)
            .order_by(Agreement.community_id.is_not(None), Agreement.community_id)
        ).unique()
    )

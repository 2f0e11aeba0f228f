"""Development agreements (发展协议): signing, amending, ending, and finding the terms in force
and the agreements about to run out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, NoReturn

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, lazyload, selectinload

from rewards.clock import business_date, utcnow
from rewards.errors import Conflict, NoAgreement, NotFound, ValidationFailed
from rewards.models import Account, Agreement, AgreementVersion, Community, Merchant, Role, Tier
from rewards.services.audit import Actor, record, require_community, require_role
from rewards.services.paging import DEFAULT_PAGE_SIZE, Page, check_page, paginate


@dataclass(frozen=True)
class Terms:
    """An agreement version's terms as they apply to one tier."""

    version: AgreementVersion
    tier: Tier
    pay_percent: int
    cap_fen: int | None
    min_spend_fen: int


# How far ahead the district looks for agreements about to run out (即将到期).
EXPIRING_WITHIN_DAYS = 60
AGREEMENT_NOT_FOUND = "找不到该协议。"
NOTE_LENGTH = 200


@dataclass(frozen=True)
class TermsInput:
    """The terms of a version to be signed: 折 per tier (88 = 88折), cap, minimum, validity."""

    gold_pay_percent: int
    silver_pay_percent: int
    valid_from: date
    valid_until: date | None = None
    cap_fen: int | None = None
    min_spend_fen: int = 0
    note: str = ""

    def check(self) -> None:
        """Refuse incoherent terms, naming the field (gold, silver, cap, min_spend, valid_until)."""
        for name, percent in (
            ("gold", self.gold_pay_percent),
            ("silver", self.silver_pay_percent),
        ):
            if not 1 <= percent <= 100:
                _refuse(name, "折扣必须在 1 到 100 之间（88 表示 88折）。")
        if self.gold_pay_percent > self.silver_pay_percent:
            _refuse("gold", "金卡的折扣不能少于银卡（金卡折数应不高于银卡）。")
        if self.cap_fen is not None and self.cap_fen <= 0:
            _refuse("cap", "单笔优惠上限必须大于 0，不设上限请留空。")
        if self.min_spend_fen < 0:
            _refuse("min_spend", "最低消费不能为负数。")
        if self.valid_until is not None and self.valid_until < self.valid_from:
            _refuse("valid_until", "协议的截止日期不能早于生效日期。")
        if len(self.note) > NOTE_LENGTH:
            _refuse("note", f"备注最多 {NOTE_LENGTH} 个字。")

    @classmethod
    def copy_of(cls, version: AgreementVersion, **changes: Any) -> TermsInput:
        """A version's terms, with ``changes``."""
        terms = cls(
            version.gold_pay_percent,
            version.silver_pay_percent,
            version.valid_from,
            version.valid_until,
            version.cap_fen,
            version.min_spend_fen,
            "",
        )
        return replace(terms, **changes)


def _refuse(field: str, message: str, **details: Any) -> NoReturn:
    raise ValidationFailed(message, fields={field: [message]}, **details)


def _community_is(community_id: int | None) -> ColumnElement[bool]:
    """The agreement of this community, or the district-wide one (None)."""
    if community_id is None:
        return Agreement.community_id.is_(None)
    return Agreement.community_id == community_id


def _add_version(
    session: Session,
    actor: Actor,
    agreement_id: int,
    terms: TermsInput,
    now: datetime,
    action: str | None = None,
) -> AgreementVersion:
    """Append the next version of an agreement (never an edit), with its audit record."""
    latest = (
        session.scalar(
            select(func.max(AgreementVersion.version)).where(
                AgreementVersion.agreement_id == agreement_id
            )
        )
        or 0
    )
    version = AgreementVersion(
        agreement_id=agreement_id,
        version=latest + 1,
        gold_pay_percent=terms.gold_pay_percent,
        silver_pay_percent=terms.silver_pay_percent,
        cap_fen=terms.cap_fen,
        min_spend_fen=terms.min_spend_fen,
        valid_from=terms.valid_from,
        valid_until=terms.valid_until,
        note=terms.note,
        signed_by_id=actor.account_id,
        signed_at=now,
    )
    session.add(version)
    session.flush()
    record(
        session,
        actor,
        action or ("agreement.sign" if latest == 0 else "agreement.amend"),
        "agreement",
        agreement_id,
        at=now,
        version=version.version,
        gold_pay_percent=terms.gold_pay_percent,
        silver_pay_percent=terms.silver_pay_percent,
        cap_fen=terms.cap_fen,
        min_spend_fen=terms.min_spend_fen,
        valid_from=terms.valid_from.isoformat(),
        valid_until=terms.valid_until.isoformat() if terms.valid_until else None,
    )
    return version


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
    require_role(actor, Role.DISTRICT_ADMIN)
    if community_id is not None and session.get(Community, community_id) is None:
        raise NotFound("找不到该社区。")
    if session.get(Merchant, merchant_id) is None:
        raise NotFound("找不到该商家。")
    terms = TermsInput(
        gold_pay_percent, silver_pay_percent, valid_from, valid_until, cap_fen, min_spend_fen, note
    )
    terms.check()

    agreement = session.scalar(
        select(Agreement)
        .where(Agreement.merchant_id == merchant_id, _community_is(community_id))
        .with_for_update(of=Agreement)
    )
    if agreement is None:
        agreement = Agreement(merchant_id=merchant_id, community_id=community_id, created_at=now)
        session.add(agreement)
        session.flush()
    return _add_version(session, actor, agreement.id, terms, now)


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


# -- the district office: signing for many communities, amending, ending (区务：发展协议) --------


def sign_agreements(
    session: Session,
    actor: Actor,
    merchant_id: int,
    community_ids: Sequence[int] | None,
    terms: TermsInput,
    now: datetime | None = None,
) -> list[AgreementVersion]:
    """Sign a merchant's new agreements: one district-wide (``community_ids`` None) or one per
    chosen community. A community the merchant already has an agreement with is refused (that
    one is amended instead), and then nothing is signed."""
    now = now or utcnow()
    require_role(actor, Role.DISTRICT_ADMIN)
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        _refuse("merchant", "找不到该商家。")
    targets = _signing_targets(session, community_ids)
    terms.check()
    taken = session.scalars(
        select(Agreement).where(
            Agreement.merchant_id == merchant_id,
            or_(*(_community_is(target) for target in targets)),
        )
    ).all()
    if taken:
        _refuse_taken(merchant, list(taken))
    agreements = [
        Agreement(merchant_id=merchant_id, community_id=target, created_at=now)
        for target in targets
    ]
    try:
        # A concurrent signing for the same community meets the UNIQUE constraint.
        with session.begin_nested():
            session.add_all(agreements)
    except IntegrityError:
        raise Conflict("该商家的协议刚刚已由他人签订，请刷新后在该协议上修订。") from None
    return [_add_version(session, actor, agreement.id, terms, now) for agreement in agreements]


def _signing_targets(session: Session, community_ids: Sequence[int] | None) -> list[int | None]:
    """The communities to sign with (None: the district-wide agreement), each known."""
    if community_ids is None:
        return [None]
    wanted = list(dict.fromkeys(community_ids))
    if not wanted:
        _refuse("communities", "请选择至少一个社区，或选择“全部社区”。")
    known = set(session.scalars(select(Community.id).where(Community.id.in_(wanted))))
    if len(known) != len(wanted):
        _refuse("communities", "找不到所选的社区，请刷新后重新选择。")
    return list(wanted)


def _refuse_taken(merchant: Merchant, taken: list[Agreement]) -> NoReturn:
    """Refuse a second agreement for the same community, naming those to amend instead."""
    names = "、".join(
        f"{agreement.community.code} {agreement.community.name}"
        if agreement.community
        else "全部社区（区级协议）"
        for agreement in taken
    )
    _refuse(
        "communities",
        f"{merchant.code} {merchant.name} 已与 {names} 签有协议，不能重复签订；"
        "要改变条款或续期，请在该协议上修订。",
        existing=[agreement.id for agreement in taken],
    )


def _locked_agreement(session: Session, actor: Actor, agreement_id: int) -> Agreement:
    """The agreement to change, locked so that two changes number their versions in turn."""
    require_role(actor, Role.DISTRICT_ADMIN)
    agreement = session.scalar(
        select(Agreement).where(Agreement.id == agreement_id).with_for_update(of=Agreement)
    )
    if agreement is None:
        raise NotFound(AGREEMENT_NOT_FOUND)
    return agreement


def _newest(session: Session, agreement_id: int) -> AgreementVersion:
    version = session.scalar(
        select(AgreementVersion)
        .where(AgreementVersion.agreement_id == agreement_id)
        .order_by(AgreementVersion.version.desc())
        .limit(1)
    )
    assert version is not None, "an agreement is created with its first version"
    return version


def amend_agreement(
    session: Session,
    actor: Actor,
    agreement_id: int,
    terms: TermsInput,
    now: datetime | None = None,
) -> AgreementVersion:
    """Amend an agreement (修订): a new version from ``terms.valid_from``, today or later and not
    before the newest version's start. Sales already made keep the terms they were made under."""
    now = now or utcnow()
    agreement = _locked_agreement(session, actor, agreement_id)
    today = business_date(now)
    newest = _newest(session, agreement.id)
    if terms.valid_from < today:
        _refuse(
            "valid_from",
            f"修订不能追溯：新版本最早从今天（{today.isoformat()}）起生效；"
            "已完成的结算始终保留当时的条款。",
        )
    if terms.valid_from < newest.valid_from:
        _refuse(
            "valid_from",
            f"第 {newest.version} 版从 {newest.valid_from.isoformat()} 起生效，"
            "新版本的生效日期不能早于它。",
        )
    terms.check()
    return _add_version(session, actor, agreement.id, terms, now, "agreement.amend")


def end_agreement(
    session: Session,
    actor: Actor,
    agreement_id: int,
    last_day: date,
    note: str = "",
    now: datetime | None = None,
) -> AgreementVersion:
    """End an agreement (终止): a new version with the terms in force on ``last_day`` that ends
    that day; from the next day the checkout finds no agreement. Versions are never edited."""
    now = now or utcnow()
    agreement = _locked_agreement(session, actor, agreement_id)
    today = business_date(now)
    if last_day < today:
        _refuse("last_day", f"终止不能追溯：最后有效日不能早于今天（{today.isoformat()}）。")
    versions = list(
        session.scalars(
            select(AgreementVersion).where(AgreementVersion.agreement_id == agreement.id)
        )
    )
    ending = _in_force(versions, last_day)
    if ending is None:
        _refuse("last_day", _not_in_force_on(versions, last_day))
    if ending.valid_until == last_day:
        _refuse("last_day", f"该协议本来就在 {last_day.isoformat()} 到期，无需终止。")
    # From today (or the version's own start, if later), so no day before changes its terms.
    terms = TermsInput.copy_of(
        ending,
        valid_from=max(today, ending.valid_from),
        valid_until=last_day,
        note=note.strip() or f"终止协议：{last_day.isoformat()} 为最后有效日",
    )
    terms.check()
    return _add_version(session, actor, agreement.id, terms, now, "agreement.end")


def _not_in_force_on(versions: Sequence[AgreementVersion], day: date) -> str:
    """Why an agreement cannot end on ``day``: it is not in force then."""
    if all(version.valid_from > day for version in versions):
        first = min(version.valid_from for version in versions)
        return f"协议从 {first.isoformat()} 起才生效，最后有效日不能早于生效日期。"
    return f"协议在 {day.isoformat()} 已不在有效期内，无需终止；要延长有效期请修订。"


# -- reading agreements: the terms in force, what comes next, when cover ends ------------------


@dataclass(frozen=True)
class AgreementStanding:
    """An agreement as it stands on ``on``: its versions, the one in force, the ones to come."""

    agreement: Agreement
    versions: list[AgreementVersion]  # oldest first
    on: date
    current: AgreementVersion | None
    upcoming: list[AgreementVersion]  # versions that will still take effect, soonest first
    ends_on: date | None  # while in force: the last day of unbroken cover; None: open-ended
    overridden: bool = False  # district-wide, but the community's own agreement is in force
    signers: Mapping[int, str] = field(default_factory=dict)  # account id -> display name

    @property
    def status(self) -> str:
        """in_force (生效中), upcoming (未生效) or ended (已终止/已到期)."""
        if self.current is not None:
            return "in_force"
        return "upcoming" if self.upcoming else "ended"

    @property
    def ended_on(self) -> date | None:
        """When an ended agreement's cover stopped (its newest version's last day)."""
        return self.versions[-1].valid_until if self.status == "ended" else None

    @property
    def days_left(self) -> int | None:
        """Days from ``on`` to the last day of cover (0: it ends today)."""
        return (self.ends_on - self.on).days if self.ends_on is not None else None

    def expires_within(self, days: int) -> bool:
        """Whether cover ends within ``days`` days of ``on``."""
        return self.days_left is not None and self.days_left <= days


def _in_force(versions: Sequence[AgreementVersion], day: date) -> AgreementVersion | None:
    """What ``version_in_force`` finds on ``day``, from versions already loaded."""
    started = [version for version in versions if version.valid_from <= day]
    if not started:
        return None
    newest = max(started, key=lambda version: version.version)
    return newest if newest.in_effect_on(day) else None


def _last_day_of_cover(versions: Sequence[AgreementVersion], on: date) -> date | None:
    """The last day of the unbroken cover that includes ``on`` (None: no end in sight).

    Which version applies changes only where a version starts or the day after one ends, so
    the first such day without cover ends the stretch.
    """
    changes = {version.valid_from for version in versions} | {
        version.valid_until + timedelta(days=1) for version in versions if version.valid_until
    }
    for day in sorted(day for day in changes if day > on):
        if _in_force(versions, day) is None:
            return day - timedelta(days=1)
    return None


def _upcoming(versions: Sequence[AgreementVersion], on: date) -> list[AgreementVersion]:
    """Versions starting after ``on`` that will apply: none newer starts on or before them."""
    return sorted(
        (
            version
            for version in versions
            if version.valid_from > on
            and not any(
                later.version > version.version and later.valid_from <= version.valid_from
                for later in versions
            )
        ),
        key=lambda version: version.valid_from,
    )


def standing_of(
    agreement: Agreement,
    on: date,
    overridden: bool = False,
    signers: Mapping[int, str] | None = None,
) -> AgreementStanding:
    """How an agreement (with its versions loaded) stands on ``on``."""
    versions = sorted(agreement.versions, key=lambda version: version.version)
    current = _in_force(versions, on)
    return AgreementStanding(
        agreement=agreement,
        versions=versions,
        on=on,
        current=current,
        upcoming=_upcoming(versions, on),
        ends_on=_last_day_of_cover(versions, on) if current else None,
        overridden=overridden,
        signers=signers or {},
    )


def _agreements_statement() -> Select[tuple[Agreement]]:
    """Agreements by merchant code, the district-wide one first, then by community code."""
    return (
        select(Agreement)
        .join(Merchant, Merchant.id == Agreement.merchant_id)
        .outerjoin(Community, Community.id == Agreement.community_id)
        .order_by(Merchant.code, Agreement.community_id.is_not(None), Community.code)
        .options(selectinload(Agreement.versions).lazyload(AgreementVersion.agreement))
    )


def _scoped_community(actor: Actor, community_id: int | None) -> int | None:
    """The community a list is about: a secretary's own (another one is not found)."""
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    if actor.is_district_wide:
        return community_id
    require_community(actor, community_id or actor.community_id or 0, "找不到该社区。")
    return actor.community_id


def list_agreements(
    session: Session,
    actor: Actor,
    merchant_id: int | None = None,
    community_id: int | None = None,
    on: date | None = None,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page[AgreementStanding]:
    """Agreements with their terms on ``on`` (default today), by merchant. With a community:
    those covering its members, its own and the district-wide ones (a secretary: always theirs).
    """
    community_id = _scoped_community(actor, community_id)
    on = on or business_date()
    statement = _agreements_statement()
    if merchant_id is not None:
        statement = statement.where(Agreement.merchant_id == merchant_id)
    if community_id is not None:
        statement = statement.where(
            or_(Agreement.community_id == community_id, Agreement.community_id.is_(None))
        )
    found = paginate(session, statement, page, page_size)
    own_in_force = _merchants_with_own_cover(session, found.items, community_id, on)
    return found.map(
        lambda agreement: standing_of(
            agreement,
            on,
            overridden=agreement.community_id is None and agreement.merchant_id in own_in_force,
        )
    )


def _merchants_with_own_cover(
    session: Session, listed: Sequence[Agreement], community_id: int | None, on: date
) -> set[int]:
    """Of the listed district-wide agreements' merchants, those whose agreement with
    ``community_id`` is in force on ``on`` (it takes precedence at the checkout)."""
    merchants = {a.merchant_id for a in listed if a.community_id is None}
    if community_id is None or not merchants:
        return set()
    own = session.scalars(
        _agreements_statement().where(
            Agreement.community_id == community_id, Agreement.merchant_id.in_(merchants)
        )
    )
    return {a.merchant_id for a in own if _in_force(a.versions, on) is not None}


def expiring_agreements(
    session: Session,
    actor: Actor,
    within_days: int = EXPIRING_WITHIN_DAYS,
    on: date | None = None,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page[AgreementStanding]:
    """Agreements in force whose cover ends within ``within_days`` days (即将到期), soonest
    first. A renewal already signed to follow on without a gap keeps one off the list."""
    require_role(actor, Role.DISTRICT_ADMIN)
    check_page(page, page_size)
    if not 0 <= within_days <= 3660:
        raise ValidationFailed("天数需在 0 到 3660 之间。")
    on = on or business_date()
    horizon = on + timedelta(days=within_days)
    # Cover always ends on some version's last day: only those agreements are candidates.
    ending_soon = (
        select(AgreementVersion.agreement_id)
        .where(AgreementVersion.valid_until.between(on, horizon))
        .distinct()
    )
    candidates = session.scalars(_agreements_statement().where(Agreement.id.in_(ending_soon))).all()
    standings = [standing_of(agreement, on) for agreement in candidates]
    soon = sorted(
        (s for s in standings if s.expires_within(within_days)),
        key=lambda s: (s.ends_on, s.agreement.merchant.code),
    )
    start = (page - 1) * page_size
    return Page(soon[start : start + page_size], page, page_size, len(soon))


def get_agreement(
    session: Session, actor: Actor, agreement_id: int, on: date | None = None
) -> AgreementStanding:
    """One agreement with every version and who signed each; a secretary reaches their own
    community's and the district-wide ones."""
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    agreement = session.scalar(_agreements_statement().where(Agreement.id == agreement_id))
    if agreement is None:
        raise NotFound(AGREEMENT_NOT_FOUND)
    if agreement.community_id is not None:
        require_community(actor, agreement.community_id, AGREEMENT_NOT_FOUND)
    signer_ids = {v.signed_by_id for v in agreement.versions if v.signed_by_id is not None}
    signers = {
        account_id: name
        for account_id, name in session.execute(
            select(Account.id, Account.display_name).where(Account.id.in_(signer_ids))
        )
    }
    return standing_of(agreement, on or business_date(), signers=signers)


def merchant_choices(session: Session) -> list[Merchant]:
    """Every alliance merchant by code, for a choice of whom to sign with."""
    return list(session.scalars(select(Merchant).order_by(Merchant.code)))


def merchant_by_code(session: Session, code: str) -> Merchant:
    """The merchant with ``code`` (M001, any case), or ``NotFound``."""
    code = (code or "").strip().upper()
    merchant = session.scalar(select(Merchant).where(Merchant.code == code)) if code else None
    if merchant is None:
        raise NotFound(f"找不到商家 {code}（商家代码形如 M001）。")
    return merchant


def signed_communities(session: Session) -> dict[str, dict[str, int]]:
    """Who already has an agreement with whom: merchant code -> community code ("all" for the
    district-wide one) -> agreement id; a sign form marks them."""
    rows = session.execute(
        select(Merchant.code, Community.code, Agreement.id)
        .select_from(Agreement)
        .join(Merchant, Merchant.id == Agreement.merchant_id)
        .outerjoin(Community, Community.id == Agreement.community_id)
    )
    signed: dict[str, dict[str, int]] = {}
    for merchant_code, community_code, agreement_id in rows:
        signed.setdefault(merchant_code, {})[community_code or "all"] = agreement_id
    return signed


def agreement_between(session: Session, merchant_id: int, community_id: int | None) -> Agreement:
    """A merchant's agreement with a community (None: its district-wide one), or ``NotFound``."""
    agreement = session.scalar(
        select(Agreement).where(Agreement.merchant_id == merchant_id, _community_is(community_id))
    )
    if agreement is None:
        raise NotFound("该商家与该社区没有协议；新签协议请用“签订”。")
    return agreement

"""The demo data set (演示数据): the source's shape, generated repeatably from a seed.

21 communities, 130 alliance merchants with agreements, about 5,000 Party members with a year of
certified history (claims, activity attendance, a few reversals, pending claims), tiers landing on
125 gold and 514 silver, cards, and one sign-in per role. Same seed, same data (on the same day:
the history is laid out backwards from today, because tiers are computed live).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from rewards.clock import BUSINESS_TZ, business_date, utcnow
from rewards.errors import Conflict, ValidationFailed
from rewards.models import (
    Account,
    Activity,
    Agreement,
    AgreementVersion,
    Attendance,
    Card,
    CardStatus,
    Claim,
    ClaimStatus,
    Community,
    EntryKind,
    LedgerEntry,
    Member,
    MemberStatus,
    Merchant,
    PointCategory,
    Role,
    Tier,
    TierPolicy,
)
from rewards.services import accounts, agreements, ledger, tiers
from rewards.services.audit import Actor, record
from rewards.services.cards import luhn_check_digit

DEFAULT_SEED = 2019
DEFAULT_MEMBERS = 5000
MIN_MEMBERS, MAX_MEMBERS = 200, 50_000
# The source: "125 gold cards and 514 silver cards issued" for the district's ~5,000 card members.
FULL_SIZE_GOLD, FULL_SIZE_SILVER = 125, 514
GOLD_THRESHOLD, SILVER_THRESHOLD, WINDOW_MONTHS = 120, 60, 12
DEMO_PASSWORD = "hongse2019"
# Service dates stay this far inside the 12-month window, so tiers hold for the coming weeks.
HISTORY_DAYS = 340
# Points of the two "ageing" C01 members that are about to leave the window.
AGEING_POINTS = 20
OUTCOMES = ("gold", "silver", "tier_none", "card_suspended", "card_revoked", "no_agreement")

STAGES = (
    "社区与积分类别",
    "账号",
    "商家与协议",
    "党员名册",
    "活动与申报",
    "积分台账",
    "动力卡",
    "汇总",
)

COMMUNITIES = (
    ("长江路社区", "古现街道"),
    ("黄河路社区", "古现街道"),
    ("珠江路社区", "古现街道"),
    ("淮河路社区", "古现街道"),
    ("嵩山社区", "古现街道"),
    ("衡山社区", "古现街道"),
    ("泰山社区", "古现街道"),
    ("天山社区", "八角街道"),
    ("华山社区", "八角街道"),
    ("金沙江社区", "八角街道"),
    ("五指山社区", "八角街道"),
    ("峨眉山社区", "八角街道"),
    ("太行山社区", "八角街道"),
    ("松花江社区", "八角街道"),
    ("湘江社区", "大季家街道"),
    ("八角湾社区", "八角街道"),
    ("古现社区", "古现街道"),
    ("大季家社区", "大季家街道"),
    ("金东社区", "大季家街道"),
    ("海韵社区", "大季家街道"),
    ("银河社区", "大季家街道"),
)

# (code, name, default points, max points)
CATEGORIES = (
    ("claim_service", "双认领（认领服务）", 2, 5),
    ("micro_wish", "微心愿", 3, 5),
    ("volunteer", "志愿服务", 2, 4),
    ("activity", "活动参与", 1, 3),
    ("dual_report", "双报到", 2, 4),
    ("mentoring", "结对帮扶", 3, 6),
)

CLAIM_TEXTS = {
    "claim_service": (
        "认领社区楼道长服务岗，协助做好楼道卫生和邻里联络",
        "认领文明劝导岗，在小区门口劝导不文明停车",
        "认领治安巡逻岗，参加夜间小区巡逻",
        "认领政策宣讲岗，为居民讲解医保缴费政策",
        "认领矛盾调解岗，协助调解邻里纠纷",
    ),
    "micro_wish": (
        "帮助困难家庭实现微心愿：一台电风扇",
        "帮助留守儿童实现微心愿：一套学习用品",
        "帮助独居老人实现微心愿：一床冬被",
        "帮助困难老人实现微心愿：一副老花镜",
        "帮助残疾居民实现微心愿：上门理发一次",
    ),
    "volunteer": (
        "参加小区环境清理志愿服务",
        "参加路口交通文明劝导志愿服务",
        "参加社区图书角整理志愿服务",
        "参加老年食堂助餐志愿服务",
        "参加便民维修志愿服务",
    ),
    "dual_report": (
        "到社区报到，参与共建项目对接",
        "到社区报到，参加社区议事会",
        "到社区报到，参与联建共建活动",
    ),
    "mentoring": (
        "结对帮扶困难家庭，入户走访",
        "结对帮扶独居老人，代办社保认证",
        "结对帮扶困难党员，陪同就医",
    ),
}

ACTIVITY_TITLES = (
    "主题党日：重温入党誓词",
    "党史学习教育专题党课",
    "社区环境整治志愿行动",
    "关爱空巢老人走访慰问",
    "文明城市创建入户宣传",
    "垃圾分类入户宣传",
    "汛期防汛值守",
    "义务植树活动",
    "消防安全演练",
    "邻里节便民服务",
    "爱心义诊进社区",
    "反诈宣传进小区",
    "冬季扫雪除冰",
    "七一党员大会",
    "清洁家园行动",
    "惠民政策宣讲会",
    "国家安全教育日宣传",
    "重阳节敬老志愿服务",
)


def _words(text: str) -> tuple[str, ...]:
    """The space-separated words of ``text``."""
    return tuple(text.split())


SURNAMES = (
    "王王王王李李李张张张刘刘刘于于于孙孙孙姜姜曲曲牟牟陈杨杨赵赵周吴徐徐马胡朱郭何高林郑"
    "梁谢唐许宋韩邓曹田董鞠栾隋初衣宫柳滕潘袁蒋程吕魏蔡苏卢沈姚崔陆石贾范金方夏侯白孟邹秦"
)
GIVEN_CHARS = (
    "建国华明伟强军平红英丽敏静霞芳秀兰玉梅燕娟洪涛海波鹏飞磊勇刚峰杰斌亮超辉宁林晓春雪丹艳"
    "萍文志永德学成庆新立东晨宇浩嘉欣琳婷佳颖瑞凯旭阳思悦涵博睿泽宏卫忠振光兵慧淑凤桂荣珍"
)
PHONE_PREFIXES = _words(
    "130 131 132 133 135 136 137 138 139 150 151"
    " 152 155 156 157 158 159 166 175 176 177 178"
    " 180 181 182 183 185 186 187 188 189 198 199"
)
EMPLOYERS = (
    "烟台开发区管委会",
    "开发区第一实验小学",
    "开发区人民医院",
    "开发区社区卫生服务中心",
    "开发区税务局",
    "开发区供电中心",
    "开发区消防救援大队",
    "鲁东化工集团",
    "胶东重工机械有限公司",
    "烟台海洋工程装备有限公司",
    "港城电子科技有限公司",
    "黄海汽车零部件有限公司",
    "八角湾物流有限公司",
    "港城银行开发区支行",
    "金海制药有限公司",
    "蓝海生物科技有限公司",
    "开发区邮政分局",
)
ROADS = _words(
    "长江路 黄河路 珠江路 淮河路 嵩山路 衡山路 泰山路 天山路 华山路 金沙江路"
    " 五指山路 太行山路 松花江路 湘江路 海滨路 黑龙江路"
)
# (category, weight, name endings)
MERCHANT_KINDS = (
    ("餐饮", 30, ("饺子馆", "家常菜馆", "海鲜酒家", "面馆", "快餐店", "焖子小吃")),
    ("超市", 18, ("超市", "便利店", "生活超市")),
    ("药店", 12, ("大药房", "药店", "医药连锁店")),
    ("理发", 10, ("美发", "理发店", "造型工作室")),
    ("书店", 5, ("书店", "书屋", "文具书店")),
    ("洗衣", 6, ("洗衣店", "干洗店")),
    ("眼镜", 5, ("眼镜店", "视光中心")),
    ("水果生鲜", 10, ("水果店", "生鲜超市", "果蔬店")),
    ("烘焙", 8, ("烘焙坊", "面包房", "蛋糕店")),
    ("家电维修", 6, ("家电维修部", "电器维修中心")),
    ("摄影", 4, ("摄影", "照相馆")),
    ("健身", 4, ("健身中心", "瑜伽馆")),
    ("母婴", 6, ("母婴店", "孕婴生活馆")),
    ("茶叶", 6, ("茶庄", "茶叶店")),
)
MERCHANT_PREFIXES = _words(
    "福满 鑫源 惠民 同心 红旗 康宁 仁和 百姓 金海 海韵 鲁东 胶东 福山 蓬莱 芝罘"
    " 天利 德顺 永康 诚信 和美 万家 好邻居 家和 益民 佳美 如意 吉祥 安康 晨光"
    " 新华 博雅 明视 港城 渔家 老烟台 海之味 聚福 和顺 兴隆 正阳 春晖 悦来 宏达"
    " 润丰"
)
REJECTION_REASONS = (
    "未提供服务证明材料，请补充后重新申报",
    "与已认定的活动签到重复",
    "服务内容不属于积分认定范围",
)
REVERSAL_REASONS = ("重复申报，经核实冲正", "服务时长登记有误，冲正后重新申报")
SUSPENSION_REASONS = ("党员本人申请暂停（外出务工）", "卡片疑似被他人借用，核查期间暂停")


def database_is_empty(session: Session) -> bool:
    """True when no community, merchant, member, account, policy or ledger entry exists yet."""
    for model in (Community, Merchant, Member, Account, TierPolicy, LedgerEntry):
        if session.scalar(select(model.id).limit(1)) is not None:
            return False
    return True


def scaled_bands(members: int) -> tuple[int, int]:
    """How many members land in gold and in silver for a demo of ``members`` members."""
    gold = max(2, round(FULL_SIZE_GOLD * members / DEFAULT_MEMBERS))
    silver = max(4, round(FULL_SIZE_SILVER * members / DEFAULT_MEMBERS))
    return gold, silver


def seed_demo(
    session: Session,
    seed: int = DEFAULT_SEED,
    members: int = DEFAULT_MEMBERS,
    on_stage: Callable[[str], None] | None = None,
    now: datetime | None = None,
    actor: Actor | None = None,
) -> dict[str, Any]:
    """Write the demo data set into an empty database and return its summary (JSON-ready).

    Refuses a database that already holds data. ``on_stage`` is called after each of
    ``STAGES``. The caller commits.
    """
    if not MIN_MEMBERS <= members <= MAX_MEMBERS:
        raise ValidationFailed(f"演示党员人数必须在 {MIN_MEMBERS} 到 {MAX_MEMBERS} 之间。")
    if not database_is_empty(session):
        raise Conflict("数据库中已有数据，拒绝写入演示数据（演示数据只能写入空数据库）。")
    builder = _DemoBuilder(
        session, random.Random(seed), members, now or utcnow(), on_stage, actor or Actor.operator()
    )
    summary = builder.build()
    summary["seed"] = seed
    return summary


@dataclass
class _PlannedMember:
    community_index: int
    member_no: str
    name: str
    phone: str
    employer: str
    joined_on: date
    band: Tier = Tier.NONE
    target_points: int = 0
    id: int = 0


@dataclass(frozen=True)
class _Posting:
    """A ledger posting waiting for its monthly certification batch."""

    instant: datetime
    community_index: int
    posting: ledger.Posting


class _DemoBuilder:
    """Lays the demo data out step by step; every random choice comes from one seeded rng."""

    def __init__(
        self,
        session: Session,
        rng: random.Random,
        member_count: int,
        now: datetime,
        on_stage: Callable[[str], None] | None,
        operator: Actor,
    ) -> None:
        self.session = session
        self.rng = rng
        self.member_count = member_count
        self.now = now.astimezone(UTC)
        self.today = business_date(self.now)
        self.on_stage = on_stage or (lambda stage: None)
        self.operator = operator
        self.communities: list[Community] = []
        self.categories: dict[str, PointCategory] = {}
        self.secretaries: list[Account] = []
        self.logins: list[dict[str, str]] = []
        self.merchants: list[Merchant] = []
        self.members: list[_PlannedMember] = []
        self.designated: dict[str, _PlannedMember] = {}
        self.outcome_cards: dict[str, str] = {}
        self.card_numbers: set[str] = set()
        self.phones: set[str] = set()

    # -- helpers ----------------------------------------------------------------------------

    def _instant(self, day: date, hour: int, minute: int = 0) -> datetime:
        """A local (Asia/Shanghai) time on ``day`` as UTC, never later than a minute ago."""
        local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=BUSINESS_TZ)
        return min(local.astimezone(UTC), self.now - timedelta(minutes=1))

    def _days_ago(self, low: int, high: int) -> date:
        return self.today - timedelta(days=self.rng.randint(low, high))

    def _batch_instant(self, day: date, community_index: int) -> datetime:
        """When the branch certifies a service of ``day``: its monthly review on the 5th of the
        next month (月度积分评议), or today for the current month."""
        month = date(day.year + day.month // 12, day.month % 12 + 1, 5)
        return self._instant(month, 15, community_index * 2)

    def _insert_in_order(
        self, model: Any, rows: list[dict[str, Any]], check: tuple[str, ...]
    ) -> list[int]:
        """Bulk insert ``rows`` and return their new ids, in row order.

        A plain executemany (no RETURNING: psycopg would parse one giant multi-row statement per
        1,000 rows, slower than the inserts themselves), then the ids read back in id order.
        The ``check`` columns of every row read back must match, or someone else was writing.
        """
        before = self.session.scalar(select(func.max(model.id))) or 0
        self.session.execute(insert(model), rows)
        columns = [getattr(model, name) for name in check]
        found = self.session.execute(
            select(model.id, *columns).where(model.id > before).order_by(model.id)
        ).all()
        expected = [tuple(row[name] for name in check) for row in rows]
        if [tuple(r[1:]) for r in found] != expected:
            raise Conflict("写入演示数据时有其他程序同时写入数据库，请在空数据库上重试。")
        return [r[0] for r in found]

    def _person_name(self) -> str:
        given = "".join(self.rng.choice(GIVEN_CHARS) for _ in range(self.rng.choice((1, 2, 2))))
        return self.rng.choice(SURNAMES) + given

    def _phone(self) -> str:
        while True:
            phone = self.rng.choice(PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def _card_number(self) -> str:
        while True:
            body = str(self.rng.randrange(10**10, 10**11))
            number = body + luhn_check_digit(body)
            if number not in self.card_numbers:
                self.card_numbers.add(number)
                return number

    # -- steps ------------------------------------------------------------------------------

    def build(self) -> dict[str, Any]:
        steps = (
            self._communities_and_categories,
            self._staff_accounts,
            self._merchants_and_agreements,
            self._roster,
            self._activities_and_claims,
            self._ledger,
            self._cards,
            self._summary,
        )
        result: dict[str, Any] = {}
        for stage, step in zip(STAGES, steps, strict=True):
            result = step() or result
            self.on_stage(stage)
        return result

    def _communities_and_categories(self) -> None:
        self.communities = [
            Community(code=f"C{i:02d}", name=name, street=street)
            for i, (name, street) in enumerate(COMMUNITIES, start=1)
        ]
        categories = [
            PointCategory(code=code, name=name, default_points=dp, max_points=mp, is_enabled=True)
            for code, name, dp, mp in CATEGORIES
        ]
        self.session.add_all([*self.communities, *categories])
        self.session.flush()
        self.categories = {c.code: c for c in categories}

    def _staff_accounts(self) -> None:
        def create(username: str, role: Role, name: str, **scope: int) -> Account:
            return accounts.create_account(
                self.session,
                self.operator,
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                display_name=name,
                now=self.now,
                **scope,
            )

        admin = create("admin", Role.DISTRICT_ADMIN, "区党工委组织部管理员")
        self.admin = Actor.for_account(admin)
        self.logins.append(self._login("district_admin", admin, "全区"))
        for community in self.communities:
            secretary = create(
                f"{community.code.lower()}-secretary",
                Role.SECRETARY,
                f"{self._person_name()}（{community.name}书记）",
                community_id=community.id,
            )
            self.secretaries.append(secretary)
        first = self.communities[0]
        self.logins.append(
            self._login("secretary", self.secretaries[0], f"{first.code} {first.name}")
        )
        policy_day = self.now - timedelta(days=400)
        tiers.set_policy(
            self.session,
            self.admin,
            gold_threshold=GOLD_THRESHOLD,
            silver_threshold=SILVER_THRESHOLD,
            window_months=WINDOW_MONTHS,
            effective_from=policy_day,
            note="近 12 个月积分：金卡 120 分、银卡 60 分",
            now=policy_day,
        )

    @staticmethod
    def _login(role: str, account: Account, scope: str) -> dict[str, str]:
        return {
            "role": role,
            "username": account.username,
            "password": DEMO_PASSWORD,
            "display_name": account.display_name,
            "scope": scope,
        }

    def _merchants_and_agreements(self) -> None:
        kinds = [kind for kind in MERCHANT_KINDS for _ in range(kind[1])]
        self.rng.shuffle(kinds)
        names = {"福满楼饺子馆"}
        planned = [("福满楼饺子馆", "餐饮", 0)]  # (name, category, home community index)
        for kind, _weight, endings in kinds[1:]:
            name = self.rng.choice(MERCHANT_PREFIXES) + self.rng.choice(endings)
            while name in names:
                name = self.rng.choice(MERCHANT_PREFIXES) + self.rng.choice(endings)
            names.add(name)
            planned.append((name, kind, self.rng.randrange(len(self.communities))))
        for number, (name, kind, _home) in enumerate(planned, start=1):
            self.merchants.append(
                Merchant(
                    code=f"M{number:03d}",
                    name=name,
                    category=kind,
                    address=f"烟台开发区{self.rng.choice(ROADS)}{self.rng.randint(1, 320)}号",
                    phone=f"0535-6{self.rng.randrange(10**6):06d}",
                    is_enabled=True,
                    created_at=self._instant(self._days_ago(420, 700), 9),
                )
            )
        self.session.add_all(self.merchants)
        self.session.flush()

        # M001 shows the versions: signed a year ago at 90/96, amended three months ago to 88/95;
        # it serves C01 and C02 only, so a member of C03 meets ``no_agreement`` there.
        m001 = self.merchants[0]
        self._sign(m001, 0, 90, 96, None, 0, self._days_ago(380, 380))
        self._sign(m001, 0, 88, 95, None, 0, self._days_ago(90, 90), note="续签，折扣加大")
        self._sign(m001, 1, 90, 96, 5000, 0, self._days_ago(300, 300))
        for merchant, (_name, _kind, home) in zip(self.merchants[1:], planned[1:], strict=True):
            self._agreements_for(merchant, home)

    def _agreements_for(self, merchant: Merchant, home: int) -> None:
        rng = self.rng
        gold, silver = rng.randint(85, 90), rng.randint(92, 98)
        cap = rng.choice((2000, 3000, 5000)) if rng.random() < 0.2 else None
        minimum = rng.choice((2000, 3000, 5000, 10000)) if rng.random() < 0.15 else 0
        valid_from = self._days_ago(200, 420)
        if rng.random() < 0.1:
            self._sign(merchant, None, gold, silver, cap, minimum, valid_from)
            return
        count = rng.choices((1, 2, 3), weights=(50, 35, 15))[0]
        others = [i for i in range(len(self.communities)) if i != home]
        for index in [home, *rng.sample(others, count - 1)]:
            self._sign(merchant, index, gold, silver, cap, minimum, valid_from)
            if rng.random() < 0.08:
                amended_silver = max(gold, silver - 2)
                amended_from = self._days_ago(30, 150)
                self._sign(
                    merchant,
                    index,
                    gold,
                    amended_silver,
                    cap,
                    minimum,
                    amended_from,
                    note="修订：银卡折扣加大",
                )

    def _sign(
        self,
        merchant: Merchant,
        community_index: int | None,
        gold: int,
        silver: int,
        cap_fen: int | None,
        min_spend_fen: int,
        valid_from: date,
        note: str = "",
    ) -> None:
        """Sign as the district (only it signs agreements): for one community, or district-wide."""
        actor = self.admin
        community_id = None if community_index is None else self.communities[community_index].id
        valid_until = None
        if self.rng.random() < 0.3:
            valid_until = self.today + timedelta(days=self.rng.randint(100, 500))
        agreements.sign_agreement(
            self.session,
            actor,
            merchant.id,
            community_id,
            gold_pay_percent=gold,
            silver_pay_percent=silver,
            valid_from=valid_from,
            valid_until=valid_until,
            cap_fen=cap_fen,
            min_spend_fen=min_spend_fen,
            note=note,
            now=self._instant(valid_from - timedelta(days=3), 10),
        )

    def _roster(self) -> None:
        rng = self.rng
        weights = [rng.uniform(0.6, 1.4) for _ in self.communities]
        sizes = [max(6, int(self.member_count * w / sum(weights))) for w in weights]
        sizes[0] += self.member_count - sum(sizes)
        latest_join = self.today - timedelta(days=400)
        span = (latest_join - date(2008, 1, 1)).days
        for index, size in enumerate(sizes):
            for serial in range(1, size + 1):
                self.members.append(
                    _PlannedMember(
                        community_index=index,
                        member_no=f"YT{index + 1:02d}{serial:05d}",
                        name=self._person_name(),
                        phone=self._phone(),
                        employer=rng.choice(EMPLOYERS) if rng.random() < 0.22 else "",
                        joined_on=date(2008, 1, 1) + timedelta(days=rng.randint(0, span)),
                    )
                )
        self._assign_bands()
        rows = [
            {
                "member_no": m.member_no,
                "name": m.name,
                "phone": m.phone,
                "community_id": self.communities[m.community_index].id,
                "status": MemberStatus.ACTIVE,
                "employer": m.employer,
                "joined_on": m.joined_on,
                "created_at": self._instant(self.today - timedelta(days=395), 9),
            }
            for m in self.members
        ]
        ids = self._insert_in_order(Member, rows, ("member_no",))
        for planned, member_id in zip(self.members, ids, strict=True):
            planned.id = member_id

    def _assign_bands(self) -> None:
        """Exactly the scaled number of gold and silver members; six are picked for the outcomes."""
        rng = self.rng
        gold_count, silver_count = scaled_bands(self.member_count)
        c01 = [m for m in self.members if m.community_index == 0]
        c03 = next(m for m in self.members if m.community_index == 2)
        picks = {
            "gold": (c01[0], Tier.GOLD, 168),
            "silver": (c01[1], Tier.SILVER, 90),
            "card_suspended": (c01[2], Tier.SILVER, 85),
            "tier_none": (c01[3], Tier.NONE, 45),
            "card_revoked": (c01[4], Tier.NONE, 20),
            "no_agreement": (c03, Tier.SILVER, 80),
            # C01's secretary has work waiting: two members newly eligible for a card, and two
            # whose oldest points leave the window within weeks (their tier drops).
            "awaiting_card_1": (c01[5], Tier.SILVER, 66),
            "awaiting_card_2": (c01[6], Tier.SILVER, 72),
            "ageing_1": (c01[7], Tier.SILVER, 68),
            "ageing_2": (c01[8], Tier.SILVER, 75),
        }
        for outcome, (member, band, target) in picks.items():
            member.band, member.target_points = band, target
            self.designated[outcome] = member
        chosen = {id(m) for m, _, _ in picks.values()}
        pool = [m for m in self.members if id(m) not in chosen]
        rng.shuffle(pool)
        gold_left = gold_count - 1
        silver_left = silver_count - sum(1 for _, band, _ in picks.values() if band is Tier.SILVER)
        for member in pool[:gold_left]:
            member.band, member.target_points = Tier.GOLD, int(rng.triangular(120, 230, 135))
        for member in pool[gold_left : gold_left + silver_left]:
            member.band, member.target_points = Tier.SILVER, int(rng.triangular(60, 119.99, 72))
        for member in pool[gold_left + silver_left :]:
            member.band = Tier.NONE
            member.target_points = 0 if rng.random() < 0.05 else int(rng.triangular(1, 59.99, 12))

    def _activities_and_claims(self) -> None:
        rng = self.rng
        activity_category = self.categories["activity"]
        volunteer = self.categories["volunteer"]
        activity_rows, activity_meta = [], []
        for index, community in enumerate(self.communities):
            for k in range(24):
                day = min(
                    self.today - timedelta(days=HISTORY_DAYS - 5 - k * 14 - rng.randint(0, 9)),
                    self.today - timedelta(days=3),
                )
                category = volunteer if rng.random() < 0.25 else activity_category
                points = rng.randint(1, category.max_points)
                title = rng.choice(ACTIVITY_TITLES)
                activity_rows.append(
                    {
                        "community_id": community.id,
                        "category_id": category.id,
                        "title": title,
                        "occurred_on": day,
                        "points": points,
                        "created_by_id": self.secretaries[index].id,
                        "created_at": self._instant(day - timedelta(days=7), 9),
                    }
                )
                activity_meta.append((index, day, points, title))
        activity_ids = self._insert_in_order(
            Activity, activity_rows, ("community_id", "occurred_on", "points")
        )
        by_community: dict[int, list[tuple[int, date, int, str]]] = defaultdict(list)
        for activity_id, (index, day, points, title) in zip(
            activity_ids, activity_meta, strict=True
        ):
            by_community[index].append((activity_id, day, points, title))
        self.activity_count = len(activity_ids)

        attend_chance = {Tier.GOLD: 0.55, Tier.SILVER: 0.4, Tier.NONE: 0.12}
        claim_codes = ["claim_service", "micro_wish", "volunteer", "mentoring"]
        attendance_rows: list[dict[str, Any]] = []
        self.postings: list[_Posting] = []
        claim_rows: list[dict[str, Any]] = []
        # Per claim row: None (no ledger entry) or (reversal reason or "") for certified ones.
        claim_fate: list[str | None] = []
        # The ageing members' points all come from claims, some of them old (see below).
        ageing_members = {id(self.designated["ageing_1"]), id(self.designated["ageing_2"])}
        for m in self.members:
            index = m.community_index
            secretary_id = self.secretaries[index].id
            community_id = self.communities[index].id
            total = 0
            for activity_id, day, points, title in by_community[index]:
                attends = rng.random() < attend_chance[m.band]
                if attends and total + points <= m.target_points and id(m) not in ageing_members:
                    total += points
                    instant = self._batch_instant(day, index)
                    attendance_rows.append(
                        {
                            "activity_id": activity_id,
                            "member_id": m.id,
                            "recorded_at": instant,
                            "recorded_by_id": secretary_id,
                        }
                    )
                    self.postings.append(
                        _Posting(
                            instant,
                            index,
                            ledger.Posting(
                                member_id=m.id,
                                points=points,
                                kind=EntryKind.ATTENDANCE,
                                source_type="activity",
                                source_id=activity_id,
                                community_id=community_id,
                                occurred_on=day,
                                idempotency_key=f"activity:{activity_id}:member:{m.id}",
                                memo=title,
                            ),
                        )
                    )
            codes = claim_codes + (["dual_report", "dual_report"] if m.employer else [])
            # (fate, category, points): fate "" certified, a reason certified then reversed,
            # "pending" or "rejected" without a ledger entry. Only "" counts towards the target.
            claims: list[tuple[str, PointCategory, int]] = []
            remaining = m.target_points - total
            while remaining > 0:
                category = self.categories[rng.choice(codes)]
                low = max(1, category.default_points - 1)
                points = min(remaining, category.max_points, rng.randint(low, low + 2))
                claims.append(("", category, points))
                remaining -= points
            for fate, chance in (
                (rng.choice(REVERSAL_REASONS), 0.012),
                ("pending", 0.05),
                ("rejected", 0.02),
            ):
                if rng.random() < chance:
                    category = self.categories[rng.choice(codes)]
                    claims.append((fate, category, rng.randint(1, category.default_points)))
            if m is self.designated["silver"]:
                # c01-silver's own claims wait in C01's queue: certifying them is the tour.
                for code in ("micro_wish", "mentoring"):
                    category = self.categories[code]
                    claims.append(("pending", category, category.max_points))
            ageing = id(m) in ageing_members
            aged_points = 0
            for fate, category, points in claims:
                if ageing and fate == "" and aged_points < AGEING_POINTS:
                    # Served 337–350 days ago: these points leave the 12-month window soon.
                    day = self._days_ago(HISTORY_DAYS - 3, HISTORY_DAYS + 10)
                    decided = self._batch_instant(day, index)
                    submitted = min(self._instant(day, 20, rng.randint(0, 59)), decided)
                    aged_points += points
                elif fate == "pending":
                    day = self._days_ago(1, 20)
                    decided = None
                    submitted = self._instant(day, 20, rng.randint(0, 59))
                else:
                    day = self._days_ago(3, HISTORY_DAYS)
                    decided = self._batch_instant(day, index)
                    submitted = min(self._instant(day, 20, rng.randint(0, 59)), decided)
                status = {"pending": ClaimStatus.PENDING, "rejected": ClaimStatus.REJECTED}.get(
                    fate, ClaimStatus.CERTIFIED
                )
                claim_rows.append(
                    {
                        "member_id": m.id,
                        "community_id": community_id,
                        "category_id": category.id,
                        "points": points,
                        "description": rng.choice(CLAIM_TEXTS[category.code]),
                        "occurred_on": day,
                        "status": status,
                        "submitted_at": submitted,
                        "decided_at": decided,
                        "decided_by_id": secretary_id if decided else None,
                        "rejection_reason": (
                            rng.choice(REJECTION_REASONS) if fate == "rejected" else None
                        ),
                        "certified_points": points if status is ClaimStatus.CERTIFIED else None,
                    }
                )
                claim_fate.append(None if fate in ("pending", "rejected") else fate)

        if attendance_rows:
            self.session.execute(insert(Attendance), attendance_rows)
        claim_ids = self._insert_in_order(
            Claim, claim_rows, ("member_id", "occurred_on", "points", "category_id")
        )
        self.reversals: list[tuple[datetime, int, str, str]] = []
        by_member = {m.id: m for m in self.members}
        for claim_id, row, fate in zip(claim_ids, claim_rows, claim_fate, strict=True):
            if fate is None:
                continue
            index = by_member[row["member_id"]].community_index
            key = f"claim:{claim_id}"
            self.postings.append(
                _Posting(
                    row["decided_at"],
                    index,
                    ledger.Posting(
                        member_id=row["member_id"],
                        points=row["points"],
                        kind=EntryKind.AWARD,
                        source_type="claim",
                        source_id=claim_id,
                        community_id=row["community_id"],
                        occurred_on=row["occurred_on"],
                        idempotency_key=key,
                        memo=self._category_name(row["category_id"]),
                    ),
                )
            )
            if fate:
                later = min(row["decided_at"] + timedelta(days=7), self.now)
                self.reversals.append((later, index, key, fate))
        self.attendance_count = len(attendance_rows)

    def _category_name(self, category_id: int) -> str:
        return next(c.name for c in self.categories.values() if c.id == category_id)

    def _ledger(self) -> None:
        """Post the history in monthly batches per community, in time order, through the ledger."""
        batches: dict[tuple[datetime, int], list[ledger.Posting]] = defaultdict(list)
        for item in self.postings:
            batches[(item.instant, item.community_index)].append(item.posting)
        # Events: (instant, 0 = batch / 1 = reversal, community index, payload)
        events: list[tuple[datetime, int, int, Any]] = [
            (instant, 0, index, postings) for (instant, index), postings in batches.items()
        ]
        events += [
            (instant, 1, index, (key, reason)) for instant, index, key, reason in self.reversals
        ]
        events.sort(key=lambda e: (e[0], e[1], e[2]))
        reversal_keys = {key for _, _, key, _ in self.reversals}
        entry_ids: dict[str, int] = {}
        posted, analysed_at = 0, 0
        for instant, kind, index, payload in events:
            secretary = self.secretaries[index]
            if kind == 0:
                if posted >= 2 * analysed_at + 1000:
                    self._refresh_statistics()
                    analysed_at = posted
                postings = sorted(
                    payload, key=lambda p: (p.member_id, p.occurred_on, p.idempotency_key)
                )
                entries = ledger.post_many(self.session, postings, secretary.id, now=instant)
                posted += len(entries)
                for entry in entries:
                    if entry.idempotency_key in reversal_keys:
                        entry_ids[entry.idempotency_key] = entry.id
            else:
                key, reason = payload
                ledger.reverse(
                    self.session, Actor.for_account(secretary), entry_ids[key], reason, now=instant
                )
        self.postings = []

    def _refresh_statistics(self) -> None:
        """Let PostgreSQL's planner see the rows this transaction has written so far.

        A fresh table has no statistics, so the planner expects it to be tiny and the ledger's
        chain-head lookup scans the whole growing table for every batch (quadratic). ANALYZE
        inside the transaction counts the transaction's own rows.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("ANALYZE members, ledger_entries"))

    def _cards(self) -> None:
        rng = self.rng
        rows: list[dict[str, Any]] = []
        designated = {id(m): outcome for outcome, m in self.designated.items()}

        def add(
            member: _PlannedMember,
            status: CardStatus,
            generation: int = 1,
            issued: datetime | None = None,
            changed: datetime | None = None,
            reason: str | None = None,
        ) -> str:
            number = self._card_number()
            issued = issued or self._instant(self._days_ago(40, 330), 10, rng.randint(0, 59))
            if status is not CardStatus.ACTIVE and changed is None:
                changed = min(issued + timedelta(days=rng.randint(5, 30)), self.now)
            rows.append(
                {
                    "card_no": number,
                    "member_id": member.id,
                    "generation": generation,
                    "status": status,
                    "issued_at": issued,
                    "issued_by_id": self.secretaries[member.community_index].id,
                    "status_changed_at": changed if status is not CardStatus.ACTIVE else None,
                    "status_reason": reason if status is not CardStatus.ACTIVE else None,
                }
            )
            return number

        for m in self.members:
            outcome = designated.get(id(m))
            if outcome == "card_suspended":
                self.outcome_cards[outcome] = add(
                    m, CardStatus.SUSPENDED, reason=SUSPENSION_REASONS[0]
                )
            elif outcome == "card_revoked":
                self.outcome_cards[outcome] = add(
                    m, CardStatus.REVOKED, reason="党员本人申请退卡，卡片注销"
                )
            elif outcome in ("awaiting_card_1", "awaiting_card_2"):
                continue  # newly eligible: the community has not issued the card yet
            elif outcome in ("ageing_1", "ageing_2"):
                add(m, CardStatus.ACTIVE)
            elif outcome is not None:
                self.outcome_cards[outcome] = add(m, CardStatus.ACTIVE)
            elif m.band is not Tier.NONE:
                roll = rng.random()
                if roll < 0.02 and m.band is Tier.SILVER:
                    continue  # newly eligible: the community has not issued the card yet
                if roll < 0.025:
                    add(m, CardStatus.SUSPENDED, reason=rng.choice(SUSPENSION_REASONS))
                elif roll < 0.035:
                    lost = self._instant(self._days_ago(10, 120), 11)
                    add(
                        m,
                        CardStatus.REPLACED,
                        1,
                        lost - timedelta(days=200),
                        lost,
                        "卡片遗失，补办新卡",
                    )
                    add(m, CardStatus.ACTIVE, 2, lost)
                else:
                    add(m, CardStatus.ACTIVE)
            else:
                roll = rng.random()
                if roll < 0.015:  # issued when eligible, since fallen below silver
                    add(m, CardStatus.ACTIVE)
                elif roll < 0.018:
                    add(m, CardStatus.REVOKED, reason="组织关系转出本区，卡片注销")
        self.session.execute(insert(Card), rows)

        for outcome, username in (("gold", "c01-gold"), ("silver", "c01-silver")):
            member = self.designated[outcome]
            account = accounts.create_account(
                self.session,
                self.operator,
                username=username,
                password=DEMO_PASSWORD,
                role=Role.MEMBER,
                display_name=member.name,
                member_id=member.id,
                now=self.now,
            )
            tier_label = "金卡" if outcome == "gold" else "银卡"
            self.logins.append(
                self._login(
                    "member",
                    account,
                    f"C01 {member.member_no} {tier_label} {self.outcome_cards[outcome]}",
                )
            )
        m001 = self.merchants[0]
        for role, username, label in (
            (Role.MERCHANT_MANAGER, "m001-manager", "店长"),
            (Role.CASHIER, "m001-cashier", "收银员"),
        ):
            account = accounts.create_account(
                self.session,
                self.operator,
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                display_name=f"{self._person_name()}（{m001.name}{label}）",
                merchant_id=m001.id,
                now=self.now,
            )
            self.logins.append(self._login(str(role), account, f"M001 {m001.name}"))

    def _summary(self) -> dict[str, Any]:
        session = self.session

        def count(column: Any, *where: Any) -> int:
            return session.scalar(select(func.count(column)).where(*where)) or 0

        standings = tiers.evaluate_tiers(session, [m.id for m in self.members], at=self.now)
        tier_counts = {str(t): 0 for t in Tier}
        for tier in standings.values():
            tier_counts[str(tier)] += 1
        card_counts = {str(status): count(Card.id, Card.status == status) for status in CardStatus}
        counts = {
            "communities": len(self.communities),
            "merchants": len(self.merchants),
            "agreements": count(Agreement.id),
            "agreement_versions": count(AgreementVersion.id),
            "members": len(self.members),
            "employer_members": sum(1 for m in self.members if m.employer),
            "activities": self.activity_count,
            "attendances": self.attendance_count,
            "claims": {
                str(status): count(Claim.id, Claim.status == status) for status in ClaimStatus
            },
            "ledger_entries": count(LedgerEntry.id),
            "reversals": count(LedgerEntry.id, LedgerEntry.kind == EntryKind.REVERSAL),
            "tiers": tier_counts,
            "cards": card_counts,
        }
        record(
            session,
            self.operator,
            "demo.seed",
            "demo",
            None,
            at=self.now,
            members=len(self.members),
            ledger_entries=counts["ledger_entries"],
        )
        m001 = self.merchants[0]
        return {
            "password": DEMO_PASSWORD,
            "logins": self.logins,
            "counts": counts,
            "checkout": {
                "merchant": {"code": m001.code, "name": m001.name},
                "outcomes": {outcome: self.outcome_cards[outcome] for outcome in OUTCOMES},
            },
        }


DEMO_USERNAMES = (
    "admin",
    "c01-secretary",
    "c01-gold",
    "c01-silver",
    "m001-manager",
    "m001-cashier",
)


def working_demo_logins(session: Session) -> list[tuple[str, str]]:
    """The demo sign-ins that still accept the demo password, as (username, role label)."""
    working = []
    for username in DEMO_USERNAMES:
        account = accounts.authenticate(session, username, DEMO_PASSWORD)
        if account is not None:
            working.append((username, account.role_label))
    return working

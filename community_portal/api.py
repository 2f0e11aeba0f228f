"""The secretary's calls of the people API (社区书记接口) under /api/v1: the claims queue,
certifying and rejecting, the roster, adjustments, activities and their attendance.

A secretary reaches their own community; the district administrator every community. Another
community's claim, member or activity is ``not_found``, exactly like one that does not exist.
Authentication is the people token (``rewards.people_api.authenticate``).
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from flask import Flask

from rewards.api_contract import MAX_ID
from rewards.clock import business_date
from rewards.errors import NotFound, ValidationFailed
from rewards.extensions import api, csrf, db
from rewards.models import Claim, ClaimStatus, Community, LedgerEntry, Member, Role
from rewards.people_api import current_person, documented, people_blueprint
from rewards.schemas import (
    ActivityRequestSchema,
    ActivitySchema,
    AdjustmentRequestSchema,
    AttendanceRequestSchema,
    AttendanceResultSchema,
    CertifyRequestSchema,
    ClaimPageSchema,
    ClaimQuerySchema,
    ClaimSchema,
    LedgerEntrySchema,
    MemberPageSchema,
    MemberQuerySchema,
    RejectRequestSchema,
)
from rewards.services import activities, categories, claims, communities, ledger, members
from rewards.services.audit import Actor
from rewards.services.members import MEMBER_NOT_FOUND, RosterEntry
from rewards.services.paging import Page
from rewards.services.roster import MEMBER_NO

CLAIM_URL = f"/claims/<int(max={MAX_ID}):claim_id>"
ACTIVITY_URL = f"/activities/<int(max={MAX_ID}):activity_id>"

blp = people_blueprint(
    "secretary_api",
    (
        "社区书记接口：认定或驳回积分申报、查名册、积分调整、创建活动和登记签到。"
        "社区书记只能处理本社区；区管理员可处理所有社区。"
    ),
    Role.SECRETARY,
    Role.DISTRICT_ADMIN,
)


def _community(code: str | None) -> Community | None:
    """The community of ``code`` (C01 …), None when no code is given; an unknown code is not
    found (the services refuse another community's the same way)."""
    if code is None:
        return None
    return communities.community_by_code(db.session, code)


def _community_id(code: str | None) -> int | None:
    community = _community(code)
    return community.id if community else None


def _activity_community(actor: Actor, code: str | None) -> Community:
    """Where a new activity is held: the code given, else the secretary's own community."""
    if code is not None:
        community = _community(code)
        assert community is not None
        return community
    if actor.is_district_wide or actor.community_id is None:
        message = "区管理员创建活动需要指定社区代码（community）。"
        raise ValidationFailed(message, fields={"community": [message]})
    community = db.session.get(Community, actor.community_id)
    assert community is not None
    return community


# -- claims -----------------------------------------------------------------------------------


@blp.get("/claims")
@blp.arguments(ClaimQuerySchema, location="query")
@blp.response(200, ClaimPageSchema)
@documented(
    blp,
    401,
    403,
    404,
    422,
    operation_id="listClaims",
    summary="积分申报队列",
    description=(
        "本社区的积分申报，默认只列待认定的（最早提交的在前）；已认定、已驳回或全部按提交时间"
        "倒序。区管理员可用 community 只看一个社区。"
    ),
    notes={404: "not_found：找不到该社区。"},
)
def list_claims(query: dict[str, Any]) -> Page[Claim]:
    """The claims queue (待认定申报): pending oldest first, decided ones newest first."""
    status = None if query["status"] == "all" else ClaimStatus(query["status"])
    return claims.list_claims(
        db.session,
        current_person(),
        status=status,
        community_id=_community_id(query.get("community")),
        page=query["page"],
        page_size=query["page_size"],
    )


@blp.post(f"{CLAIM_URL}/certify")
@blp.arguments(CertifyRequestSchema, required=False, example={"points": 8})
@blp.response(200, ClaimSchema)
@documented(
    blp,
    400,
    401,
    403,
    404,
    409,
    422,
    operation_id="certifyClaim",
    summary="认定申报",
    description=(
        "认定一条待认定的申报，记入一条积分记录；可用 points 改分值（不超过类别上限）。"
        "已认定或已驳回的申报返回 409，积分不会重复记入。"
    ),
    notes={
        409: "conflict：这条申报已经认定或驳回过（积分不会重复记入）。",
        422: "invalid：分值不是整数，或超出该类别的上限。",
    },
)
def certify_claim(args: dict[str, Any], claim_id: int) -> Claim:
    """Certify a pending claim (认定积分): one ledger entry, with its points or ``points``."""
    claims.certify_claim(db.session, current_person(), claim_id, args.get("points"))
    # The service loaded and changed the claim: this reads it from the session, not the database.
    claim = db.session.get(Claim, claim_id)
    db.session.commit()
    return claim  # type: ignore[return-value]


@blp.post(f"{CLAIM_URL}/reject")
@blp.arguments(RejectRequestSchema, example={"reason": "服务日期与活动记录不符"})
@blp.response(200, ClaimSchema)
@documented(
    blp,
    400,
    401,
    403,
    404,
    409,
    422,
    operation_id="rejectClaim",
    summary="驳回申报",
    description="驳回一条待认定的申报，原因会显示给党员。",
    notes={
        409: "conflict：这条申报已经认定或驳回过。",
        422: "invalid：缺少驳回原因，或原因超过 200 个字。",
    },
)
def reject_claim(args: dict[str, Any], claim_id: int) -> Claim:
    """Reject a pending claim (驳回) with a reason the member will read."""
    claim = claims.reject_claim(db.session, current_person(), claim_id, args["reason"])
    db.session.commit()
    return claim


# -- the roster and adjustments ---------------------------------------------------------------


@blp.get("/members")
@blp.arguments(MemberQuerySchema, location="query")
@blp.response(200, MemberPageSchema)
@documented(
    blp,
    401,
    403,
    404,
    422,
    operation_id="listMembers",
    summary="党员名册",
    description=(
        "本社区在册党员，按党员编号排列；q 按姓名、编号开头或手机尾号搜索。"
        "每人给出实时等级（tier）和当前卡的状态（card_status）。"
    ),
    notes={404: "not_found：找不到该社区。"},
)
def search_members(query: dict[str, Any]) -> Page[RosterEntry]:
    """The roster (党员名册) by member number, searched by name, number or phone tail."""
    return members.search_members(
        db.session,
        current_person(),
        query["q"],
        community_id=_community_id(query.get("community")),
        page=query["page"],
        page_size=query["page_size"],
    )


def _entry_view(entry: LedgerEntry, member: Member) -> dict[str, Any]:
    return {
        "id": entry.id,
        "member_no": member.member_no,
        "points": entry.points,
        "kind": entry.kind,
        "occurred_on": entry.occurred_on,
        "reason": entry.memo,
        "recorded_at": entry.recorded_at,
    }


@blp.post("/members/<member_no>/adjustments")
@blp.arguments(
    AdjustmentRequestSchema,
    example={"points": 10, "reason": "系统上线前的志愿服务积分", "occurred_on": "2024-05-01"},
)
@blp.response(201, LedgerEntrySchema, description="调整已记入积分台账。")
@documented(
    blp,
    400,
    401,
    403,
    404,
    409,
    422,
    operation_id="createAdjustment",
    summary="积分调整",
    description=(
        "为本社区党员记一笔积分调整（正数加分、负数减分），原因必填，记入积分台账且不可修改；"
        "更正请再做一笔调整。带 idempotency_key 时重试只记一次。"
    ),
    notes={
        404: "not_found：本社区没有这个党员编号（其他社区的党员也报告为不存在）。",
        409: "conflict：这个幂等键已用于另一笔调整（党员、分值或原因不同）。",
    },
)
def adjust_points(args: dict[str, Any], member_no: str) -> tuple[dict[str, Any], int]:
    """Record a manual correction (积分调整) of a member's points, with the reason.

    With an ``idempotency_key``, a retry returns the same entry; without, every call is new.
    """
    actor = current_person()
    if not MEMBER_NO.match(member_no.strip().upper()):
        raise NotFound(MEMBER_NOT_FOUND)
    member = members.member_by_number(db.session, actor, member_no)
    # Keys are the caller's own: namespaced by account, so no one can reach another's entry.
    key = f"api:{actor.account_id}:{args.get('idempotency_key') or uuid4().hex}"
    reason = args["reason"].strip()
    entry = ledger.adjust(
        db.session,
        actor,
        member.id,
        args["points"],
        reason,
        args.get("occurred_on") or business_date(),
        key,
    )
    view = _entry_view(entry, member)
    db.session.commit()
    return view, 201


# -- activities and attendance ----------------------------------------------------------------


@blp.post("/activities")
@blp.arguments(
    ActivityRequestSchema,
    example={
        "title": "重阳节敬老志愿服务",
        "category": "volunteer",
        "occurred_on": "2024-10-11",
        "points": 5,
    },
)
@blp.response(201, ActivitySchema, description="活动已创建，可以登记签到。")
@documented(
    blp,
    400,
    401,
    403,
    404,
    422,
    operation_id="createActivity",
    summary="创建活动",
    description="创建一项社区活动，参加者每人得 points 分；区管理员须用 community 指定社区。",
    notes={
        404: "not_found：找不到该社区（社区书记只能为本社区创建活动）。",
        422: (
            "invalid：标题长度、类别不存在或已停用、日期晚于今天或早于一年前、"
            "分值超过类别上限，或区管理员没有指定社区。"
        ),
    },
)
def create_activity(args: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Announce a community activity (社区活动) whose attendees each earn ``points``."""
    actor = current_person()
    community = _activity_community(actor, args.get("community"))
    category = categories.category_by_code(db.session, args["category"])
    activity = activities.create_activity(
        db.session,
        actor,
        community.id,
        category.id,
        args["title"],
        args["occurred_on"],
        args["points"],
    )
    db.session.commit()
    return {"activity": activity, "community": community}, 201


@blp.post(f"{ACTIVITY_URL}/attendance")
@blp.arguments(AttendanceRequestSchema, example={"member_nos": ["YT0100001", "YT0100002"]})
@blp.response(200, AttendanceResultSchema)
@documented(
    blp,
    400,
    401,
    403,
    404,
    422,
    operation_id="recordAttendance",
    summary="登记活动签到",
    description=(
        "按党员编号登记参加活动的人，每人记一次活动分值。整批要么全部记录，要么全部不记："
        "任何编号不是本社区在册党员都会拒绝整批并逐个列出。重复提交不会重复记分，"
        "already 为此前已登记的人数。"
    ),
    notes={
        404: "not_found：本社区没有这个活动（其他社区的活动也报告为不存在）。",
        422: (
            "invalid：列表为空，或有编号不是本社区在册党员（details.fields.member_nos 逐个列出）；"
            "整批不记录。"
        ),
    },
)
def record_attendance(args: dict[str, Any], activity_id: int) -> dict[str, int]:
    """Record who attended (活动签到): each member earns the activity's points once.

    All or nothing: any unknown or out-of-community number refuses the whole batch. Submitting
    the same batch again credits nobody twice (``already`` counts them).
    """
    result = activities.record_attendance(
        db.session, current_person(), activity_id, args["member_nos"]
    )
    db.session.commit()
    return {"recorded": len(result.credited), "already": len(result.already_recorded)}


def init_app(app: Flask) -> None:
    """Serve the secretary's calls in the API's OpenAPI document (after the people API's)."""
    api.register_blueprint(blp)
    # Bearer tokens, not cookies, authenticate the API.
    csrf.exempt(blp)

"""The community roster (党员名册): CSV import, validated in full before anything is written, and
transfers of members between communities (组织关系转接)."""

from __future__ import annotations

import csv
import io
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from rewards import spreadsheets
from rewards.clock import business_date, utcnow
from rewards.errors import Conflict, NotFound, ValidationFailed
from rewards.models import Community, Member, MemberStatus, MemberTransfer, Role
from rewards.services.audit import Actor, record, require_community, require_role

# One or two capital letters and 6 to 14 digits, e.g. YT0100001 or P0000001.
MEMBER_NO = re.compile(r"^[A-Z]{0,2}\d{6,14}$")
# A mainland China mobile number: 11 digits starting 13–19.
MOBILE = re.compile(r"^1[3-9]\d{9}$")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d")
# The Communist Party of China was founded on 1 July 1921; an earlier date is a typing mistake.
EARLIEST_JOINED_ON = date(1921, 7, 1)
MAX_ROWS = 20_000
MAX_NAME_LENGTH = 40
MAX_EMPLOYER_LENGTH = 120
IMPORT_CHUNK = 500

# Column names accepted in the header: the English ones, and the Chinese ones Excel users type.
COLUMNS = {
    "member_no": ("member_no", "党员编号", "编号"),
    "name": ("name", "姓名"),
    "phone": ("phone", "手机", "手机号", "手机号码", "联系电话"),
    "joined_on": ("joined_on", "报到日期", "入党日期", "加入日期"),
    "employer": ("employer", "工作单位", "单位"),
}
REQUIRED_COLUMNS = ("member_no", "name", "phone", "joined_on")


@dataclass(frozen=True)
class RosterRow:
    """One valid-looking line of a roster file (its line number as a spreadsheet shows it)."""

    line: int
    member_no: str
    name: str
    phone: str
    joined_on: date
    employer: str


@dataclass(frozen=True)
class RowError:
    """A problem with one line of the file (line 1 is the header)."""

    line: int
    message: str
    # What the line says, so that a preview can name the row (empty for file-level problems).
    member_no: str = ""
    name: str = ""

    def __str__(self) -> str:
        return f"第 {self.line} 行：{self.message}"


@dataclass
class RosterFile:
    """A parsed roster file: the rows that look right, and every problem found."""

    rows: list[RosterRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


class RosterInvalid(ValidationFailed):
    """The roster file has problems; nothing was imported. ``errors`` lists them all."""

    message = "名册文件有错误，未导入任何记录。"

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(
            f"名册文件有 {len(errors)} 处错误，未导入任何记录，请改正后重新导入。",
            errors=[{"line": e.line, "message": e.message} for e in errors],
        )
        self.errors = errors


def decode_roster(data: bytes) -> str | None:
    """The file's text: UTF-8 (with or without the BOM Excel writes) or GBK (Excel's default)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _parse_date(text: str) -> date | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _table(data: bytes) -> Iterator[list[str]] | RowError:
    """The file's rows as text: an Excel workbook's active sheet, or a CSV's lines; or why the
    file cannot be read. A CSV's reader raises ``csv.Error`` as it meets a broken line."""
    if spreadsheets.is_xlsx(data):
        # The header, MAX_ROWS rows, and one more to tell that the sheet is too long.
        try:
            return iter(spreadsheets.read_xlsx_rows(data, MAX_ROWS + 2))
        except spreadsheets.UnreadableWorkbook as error:
            return RowError(1, str(error))
    text = decode_roster(data)
    if text is None:
        return RowError(1, "无法识别文件编码，请在 Excel 中另存为“CSV UTF-8（逗号分隔）”后再导入。")
    return csv.reader(io.StringIO(text, newline=""))


def parse_roster(data: bytes, today: date | None = None) -> RosterFile:
    """Read a roster (a CSV, or an Excel .xlsx typed into the template) and check every row on
    its own (formats, required fields, duplicates)."""
    today = today or business_date()
    result = RosterFile()
    reader = _table(data)
    if isinstance(reader, RowError):
        result.errors.append(reader)
        return result
    try:
        header = next(reader)
    except StopIteration:
        result.errors.append(RowError(1, "文件是空的，第一行应为表头。"))
        return result
    except csv.Error as exc:
        result.errors.append(RowError(1, f"无法按 CSV 格式读取：{exc}"))
        return result

    aliases = {alias.lower(): key for key, names in COLUMNS.items() for alias in names}
    positions: dict[str, int] = {}
    for position, raw in enumerate(header):
        name = raw.strip().lower()
        if not name:
            continue
        key = aliases.get(name)
        if key is None:
            result.errors.append(RowError(1, f"表头中有无法识别的列「{raw.strip()}」。"))
        elif key in positions:
            result.errors.append(RowError(1, f"表头中「{raw.strip()}」列出现了两次。"))
        else:
            positions[key] = position
    missing = [key for key in REQUIRED_COLUMNS if key not in positions]
    if missing:
        result.errors.append(
            RowError(1, f"表头缺少必需的列：{', '.join(missing)}（可选列：employer）。")
        )
    if result.errors:
        return result

    first_line: dict[str, int] = {}
    try:
        for line, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # blank lines at the end of Excel exports
            if len(result.rows) + len(result.errors) >= MAX_ROWS:
                result.errors.append(RowError(line, f"一次最多导入 {MAX_ROWS} 行，请分批导入。"))
                break
            row = _check_row(line, cells, positions, today, first_line, result.errors)
            if row is not None:
                result.rows.append(row)
    except csv.Error as exc:
        result.errors.append(
            RowError(getattr(reader, "line_num", 1), f"无法按 CSV 格式读取：{exc}")
        )
    if not result.rows and not result.errors:
        result.errors.append(RowError(2, "文件中没有党员记录。"))
    return result


def _check_row(
    line: int,
    cells: list[str],
    positions: dict[str, int],
    today: date,
    first_line: dict[str, int],
    errors: list[RowError],
) -> RosterRow | None:
    def cell(key: str) -> str:
        position = positions.get(key)
        if position is None or position >= len(cells):
            return ""
        return cells[position].strip()

    member_no = cell("member_no").upper()
    name = cell("name")
    phone = normalise_phone(cell("phone"))
    joined_text = cell("joined_on")
    employer = cell("employer")

    joined_on = _parse_date(joined_text) if joined_text else None
    found = member_problems(member_no, name, phone, joined_on, employer, today)
    if joined_text and joined_on is None:
        found["joined_on"] = f"日期「{joined_text}」格式不对，应为 YYYY-MM-DD，例如 2019-07-01"
    elif not joined_text:
        found["joined_on"] = "缺少报到日期（joined_on）"
    if phone and "phone" in found:
        found["phone"] = f"手机号「{cell('phone')}」不是 11 位大陆手机号"
    if "member_no" not in found and member_no in first_line:
        found["member_no"] = f"党员编号 {member_no} 与第 {first_line[member_no]} 行重复"
    if member_no and member_no not in first_line:
        first_line[member_no] = line
    if found:
        ordered = [found[key] for key in MEMBER_FIELDS if key in found]
        errors.append(RowError(line, "；".join(ordered) + "。", member_no, name))
        return None
    assert joined_on is not None
    return RosterRow(line, member_no, name, phone, joined_on, employer)


MEMBER_FIELDS = ("member_no", "name", "phone", "joined_on", "employer")


def normalise_phone(text: str) -> str:
    """A phone number as typed, without the spaces and dashes people put in."""
    return (text or "").strip().replace(" ", "").replace("-", "")


def member_problems(
    member_no: str,
    name: str,
    phone: str,
    joined_on: date | None,
    employer: str,
    today: date,
) -> dict[str, str]:
    """What is wrong with a member's details, by field (empty when all is well).

    The one set of rules for a roster row, a member added by hand and a member's edit.
    """
    problems: dict[str, str] = {}
    if not member_no:
        problems["member_no"] = "缺少党员编号（member_no）"
    elif not MEMBER_NO.match(member_no):
        problems["member_no"] = (
            f"党员编号「{member_no}」格式不对，应为 0–2 个大写字母加 6–14 位数字"
        )
    if not name:
        problems["name"] = "缺少姓名（name）"
    elif len(name) > MAX_NAME_LENGTH:
        problems["name"] = f"姓名超过 {MAX_NAME_LENGTH} 个字"
    if not phone:
        problems["phone"] = "缺少手机号（phone）"
    elif not MOBILE.match(phone):
        problems["phone"] = f"手机号「{phone}」不是 11 位大陆手机号"
    if joined_on is None:
        problems["joined_on"] = "缺少报到日期（joined_on）"
    elif joined_on > today:
        problems["joined_on"] = f"报到日期 {joined_on.isoformat()} 晚于今天"
    elif joined_on < EARLIEST_JOINED_ON:
        problems["joined_on"] = f"报到日期 {joined_on.isoformat()} 早于 1921-07-01，请核对"
    if len(employer) > MAX_EMPLOYER_LENGTH:
        problems["employer"] = f"工作单位超过 {MAX_EMPLOYER_LENGTH} 个字"
    return problems


@dataclass(frozen=True)
class RowReport:
    """What an import would do with one line of the file (预览)."""

    line: int
    action: str  # new, update, unchanged or error
    member_no: str = ""
    name: str = ""
    message: str = ""


ROW_ACTIONS = {"new": "新增", "update": "更新", "unchanged": "不变", "error": "有错误"}


@dataclass
class ImportCheck:
    """A roster file checked against the database: a report line per row, nothing written."""

    community: Community
    roster: RosterFile
    existing: dict[str, Member]
    errors: list[RowError]
    rows: list[RowReport]

    @property
    def ok(self) -> bool:
        return not self.errors

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)


def check_import(
    session: Session, actor: Actor, community_id: int, roster: RosterFile
) -> ImportCheck:
    """What importing ``roster`` into a community would do, row by row; writes nothing.

    A number registered in another community is an error: that member must be transferred.
    """
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    require_community(actor, community_id, "找不到该社区。")
    community = session.get(Community, community_id)
    if community is None:
        raise NotFound("找不到该社区。")

    errors = list(roster.errors)
    existing: dict[str, Member] = {}
    numbers = [row.member_no for row in roster.rows]
    for start in range(0, len(numbers), 5000):
        chunk = numbers[start : start + 5000]
        existing.update(
            (m.member_no, m)
            for m in session.scalars(select(Member).where(Member.member_no.in_(chunk)))
        )
    elsewhere = {m.community_id for m in existing.values() if m.community_id != community_id}
    names = {
        community_id: name
        for community_id, name in session.execute(
            select(Community.id, Community.name).where(Community.id.in_(elsewhere))
        )
    }
    reports = [RowReport(e.line, "error", e.member_no, e.name, e.message) for e in roster.errors]
    for row in roster.rows:
        member = existing.get(row.member_no)
        if member is not None and member.community_id != community_id:
            error = RowError(
                row.line,
                f"党员编号 {row.member_no} 已在「{names[member.community_id]}」登记；"
                "请由该社区办理组织关系转接（transfer），不能通过导入改登记社区。",
            )
            errors.append(error)
            reports.append(RowReport(row.line, "error", row.member_no, row.name, error.message))
        elif member is None:
            reports.append(RowReport(row.line, "new", row.member_no, row.name))
        elif (member.name, member.phone, member.joined_on, member.employer) == (
            row.name,
            row.phone,
            row.joined_on,
            row.employer,
        ):
            reports.append(RowReport(row.line, "unchanged", row.member_no, row.name))
        else:
            reports.append(RowReport(row.line, "update", row.member_no, row.name))
    return ImportCheck(
        community=community,
        roster=roster,
        existing=existing,
        errors=sorted(errors, key=lambda e: e.line),
        rows=sorted(reports, key=lambda r: r.line),
    )


def import_roster(
    session: Session,
    actor: Actor,
    community_id: int,
    roster: RosterFile,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Import a parsed roster into one community: all rows or none (导入名册).

    New member numbers are added; members already on this community's roster are updated
    (``check_import`` says which, and refuses a member of another community). ``progress`` is
    called with the number of rows just handled.
    """
    now = now or utcnow()
    check = check_import(session, actor, community_id, roster)
    if not check.ok:
        raise RosterInvalid(check.errors)
    existing = check.existing

    created = updated = unchanged = 0
    for start in range(0, len(roster.rows), IMPORT_CHUNK):
        chunk = roster.rows[start : start + IMPORT_CHUNK]
        new_rows = []
        for row in chunk:
            member = existing.get(row.member_no)
            if member is None:
                new_rows.append(
                    {
                        "member_no": row.member_no,
                        "name": row.name,
                        "phone": row.phone,
                        "community_id": community_id,
                        "status": MemberStatus.ACTIVE,
                        "employer": row.employer,
                        "joined_on": row.joined_on,
                        "created_at": now,
                    }
                )
                continue
            values = (row.name, row.phone, row.joined_on, row.employer)
            if (member.name, member.phone, member.joined_on, member.employer) == values:
                unchanged += 1
            else:
                member.name, member.phone, member.joined_on, member.employer = values
                updated += 1
        if new_rows:
            session.execute(insert(Member), new_rows)
            created += len(new_rows)
        session.flush()
        if progress is not None:
            progress(len(chunk))

    record(
        session,
        actor,
        "roster.import",
        "community",
        community_id,
        at=now,
        created=created,
        updated=updated,
        unchanged=unchanged,
    )
    return ImportResult(created=created, updated=updated, unchanged=unchanged)


def transfer_member(
    session: Session,
    actor: Actor,
    member_id: int,
    to_community_id: int,
    now: datetime | None = None,
) -> MemberTransfer:
    """Move a member to another community's roster (组织关系转接), keeping the history.

    Ledger entries keep the community they were recorded in; from now on the new community's
    secretary certifies the member and its agreements apply at checkout.
    """
    now = now or utcnow()
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    member = session.scalar(select(Member).where(Member.id == member_id).with_for_update(of=Member))
    if member is None:
        raise NotFound("找不到该党员。")
    require_community(actor, member.community_id, "找不到该党员。")
    target = session.get(Community, to_community_id)
    if target is None:
        raise NotFound("找不到转入的社区。")
    if member.status is not MemberStatus.ACTIVE:
        raise ValidationFailed("该党员的登记已停用，不能办理转接。")
    if target.id == member.community_id:
        raise Conflict("该党员已在这个社区登记，无需转接。")
    transfer = MemberTransfer(
        member_id=member.id,
        from_community_id=member.community_id,
        to_community_id=target.id,
        transferred_at=now,
        author_id=actor.account_id,
    )
    session.add(transfer)
    member.community_id = target.id
    session.flush()
    session.expire(member, ["community"])
    record(
        session,
        actor,
        "member.transfer",
        "member",
        member.id,
        at=now,
        from_community_id=transfer.from_community_id,
        to_community_id=target.id,
    )
    return transfer


def transfers_of(session: Session, member_id: int) -> list[MemberTransfer]:
    """A member's transfers, oldest first."""
    return list(
        session.scalars(
            select(MemberTransfer)
            .where(MemberTransfer.member_id == member_id)
            .order_by(MemberTransfer.transferred_at, MemberTransfer.id)
        )
    )


# -- a file waiting between its preview and its import ----------------------------------------

STAGED_TTL = timedelta(hours=24)
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
_STAGED_NAME = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class StagedFiles:
    """Roster files uploaded for a preview, kept until imported (名册预览暂存).

    Each file belongs to the account that uploaded it; files older than a day are dropped.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, account_id: int, token: str) -> Path:
        if not _STAGED_NAME.match(token or ""):
            raise NotFound("预览已失效，请重新上传名册文件。")
        return self.folder / f"{account_id}-{token}.csv"

    def put(self, account_id: int, data: bytes) -> str:
        """Keep ``data`` and return the token that names it."""
        if len(data) > MAX_UPLOAD_BYTES:
            raise ValidationFailed(f"名册文件不能超过 {MAX_UPLOAD_BYTES // 1024 // 1024} MB。")
        self.folder.mkdir(parents=True, exist_ok=True)
        limit = time.time() - STAGED_TTL.total_seconds()
        for old in self.folder.glob("*.csv"):
            if old.stat().st_mtime < limit:
                old.unlink(missing_ok=True)
        token = secrets.token_urlsafe(24)
        self._path(account_id, token).write_bytes(data)
        return token

    def get(self, account_id: int, token: str) -> bytes:
        """The file kept under ``token`` for this account."""
        path = self._path(account_id, token)
        if not path.exists():
            raise NotFound("预览已失效，请重新上传名册文件。")
        return path.read_bytes()

    def drop(self, account_id: int, token: str) -> None:
        """Forget the file (after its import)."""
        self._path(account_id, token).unlink(missing_ok=True)

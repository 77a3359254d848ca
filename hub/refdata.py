"""Reference data the province publishes: import drafts, publish signed versions, serve them to desks.

Four sets (sync_protocol.refdata.SECTIONS): the holiday calendar, the procedure
catalogue, agency names with the slip header, and citizen message templates.

* `import_set(state, kind, path)` checks a CSV or JSON file completely and makes
  it the draft of that set, in one statement; any bad row is reported by line
  (or by entry for JSON tables) and nothing is imported.
* `publish(state)` builds one document from the drafts (the hub's defaults in
  hub/data/ for sets never imported), numbers it one above the last version,
  signs it with the hub key and stores it; the feed then announces it.
* `signed_version(state, version)` serves a stored version to enrolled devices;
  `feed_field(state)` is the announcement added to every feed page.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import re
from datetime import date
from pathlib import Path
from typing import Any

from sync_protocol.canonical import canonical_json, sha256_hex
from sync_protocol.manifest import AGENCY_CODE
from sync_protocol.refdata import SCHEMA, SECTIONS, announcement, sign_refdata
from sync_protocol.reference_tables import (CALENDAR_SCHEMA, catalogue_document, check_calendar, parse_catalogue,
                                            template_problem)
from sync_protocol.timestamps import format_utc

from . import audit
from .errors import BadRequest, Conflict, NotFound
from .state import HubState
from .storage.metadata import IntegrityError

log = logging.getLogger("motcua.hub.refdata")
DEFAULTS = Path(__file__).parent / "data"
DEFAULT_FILES = {"calendar": "holidays.json", "catalogue": "catalogue.json", "agencies": "agencies.json",
                 "templates": "notification_templates.json"}
CALENDAR_KINDS = ("holiday", "day_off", "working_day")
MAX_FILE_BYTES = 2 * 1024 * 1024


class RefdataInvalid(BadRequest):
    """A file with bad rows: every problem listed, nothing imported."""

    def __init__(self, source: str, problems: list[tuple[Any, str, str]]):
        shown = problems[:50]
        super().__init__(
            f"{source}: {len(problems)} bad row(s), nothing imported:\n" + "\n".join(f"  line {w}: {en}" for w, _, en in shown),
            f"{source}: {len(problems)} dòng lỗi, chưa nhập gì:\n" + "\n".join(f"  dòng {w}: {vi}" for w, vi, _ in shown),
            code="refdata_invalid")
        self.problems = problems


def default_set(kind: str) -> dict[str, Any]:
    return json.loads((DEFAULTS / DEFAULT_FILES[kind]).read_text("utf-8"))


def current_set(state: HubState, kind: str) -> dict[str, Any]:
    """The draft of `kind` if one was imported, else the hub's default."""
    row = state.db.one("SELECT content FROM refdata_drafts WHERE kind=?", (kind,))
    return json.loads(row["content"]) if row else default_set(kind)


# -- parsing each set -----------------------------------------------------------------------------------
def _csv_rows(text: str, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise RefdataInvalid("CSV", [(1, f"thiếu cột {', '.join(missing)}", f"missing column(s) {', '.join(missing)}")])
    return [(reader.line_num, row) for row in reader]


def _parse_calendar(text: str, fmt: str, state: HubState) -> tuple[dict[str, Any], list[tuple[Any, str, str]]]:
    if fmt == "json":
        data = json.loads(text)
        return data, [(f"{where}", vi, en) for where, vi, en in check_calendar(data)]
    # CSV: one announced day per row (date,kind,rule,source); the years it names replace those years' tables
    # of the current calendar, whose rules stay
    data = current_set(state, "calendar")
    problems: list[tuple[Any, str, str]] = []
    years: dict[str, dict[str, Any]] = {}
    for line, row in _csv_rows(text, ("date", "kind")):
        try:
            day = date.fromisoformat((row.get("date") or "").strip())
        except ValueError:
            problems.append((line, f"ngày {row.get('date')!r} phải có dạng YYYY-MM-DD", f"date {row.get('date')!r} is not YYYY-MM-DD"))
            continue
        kind, rule = (row.get("kind") or "").strip(), (row.get("rule") or "").strip()
        if kind not in CALENDAR_KINDS or (kind == "holiday" and not rule):
            problems.append((line, f"kind phải là {'/'.join(CALENDAR_KINDS)} (holiday cần rule)",
                             f"kind must be one of {CALENDAR_KINDS} (a holiday needs its rule id)"))
            continue
        table = years.setdefault(str(day.year), {"status": "announced", "holidays": {}, "days_off": [],
                                                  "working_days": [], "sources": {}})
        if kind == "holiday":
            table["holidays"].setdefault(rule, []).append(day.isoformat())
        else:
            table["days_off" if kind == "day_off" else "working_days"].append(day.isoformat())
        if row.get("source"):
            table["sources"][f"{kind}:{day.isoformat()}"] = row["source"].strip()
    data = {**data, "years": {**data.get("years", {}), **years}}
    problems += [(where, vi, en) for where, vi, en in check_calendar(data)]
    return data, problems


def _parse_catalogue(text: str, fmt: str, _: HubState) -> tuple[dict[str, Any], list[tuple[Any, str, str]]]:
    version, procedures, problems = parse_catalogue(text, fmt)
    return catalogue_document(version, procedures), list(problems)


def _parse_agencies(text: str, fmt: str, state: HubState) -> tuple[dict[str, Any], list[tuple[Any, str, str]]]:
    if fmt == "json":
        data = json.loads(text)
        rows = [(f"agencies.{code}", {"code": code, "name_vi": name})
                for code, name in (data.get("agencies") or {}).items()] if isinstance(data, dict) else []
    else:
        data = {**current_set(state, "agencies"), "agencies": {}}
        rows = _csv_rows(text, ("code", "name_vi"))
    problems: list[tuple[Any, str, str]] = []
    if not isinstance(data, dict) or data.get("schema") != SECTIONS["agencies"] or \
            not isinstance(data.get("slip_header", {}), dict):
        return {}, [(1, f"cần schema {SECTIONS['agencies']}", f"needs schema {SECTIONS['agencies']} and a slip_header object")]
    names = {}
    for where, row in rows:
        code, name = str(row.get("code") or "").strip(), str(row.get("name_vi") or "").strip()
        if not AGENCY_CODE.match(code):
            problems.append((where, f"mã cơ quan {code!r} không hợp lệ (≤35 ký tự: số, A–Z, dấu chấm)",
                             f"agency code {code!r} is not an electronic agency ID (<=35 of 0-9, A-Z, dots)"))
        elif not 0 < len(name) <= 200:
            problems.append((where, "thiếu tên cơ quan", "name_vi must be 1..200 characters"))
        else:
            names[code] = name
    return {**data, "agencies": names}, problems


def _parse_templates(text: str, fmt: str, state: HubState) -> tuple[dict[str, Any], list[tuple[Any, str, str]]]:
    if fmt == "json":
        data = json.loads(text)
        rows = [(f"templates.{k}", {"status": k, "text": v}) for k, v in (data.get("templates") or {}).items()] \
            if isinstance(data, dict) else []
    else:
        data = current_set(state, "templates")
        rows = _csv_rows(text, ("status", "text"))
    if not isinstance(data, dict) or data.get("schema") != SECTIONS["templates"]:
        return {}, [(1, f"cần schema {SECTIONS['templates']}", f"needs schema {SECTIONS['templates']}")]
    problems: list[tuple[Any, str, str]] = []
    templates = {}
    for where, row in rows:
        status, message = str(row.get("status") or "").strip(), row.get("text")
        if not re.fullmatch(r"[1-9]|10", status):
            problems.append((where, f"trạng thái {status!r} phải từ 1 đến 10", f"status {status!r} must be 1..10"))
        elif template_problem(message):
            problems.append((where, *template_problem(message)))  # type: ignore[misc]
        else:
            templates[status] = message
    return {**data, "templates": templates}, problems


PARSERS = {"calendar": _parse_calendar, "catalogue": _parse_catalogue, "agencies": _parse_agencies,
           "templates": _parse_templates}


def import_set(state: HubState, kind: str, path: Path) -> dict[str, Any]:
    """Check `path` (CSV or JSON) completely and make it the draft of `kind`; raise RefdataInvalid otherwise."""
    if kind not in PARSERS:
        raise BadRequest(f"unknown reference data set {kind!r}; one of {sorted(PARSERS)}",
                         f"Không có bộ dữ liệu {kind!r}; chọn một trong {sorted(PARSERS)}")
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise RefdataInvalid(path.name, [(0, "tệp quá lớn", f"file larger than {MAX_FILE_BYTES} bytes")])
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadRequest(f"cannot read {path} as UTF-8: {exc}", f"Không đọc được tệp {path} (cần UTF-8)") from exc
    fmt = "csv" if path.suffix.lower() == ".csv" else "json"
    try:
        content, problems = PARSERS[kind](text, fmt, state)
    except ValueError as exc:  # JSON syntax
        raise RefdataInvalid(path.name, [(getattr(exc, "lineno", 0), "không phải JSON hợp lệ", f"not JSON: {exc}")]) from exc
    except (AttributeError, TypeError) as exc:
        raise RefdataInvalid(path.name, [(1, "cấu trúc không đúng mẫu", f"unexpected structure: {exc}")]) from exc
    if problems:
        raise RefdataInvalid(path.name, problems)
    text_out = json.dumps(content, ensure_ascii=False, sort_keys=True)
    with state.db.transaction() as tx:
        tx.execute("DELETE FROM refdata_drafts WHERE kind=?", (kind,))
        tx.execute("INSERT INTO refdata_drafts(kind, content, source, imported_at) VALUES (?,?,?,?)",
                   (kind, text_out, path.name[:200], state.now()))
        audit.record(tx, state.now(), audit.admin_actor(), "refdata.imported", kind=kind)
    log.info("refdata_imported kind=%s", kind)
    return {"kind": kind, "source": path.name, "entries": _count(kind, content)}


def _count(kind: str, content: dict[str, Any]) -> int:
    key = {"calendar": "years", "catalogue": "procedures", "agencies": "agencies", "templates": "templates"}[kind]
    return len(content.get(key) or ())


# -- publishing and serving -----------------------------------------------------------------------------
def latest(state: HubState) -> dict[str, Any] | None:
    return state.db.one("SELECT version, document_hash, published_at FROM refdata_versions"
                        " ORDER BY version DESC LIMIT 1")


def publish(state: HubState) -> dict[str, Any]:
    """Sign the drafts (or defaults) as the next version; Conflict if nothing changed since the last one."""
    sections = {kind: current_set(state, kind) for kind in SECTIONS}
    if sections["calendar"].get("schema") != CALENDAR_SCHEMA:
        raise BadRequest("the calendar draft is not a motcua.holidays/1 table", "Lịch ngày nghỉ không đúng mẫu")
    for _ in range(4):
        last = latest(state)
        if last is not None:
            previous = json.loads(state.db.one("SELECT envelope FROM refdata_versions WHERE version=?",
                                               (last["version"],))["envelope"])["document"]
            if all(previous[k] == sections[k] for k in SECTIONS):
                raise Conflict(f"nothing changed since version {last['version']}; import a corrected set first",
                               f"Không có gì thay đổi so với phiên bản {last['version']}; nhập dữ liệu mới trước",
                               code="refdata_unchanged")
        version = (last["version"] if last else 0) + 1
        document = {"schema": SCHEMA, "version": version, "published_at": format_utc(state.now()), **sections}
        envelope = sign_refdata(document, state.hub_key)
        try:
            with state.db.transaction() as tx:
                tx.execute("INSERT INTO refdata_versions(version, document_hash, envelope, published_at)"
                           " VALUES (?,?,?,?)", (version, envelope.document_hash,
                                                 envelope.to_bytes().decode("utf-8"), state.now()))
                audit.record(tx, state.now(), audit.admin_actor(), "refdata.published", version=str(version),
                             document_hash=envelope.document_hash)
        except IntegrityError:
            continue  # another admin published the same number at the same moment: number again
        log.info("refdata_published version=%d", version)
        return {"version": version, "document_hash": envelope.document_hash, "published_at": document["published_at"]}
    raise Conflict("concurrent publications kept colliding; retry", "Xung đột khi công bố; thử lại", code="busy")


def signed_version(state: HubState, version: int) -> dict[str, Any]:
    """The signed document of a published version (for an authenticated, enrolled device)."""
    if not 1 <= version <= 2**53 - 1:
        raise BadRequest("version must be 1..2^53-1", "Phiên bản phải từ 1 đến 2^53-1")
    row = state.db.one("SELECT envelope FROM refdata_versions WHERE version=?", (version,))
    if row is None:
        raise NotFound(f"no published reference data version {version}", f"Chưa công bố phiên bản {version}",
                       code="refdata_unknown")
    return json.loads(row["envelope"])


def feed_field(state: HubState) -> dict[str, Any]:
    """`{"refdata": {version, document_hash}}` for feed pages, or {} before the first publication."""
    last = latest(state)
    return {"refdata": announcement(int(last["version"]), last["document_hash"])} if last else {}


def show(state: HubState) -> dict[str, Any]:
    """What `motcua hub refdata show` prints: each set's origin and size, and the versions published."""
    drafts = {r["kind"]: r for r in state.db.query("SELECT kind, source, imported_at FROM refdata_drafts")}
    sets = {kind: {"source": drafts[kind]["source"] if kind in drafts else f"default ({DEFAULT_FILES[kind]})",
                   "imported_at": format_utc(drafts[kind]["imported_at"]) if kind in drafts else None,
                   "entries": _count(kind, current_set(state, kind)),
                   "hash": sha256_hex(canonical_json(current_set(state, kind)))[:16]} for kind in SECTIONS}
    versions = [{"version": r["version"], "document_hash": r["document_hash"], "published_at": format_utc(r["published_at"])}
                for r in state.db.query("SELECT version, document_hash, published_at FROM refdata_versions"
                                        " ORDER BY version DESC LIMIT 20")]
    return {"sets": sets, "versions": versions}

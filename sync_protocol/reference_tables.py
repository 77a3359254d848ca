"""Row-level checks of the reference tables both ends read: procedure catalogue and holiday calendar.

The hub checks what an administrator imports before publishing it; the desk
checks what it loads (a signed version, an imported file or the shipped table).
Both use these functions so that a table one end accepts the other accepts too.
Every problem is `(line, Vietnamese, English)`; callers report all of them at
once and import nothing when there is any.
"""
from __future__ import annotations

import csv
import io
import json
import re
import string
from dataclasses import asdict, dataclass
from datetime import date, time
from typing import Any

CATALOGUE_SCHEMA = "motcua.catalogue/1"
CALENDAR_SCHEMA = "motcua.holidays/1"
PROCEDURE_CODE = re.compile(r"^[0-9]\.[0-9]{6}$")
#: how a required document is handed in
DOCUMENT_FORMS = {"original": "bản chính", "copy": "bản sao", "original_or_copy": "bản chính hoặc bản sao",
                  "": ""}
_FORM_WORDS = {v: k for k, v in DOCUMENT_FORMS.items() if k} | {k: k for k in DOCUMENT_FORMS if k}
_DOC_SUFFIX = re.compile(r"^(?P<name>.*?)\s*\[(?P<form>[^\]]*)\]\s*$")
_TRUE = {"1", "true", "yes", "y", "có", "co", "x"}
_FALSE = {"0", "false", "no", "n", "không", "khong", ""}
RULE_KINDS = ("solar", "lunar", "tet", "national_day")
Problem = tuple[int, str, str]


@dataclass(frozen=True)
class Procedure:
    """One procedure of the catalogue (national code, legal time in working days, required documents)."""

    code: str
    name_vi: str
    field_vi: str
    processing_days: int
    documents: tuple[str, ...]
    name_en: str = ""
    fee: str = ""
    postal_return: bool = False
    code_verified: bool = False
    level: str = "commune"
    #: per document: "original", "copy", "original_or_copy" or "" (not stated)
    document_forms: tuple[str, ...] = ()
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["documents"] = [{"name": n, "form": f} if f else n
                             for n, f in zip(self.documents, self.document_forms or ("",) * len(self.documents))]
        data.pop("document_forms")
        return data


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _documents(raw: Any) -> tuple[list[tuple[str, str]], bool]:
    """[(name, form)] from a JSON list (strings or {name, form}) or CSV text 'A [bản chính]|B'."""
    if isinstance(raw, str):
        raw = [d.strip() for d in raw.split("|") if d.strip()]
    if not isinstance(raw, list):
        return [], False
    found = []
    for item in raw:
        if isinstance(item, dict):
            name, form = str(item.get("name") or "").strip(), str(item.get("form") or "").strip()
        elif isinstance(item, str):
            match = _DOC_SUFFIX.match(item)
            name, form = (match["name"], match["form"].strip().lower()) if match else (item.strip(), "")
        else:
            return [], False
        if not name or form not in _FORM_WORDS and form:
            return [], False
        found.append((name, _FORM_WORDS.get(form, "")))
    return found, True


def check_procedure_row(row: dict[str, Any], line: int, seen: dict[str, int]) -> tuple[Procedure | None, list[Problem]]:
    """One catalogue row -> a Procedure, or the problems that name what is wrong on that line."""
    problems: list[Problem] = []

    def bad(vi: str, en: str) -> None:
        problems.append((line, vi, en))

    code = str(row.get("code") or "").strip()
    if not PROCEDURE_CODE.match(code):
        bad(f"mã thủ tục {code!r} không đúng dạng 1.001193", f"procedure code {code!r} is not like 1.001193")
    elif code in seen:
        bad(f"mã {code} trùng với dòng {seen[code]}", f"code {code} repeats line {seen[code]}")
    else:
        seen[code] = line
    name = str(row.get("name_vi") or "").strip()
    if not name:
        bad("thiếu tên thủ tục (name_vi)", "name_vi is empty")
    days_raw = row.get("processing_days")
    try:
        days = int(str(days_raw).strip())
        if days < 0 or days > 365 or isinstance(days_raw, float):
            raise ValueError
    except (TypeError, ValueError):
        days = -1
        bad(f"thời hạn giải quyết {days_raw!r} phải là số ngày làm việc 0–365",
            f"processing_days {days_raw!r} must be a whole number of working days 0-365")
    documents, ok = _documents(row.get("documents") or [])
    if not ok:
        bad("danh sách giấy tờ không hợp lệ (dạng: tên [bản chính|bản sao], cách nhau bằng |)",
            "documents must be names, each optionally '[original|copy|original_or_copy]' (CSV: separated by |)")
    postal = _flag(row.get("postal_return", False))
    if postal is None:
        bad(f"postal_return {row.get('postal_return')!r} phải là có/không", f"postal_return {row.get('postal_return')!r} must be yes/no")
    if problems:
        return None, problems
    return Procedure(code=code, name_vi=name, field_vi=str(row.get("field_vi") or "").strip(), processing_days=days,
                     documents=tuple(n for n, _ in documents), name_en=str(row.get("name_en") or "").strip(),
                     fee=str(row.get("fee") or "").strip(), postal_return=bool(postal),
                     code_verified=bool(_flag(row.get("code_verified", False))),
                     level=str(row.get("level") or "commune"), document_forms=tuple(f for _, f in documents),
                     source=str(row.get("source") or "").strip()), []


def _json_item_lines(text: str, count: int) -> list[int]:
    """Line numbers where each item of the procedures list starts (for error messages)."""
    decoder, lines = json.JSONDecoder(), []
    key = text.find('"procedures"')
    pos = text.find("[", key if key >= 0 else 0) + 1
    try:
        while pos and len(lines) < count:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(text) or text[pos] == "]":
                break
            lines.append(text.count("\n", 0, pos) + 1)
            _, pos = decoder.raw_decode(text, pos)
    except ValueError:
        pass
    return lines + [0] * (count - len(lines))


def parse_catalogue(text: str, fmt: str) -> tuple[str, list[Procedure], list[Problem]]:
    """(version, procedures, problems) from JSON or CSV text; any problem means: import nothing."""
    rows: list[tuple[int, dict[str, Any]]]
    version = ""
    if fmt == "json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            return "", [], [(getattr(exc, "lineno", 0), "không phải JSON hợp lệ", f"not JSON: {exc}")]
        items = data.get("procedures") if isinstance(data, dict) else data
        if not isinstance(items, list):
            return "", [], [(1, "cần danh sách procedures", "expected a procedures list")]
        version = str(data.get("version", "")) if isinstance(data, dict) else ""
        lines = _json_item_lines(text, len(items))
        rows = [(lines[i], item if isinstance(item, dict) else {}) for i, item in enumerate(items)]
    else:
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        missing = [c for c in ("code", "name_vi", "processing_days") if c not in (reader.fieldnames or [])]
        if missing:
            return "", [], [(1, f"thiếu cột {', '.join(missing)}", f"missing column(s) {', '.join(missing)}")]
        rows = [(reader.line_num, row) for row in reader]
    seen: dict[str, int] = {}
    procedures: list[Procedure] = []
    problems: list[Problem] = []
    for line, row in rows:
        procedure, found = check_procedure_row(row, line, seen)
        problems += found
        if procedure:
            procedures.append(procedure)
    if not procedures and not problems:
        problems.append((1, "danh mục trống", "the catalogue is empty"))
    return version, procedures, problems


def catalogue_document(version: str, procedures: list[Procedure]) -> dict[str, Any]:
    return {"schema": CATALOGUE_SCHEMA, "version": version, "procedures": [p.to_dict() for p in procedures]}


# -- holiday calendar ----------------------------------------------------------------------------------
def _parses(parse: Any, value: Any) -> bool:
    try:
        parse(value)
        return True
    except (TypeError, ValueError):
        return False


def _is_date(value: Any) -> bool:
    return _parses(date.fromisoformat, value)


def _is_time(value: Any) -> bool:
    return _parses(time.fromisoformat, value)


def check_calendar(data: Any) -> list[tuple[str, str, str]]:
    """Problems of a `motcua.holidays/1` table as (where, Vietnamese, English); empty when it is sound."""
    problems: list[tuple[str, str, str]] = []

    def bad(where: str, vi: str, en: str) -> None:
        problems.append((where, vi, en))

    if not isinstance(data, dict) or data.get("schema") != CALENDAR_SCHEMA:
        return [("schema", f"phải là {CALENDAR_SCHEMA}", f"must be {CALENDAR_SCHEMA}")]
    hours = data.get("office_hours", {})
    for key, default in (("cutoff", "15:00"), ("close", "17:00")):
        if not _is_time(hours.get(key, default)):
            bad(f"office_hours.{key}", f"không phải giờ dạng HH:MM: {hours.get(key)!r}", f"is not an HH:MM time: {hours.get(key)!r}")
    rules = data.get("rules", [])
    if not isinstance(rules, list):
        return problems + [("rules", "phải là danh sách", "must be a list")]
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or rule.get("kind") not in RULE_KINDS or not rule.get("id"):
            bad(f"rules[{i}]", f"cần id và kind thuộc {list(RULE_KINDS)}", f"needs an id and a kind in {list(RULE_KINDS)}")
            continue
        if rule["kind"] in ("solar", "lunar"):
            month, day = rule.get("month"), rule.get("day")
            if not (isinstance(month, int) and 1 <= month <= 12 and isinstance(day, int) and 1 <= day <= 31):
                bad(f"rules[{i}]", "cần month 1–12 và day 1–31", "needs month 1-12 and day 1-31")
        for key in ("effective_from", "effective_to"):
            if key in rule and not _is_date(rule[key]):
                bad(f"rules[{i}].{key}", f"không phải ngày dạng YYYY-MM-DD: {rule[key]!r}", f"is not a YYYY-MM-DD date: {rule[key]!r}")
    years = data.get("years", {})
    if not isinstance(years, dict):
        return problems + [("years", "phải là đối tượng theo năm", "must map years to objects")]
    for key, table in years.items():
        if not key.isdigit() or not isinstance(table, dict):
            bad(f"years.{key}", "phải là năm và một đối tượng", "must be a year mapped to an object")
            continue
        lists = [(f"years.{key}.holidays.{rid}", v) for rid, v in (table.get("holidays") or {}).items()]
        lists += [(f"years.{key}.{name}", table.get(name)) for name in ("days_off", "working_days")]
        for where, values in lists:
            for value in values or []:
                if not _is_date(value):
                    bad(where, f"không phải ngày dạng YYYY-MM-DD: {value!r}", f"is not a YYYY-MM-DD date: {value!r}")
                elif date.fromisoformat(value).year != int(key):
                    bad(where, f"có ngày không thuộc năm {key}", f"holds a date outside {key}")
    return problems


# -- message templates ------------------------------------------------------------------------------------
#: the placeholders a citizen message template may use (agent.desk.notifications fills them)
TEMPLATE_FIELDS = frozenset({"code", "procedure", "due", "note", "agency", "return_text"})


def template_problem(text: Any) -> tuple[str, str] | None:
    """(Vietnamese, English) of what is wrong with one message template, or None."""
    if not isinstance(text, str) or not 0 < len(text) <= 480:
        return "nội dung tin nhắn 1–480 ký tự", "text must be 1..480 characters"
    try:
        fields = {name for _, name, spec, conv in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        return f"dấu ngoặc {{}} không hợp lệ: {exc}", f"braces are malformed: {exc}"
    unknown = sorted(fields - TEMPLATE_FIELDS)
    if unknown:
        return (f"trường không có: {unknown}; dùng {sorted(TEMPLATE_FIELDS)}",
                f"unknown placeholder(s) {unknown}; use {sorted(TEMPLATE_FIELDS)}")
    return None

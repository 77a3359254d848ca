"""The procedure catalogue (danh mục thủ tục hành chính) a desk takes dossiers for.

A province loads its catalogue as JSON (our schema) or CSV (a spreadsheet
export); each procedure has its national code (`1.001193` style), names, field
(lĩnh vực), legal processing time in working days (0 = same day), required
documents, fee text and whether the result may be returned by post. Import
checks every row and reports all bad rows at once, by line number.
The shipped sample (agent/desk/data/catalogue.json) marks which codes were checked.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent.errors import InputError
from sync_protocol.castore import write_file_atomic

SAMPLE = Path(__file__).parent / "data" / "catalogue.json"
SCHEMA = "motcua.catalogue/1"
CODE = re.compile(r"^[0-9]\.[0-9]{6}$")
CSV_COLUMNS = ("code", "name_vi", "name_en", "field_vi", "processing_days", "documents", "fee", "postal_return")
_TRUE = {"1", "true", "yes", "y", "có", "co", "x"}
_FALSE = {"0", "false", "no", "n", "không", "khong", ""}


@dataclass(frozen=True)
class Procedure:
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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["documents"] = list(self.documents)
        return data


class CatalogueInvalid(InputError):
    """Some rows are bad; `problems` lists (line, message) for every one of them."""

    def __init__(self, source: str, problems: list[tuple[int, str, str]]):
        lines_vi = "\n".join(f"  dòng {line}: {vi}" for line, vi, _ in problems[:50])
        lines_en = "\n".join(f"  line {line}: {en}" for line, _, en in problems[:50])
        super().__init__(f"Danh mục {source} có {len(problems)} dòng lỗi, chưa nhập gì:\n{lines_vi}",
                         f"Catalogue {source} has {len(problems)} bad row(s); nothing was imported:\n{lines_en}",
                         "Sửa các dòng trên rồi nhập lại / fix those rows and import again")
        self.problems = problems


def _check_row(row: dict[str, Any], line: int, seen: dict[str, int]) -> tuple[Procedure | None, list[tuple[int, str, str]]]:
    problems: list[tuple[int, str, str]] = []

    def bad(vi: str, en: str) -> None:
        problems.append((line, vi, en))

    code = str(row.get("code") or "").strip()
    if not CODE.match(code):
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
    documents = row.get("documents") or []
    if isinstance(documents, str):
        documents = [d.strip() for d in documents.split("|") if d.strip()]
    if not isinstance(documents, list) or not all(isinstance(d, str) and d.strip() for d in documents):
        bad("danh sách giấy tờ không hợp lệ", "documents must be a list of names (CSV: separated by |)")
        documents = []
    postal = row.get("postal_return", False)
    if isinstance(postal, str):
        if postal.strip().lower() in _TRUE:
            postal = True
        elif postal.strip().lower() in _FALSE:
            postal = False
        else:
            bad(f"postal_return {postal!r} phải là có/không", f"postal_return {postal!r} must be yes/no")
    if problems:
        return None, problems
    return Procedure(code=code, name_vi=name, field_vi=str(row.get("field_vi") or "").strip(), processing_days=days,
                     documents=tuple(d.strip() for d in documents), name_en=str(row.get("name_en") or "").strip(),
                     fee=str(row.get("fee") or "").strip(), postal_return=bool(postal),
                     code_verified=str(row.get("code_verified", False)).lower() in _TRUE,
                     level=str(row.get("level") or "commune")), []


class Catalogue:
    """Procedures by code, in catalogue order."""

    def __init__(self, procedures: list[Procedure], version: str = "", source: str = ""):
        self.procedures = {p.code: p for p in procedures}
        self.version = version
        self.source = source

    def __len__(self) -> int:
        return len(self.procedures)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.procedures.values())

    def get(self, code: str) -> Procedure:
        try:
            return self.procedures[code]
        except KeyError:
            raise InputError(f"Thủ tục {code!r} không có trong danh mục của điểm tiếp nhận.",
                             f"Procedure {code!r} is not in this desk's catalogue.",
                             "motcua catalogue list; hoặc nhập danh mục mới / or import an updated catalogue") from None

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "version": self.version, "procedures": [p.to_dict() for p in self]}

    # -- loading ----------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, source: str, fmt: str) -> "Catalogue":
        """Parse JSON or CSV text; raise CatalogueInvalid listing every bad row."""
        rows: list[tuple[int, dict[str, Any]]]
        version = ""
        if fmt == "json":
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise CatalogueInvalid(source, [(getattr(exc, "lineno", 0), "không phải JSON hợp lệ", f"not JSON: {exc}")]) from None
            items = data.get("procedures") if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise CatalogueInvalid(source, [(1, "cần danh sách procedures", "expected a procedures list")])
            version = str(data.get("version", "")) if isinstance(data, dict) else ""
            lines = _json_item_lines(text, len(items))
            rows = [(lines[i], item if isinstance(item, dict) else {}) for i, item in enumerate(items)]
        else:
            reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
            missing = [c for c in ("code", "name_vi", "processing_days") if c not in (reader.fieldnames or [])]
            if missing:
                raise CatalogueInvalid(source, [(1, f"thiếu cột {', '.join(missing)}", f"missing column(s) {', '.join(missing)}")])
            rows = [(reader.line_num, row) for row in reader]
        seen: dict[str, int] = {}
        procedures, problems = [], []
        for line, row in rows:
            procedure, found = _check_row(row, line, seen)
            problems += found
            if procedure:
                procedures.append(procedure)
        if problems:
            raise CatalogueInvalid(source, problems)
        if not procedures:
            raise CatalogueInvalid(source, [(1, "danh mục trống", "the catalogue is empty")])
        return cls(procedures, version, source)

    @classmethod
    def load(cls, path: Path | str) -> "Catalogue":
        path = Path(path)
        try:
            text = path.read_text("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"Không đọc được tệp danh mục {path} (cần UTF-8).", f"Cannot read catalogue {path}: {exc}",
                             "Lưu tệp dạng CSV UTF-8 hoặc JSON / save it as UTF-8 CSV or JSON") from exc
        return cls.parse(text, str(path), "csv" if path.suffix.lower() == ".csv" else "json")

    @classmethod
    def for_home(cls, home: Path | str | None) -> "Catalogue":
        """The catalogue imported into this desk, or the shipped sample."""
        local = Path(home) / "catalogue.json" if home else None
        return cls.load(local if local and local.exists() else SAMPLE)


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


def import_catalogue(home: Path | str, source: Path | str) -> Catalogue:
    """Validate `source` and make it this desk's catalogue (atomically)."""
    catalogue = Catalogue.load(source)
    data = json.dumps(catalogue.to_json(), ensure_ascii=False, indent=1).encode("utf-8")
    write_file_atomic(Path(home) / "catalogue.json", data, mode=0o644)
    return catalogue

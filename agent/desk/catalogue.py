"""The procedure catalogue (danh mục thủ tục hành chính) a desk takes dossiers for.

A province loads its catalogue as JSON (our schema) or CSV (a spreadsheet
export); each procedure has its national code (`1.001193` style), names, field
(lĩnh vực), legal processing time in working days (0 = same day), required
documents, fee text and whether the result may be returned by post. Import
checks every row and reports all bad rows at once, by line number.
The row checks live in sync_protocol.reference_tables (the hub checks what it publishes
the same way). The shipped sample (agent/desk/data/catalogue.json) marks which codes were
checked (`code_verified`) and cites a source for each; unchecked ones show "cần đối chiếu".
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.desk.refdata_store import current_file, read_document
from agent.errors import InputError
from sync_protocol.castore import write_file_atomic
from sync_protocol.reference_tables import CATALOGUE_SCHEMA as SCHEMA
from sync_protocol.reference_tables import PROCEDURE_CODE as CODE
from sync_protocol.reference_tables import (
    Procedure,
    catalogue_document,
    parse_catalogue,
)

__all__ = ["CODE", "SCHEMA", "Catalogue", "CatalogueInvalid", "Procedure", "import_catalogue"]
SAMPLE = Path(__file__).parent / "data" / "catalogue.json"
UNCONFIRMED = "cần đối chiếu"


class CatalogueInvalid(InputError):
    """Some rows are bad; `problems` lists (line, message) for every one of them."""

    def __init__(self, source: str, problems: list[tuple[int, str, str]]):
        lines_vi = "\n".join(f"  dòng {line}: {vi}" for line, vi, _ in problems[:50])
        lines_en = "\n".join(f"  line {line}: {en}" for line, _, en in problems[:50])
        super().__init__(f"Danh mục {source} có {len(problems)} dòng lỗi, chưa nhập gì:\n{lines_vi}",
                         f"Catalogue {source} has {len(problems)} bad row(s); nothing was imported:\n{lines_en}",
                         "Sửa các dòng trên rồi nhập lại / fix those rows and import again")
        self.problems = problems


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
        return catalogue_document(self.version, list(self))

    # -- loading ----------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, source: str, fmt: str) -> "Catalogue":
        """Parse JSON or CSV text; raise CatalogueInvalid listing every bad row."""
        version, procedures, problems = parse_catalogue(text, fmt)
        if problems:
            raise CatalogueInvalid(source, problems)
        return cls(procedures, version, source)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> "Catalogue":
        return cls.parse(json.dumps(data, ensure_ascii=False), source, "json")

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
        """The catalogue the province published (agent.desk.refdata), else one imported here, else the sample."""
        published = current_file(home)
        if published is not None:
            document = read_document(published)
            return cls.from_dict(document["catalogue"], f"refdata v{document['version']}")
        local = Path(home) / "catalogue.json" if home else None
        return cls.load(local if local and local.exists() else SAMPLE)


def import_catalogue(home: Path | str, source: Path | str) -> Catalogue:
    """Validate `source` and make it this desk's catalogue (atomically)."""
    catalogue = Catalogue.load(source)
    data = json.dumps(catalogue.to_json(), ensure_ascii=False, indent=1).encode("utf-8")
    write_file_atomic(Path(home) / "catalogue.json", data, mode=0o644)
    return catalogue

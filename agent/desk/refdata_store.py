"""Where the desk keeps the province's reference data: `<home>/refdata/v<N>.json` and the `current.json` pointer.

Read-only helpers for the modules that use a section (calendar, catalogue, templates, agency
names); agent.desk.refdata writes new versions. Imports nothing else from the desk.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

POINTER = "current.json"


def refdata_dir(home: Path | str) -> Path:
    return Path(home) / "refdata"


def _pointer(home: Path | str | None) -> dict[str, Any]:
    if not home:
        return {}
    try:
        return json.loads((refdata_dir(home) / POINTER).read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def current_version(home: Path | str | None) -> int:
    """The version this desk applies now (0: none published yet, the shipped tables are used)."""
    return int(_pointer(home).get("version") or 0)


def previous_version(home: Path | str | None) -> int:
    return int(_pointer(home).get("previous") or 0)


def current_file(home: Path | str | None) -> Path | None:
    """The signed document of the current version, or None."""
    version = current_version(home)
    path = refdata_dir(home) / f"v{version}.json" if version and home else None
    return path if path and path.exists() else None


def read_document(path: Path) -> dict[str, Any]:
    """The document inside a stored envelope (verified when it was applied)."""
    return json.loads(path.read_text("utf-8"))["document"]


def agency_name(home: Path | str | None, agency_code: str, fallback: str) -> str:
    """The agency's name as the province published it (slip header), else `fallback` (the site name)."""
    published = current_file(home)
    if published is None:
        return fallback
    return str(read_document(published)["agencies"].get("agencies", {}).get(agency_code) or fallback)


def status(home: Path | str | None) -> dict[str, Any]:
    """What `motcua doctor` and the dashboard show about the reference data in force."""
    pointer = _pointer(home)
    return {"version": int(pointer.get("version") or 0), "previous": int(pointer.get("previous") or 0),
            "applied_at": pointer.get("applied_at"), "document_hash": pointer.get("document_hash")}

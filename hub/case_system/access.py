"""Who may read which dossiers through the case-system API: bearer tokens scoped to agencies.

A token is made by `motcua hub status-token --name N --agency CODE…` (hub.feed);
only tokens with agencies may pull. A dossier belongs to the agency of the
device that committed it (the enrolled device's agency code, never a free-text
site name), so a token never sees another agency's dossiers: they are 404, the
same answer as a dossier that does not exist.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import Forbidden
from ..feed import api_token
from ..state import HubState


@dataclass(frozen=True)
class CaseSystem:
    """An authenticated case-system client: its token name and the agencies it may read."""

    name: str
    agencies: tuple[str, ...]

    @property
    def actor(self) -> str:
        """The audit log actor for this client."""
        return f"api:{self.name}"

    def agency_sql(self, column: str) -> tuple[str, tuple[str, ...]]:
        """`column IN (?, …)` and its parameters."""
        return f"{column} IN ({','.join('?' * len(self.agencies))})", self.agencies


def authenticate(state: HubState, authorization: str | None) -> CaseSystem:
    """The scoped client behind a Bearer token; 401 for a bad token, 403 for one without agencies."""
    row = api_token(state, authorization)
    if not row["agencies"]:
        raise Forbidden(f"API token {row['name']!r} is not scoped to any agency; make one with "
                        "`motcua hub status-token --name NAME --agency CODE`",
                        f"Mã truy cập {row['name']!r} chưa gắn với cơ quan nào; tạo mã mới với --agency",
                        code="token_not_scoped")
    return CaseSystem(row["name"], tuple(row["agencies"]))


def note_pull(state: HubState, client: CaseSystem) -> None:
    """Remember when this client last pulled (for `motcua hub lagging`); a lost write only delays that report."""
    state.db.execute_unsynced("UPDATE api_tokens SET last_pull_at=? WHERE name=?", (state.now(), client.name))

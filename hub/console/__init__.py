"""The provincial centre's web console on the hub, mounted at /console/.

  accounts      staff accounts, roles, argon2id passwords, lockout
  sessions      database-backed sessions with idle and absolute expiry, CSRF tokens
  queries       dossier search and detail (receipt verified), refused commits
  integrations  the case-system pieces (acknowledgements, webhook dead letters), imported lazily
  enrol_qr      enrolment tokens as QR codes for the desk to scan
  web           the sub-application: login, logout, session/CSRF/role checks, rendering
  pages         the pages and actions
  user_cli      `motcua hub user add|list|disable|reset`
"""
from __future__ import annotations

from fastapi import FastAPI

from ..state import HubState


def mount_console(app: FastAPI, state: HubState) -> None:
    """Serve the console under /console/ on the hub application."""
    from .web import PREFIX, create_console

    app.mount(PREFIX, create_console(state))

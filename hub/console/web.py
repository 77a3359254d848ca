"""The console's web plumbing: the sub-application mounted at /console/, login and logout,
session and CSRF checks, role checks, security headers and HTML rendering.

Every page needs a live session (else: redirect to the login page, or 401 for a POST).
Every POST carries the session's CSRF token (the login form: a pre-login token in a
cookie, double-submit) — else 403 — and the role the action needs — else 403.
Cookies are HttpOnly and SameSite=Strict, and Secure when the hub is served over TLS.
"""
from __future__ import annotations

import logging
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from sync_protocol.timestamps import format_utc

from .. import audit
from ..errors import Forbidden, HubError, Unauthorized
from ..state import HubState
from . import accounts, sessions
from .accounts import ROLE_NAMES
from .i18n import Translator

log = logging.getLogger("motcua.hub.console")
HERE = Path(__file__).parent
PREFIX = "/console"
PRE_LOGIN_COOKIE = "motcua_console_login"
MAX_FORM = 64 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
                               " frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # pages show citizens' dossiers: never kept by the browser or a proxy
}


def _when(ts: int | None) -> str:
    return format_utc(ts).replace("T", " ").rstrip("Z") + " UTC" if ts else ""


class Console:
    """Shared pieces for the page handlers (hub.console.pages)."""

    def __init__(self, state: HubState):
        self.state = state
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
        self.env.filters["when"] = _when
        self.env.filters["iso"] = lambda s: (s or "").replace("T", " ").replace("Z", " UTC")

    def lang(self, request: Request) -> str:
        return request.query_params.get("lang") or request.cookies.get("lang") or "vi"

    def render(self, request: Request, name: str, status: int = 200, session: sessions.Session | None = None,
               **values: Any) -> HTMLResponse:
        t = Translator(self.lang(request))
        html = self.env.get_template(name).render(
            t=t, session=session, csrf=session.csrf_token if session else "", p=PREFIX,
            path=request.url.path, flash=request.query_params.get("msg"), roles=ROLE_NAMES, **values)
        response = HTMLResponse(html, status_code=status)
        if "lang" in request.query_params:
            response.set_cookie("lang", t.lang, samesite="strict", max_age=365 * 86400, path=PREFIX,
                                secure=request.url.scheme == "https")
        return response

    def back(self, url: str, msg: str = "") -> RedirectResponse:
        return RedirectResponse(PREFIX + url + (("&" if "?" in url else "?") + "msg=" + quote(msg) if msg else ""),
                                status_code=303)

    async def page(self, request: Request) -> sessions.Session:
        """The session of a GET page; raises _LoginNeeded (-> redirect to the login page)."""
        session = await run_in_threadpool(sessions.load_session, self.state, request.cookies.get(sessions.COOKIE))
        if session is None:
            raise _LoginNeeded()
        return session

    async def action(self, request: Request, role: str) -> tuple[sessions.Session, FormData]:
        """The session and form of a POST that needs `role`: 401 without a session, 403 on a bad CSRF
        token or a role that is too low (the refusal is audited)."""
        session = await run_in_threadpool(sessions.load_session, self.state, request.cookies.get(sessions.COOKIE))
        if session is None:
            raise Unauthorized("log in first", "Cần đăng nhập trước", code="login_required")
        form = await request.form(max_part_size=MAX_FORM)
        if not sessions.csrf_ok(session, form.get("csrf")):  # type: ignore[arg-type]
            audit.record_now(self.state.db, self.state.now(), session.user.actor, "console.csrf_refused", None,
                             path=_audit_path(request))
            raise Forbidden("stale or forged form (CSRF token); reload the page",
                            "Biểu mẫu đã cũ hoặc giả mạo (mã CSRF); hãy tải lại trang", code="csrf")
        if not session.user.can(role):
            audit.record_now(self.state.db, self.state.now(), session.user.actor, "console.forbidden", None,
                             path=_audit_path(request), role=session.user.role)
            raise Forbidden(f"this needs the {role} role", f"Việc này cần vai trò {ROLE_NAMES[role][0]}",
                            code="role_forbidden")
        return session, form

    def audit(self, session: sessions.Session, action: str, dossier_id: str | None = None, **detail: Any) -> None:
        audit.record_now(self.state.db, self.state.now(), session.user.actor, action, dossier_id, **detail)


def _audit_path(request: Request) -> str:
    """The request path as an audit detail value (ids and slashes only; anything else dropped)."""
    return re.sub(r"[^A-Za-z0-9_./-]", "", request.url.path)[:120]


class _LoginNeeded(Exception):
    pass


def create_console(state: HubState) -> FastAPI:
    """The console application; `hub.app` mounts it at /console."""
    from . import pages

    app = FastAPI(title="motcua console", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    console = Console(state)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(_LoginNeeded)
    async def login_needed(request: Request, _: _LoginNeeded) -> Response:
        target = request.url.path + (("?" + request.url.query) if request.url.query else "")
        expired = "&expired=1" if request.cookies.get(sessions.COOKIE) else ""  # had a session: tell them why
        return RedirectResponse(f"{PREFIX}/login?next={quote(target)}{expired}", status_code=303)

    @app.exception_handler(HubError)
    async def hub_error(request: Request, exc: HubError) -> Response:
        return console.render(request, "error.html", status=exc.status, error=exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("console_error type=%s", type(exc).__name__)
        error = HubError("internal error; it was logged", "Lỗi nội bộ; đã ghi nhật ký", code="internal")
        return console.render(request, "error.html", status=500, error=error)

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> HTMLResponse:
        return _login_page(console, request)

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form(max_part_size=MAX_FORM)
        presented, expected = str(form.get("csrf", "")), request.cookies.get(PRE_LOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(presented, expected):
            raise Forbidden("stale login form (CSRF token); reload the page",
                            "Biểu mẫu đăng nhập đã cũ (mã CSRF); hãy tải lại trang", code="csrf")
        try:
            user = await run_in_threadpool(accounts.verify_login, state, str(form.get("username", ""))[:80],
                                           str(form.get("password", "")))
        except Unauthorized as exc:
            return _login_page(console, request, error=exc, status=401)
        token, session = await run_in_threadpool(sessions.start_session, state, user)
        console.audit(session, "console.login")
        target = str(form.get("next") or "")
        response = RedirectResponse(target if target.startswith(PREFIX + "/") and "//" not in target else PREFIX + "/",
                                    status_code=303)
        response.set_cookie(sessions.COOKIE, token, httponly=True, samesite="strict", path=PREFIX,
                            secure=request.url.scheme == "https")
        response.delete_cookie(PRE_LOGIN_COOKIE, path=PREFIX)
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        session, _ = await console.action(request, "viewer")
        await run_in_threadpool(sessions.end_session, state, request.cookies.get(sessions.COOKIE))
        console.audit(session, "console.logout")
        response = console.back("/login", Translator(console.lang(request)).logged_out)
        response.delete_cookie(sessions.COOKIE, path=PREFIX)
        return response

    pages.register(app, console)
    return app


def _login_page(console: Console, request: Request, error: HubError | None = None, status: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = console.render(request, "login.html", status=status, login_csrf=token, error=error,
                              next=request.query_params.get("next", ""), expired=bool(request.query_params.get("expired")))
    response.set_cookie(PRE_LOGIN_COOKIE, token, httponly=True, samesite="strict", path=PREFIX, max_age=3600,
                        secure=request.url.scheme == "https")
    return response

"""The desk web UI (FastAPI + Jinja2, server-rendered, no build step): the app, its guard, and `Desk`,
what every route module shares (open the agent as the logged-in officer, render, redirect).

Routes live by concern in routes_auth (login/logout), routes_intake (the intake form),
routes_card (the chip ID card from the flatbed and the hot folder),
routes_dossiers (dashboard, dossier, slip, status and messages), routes_daily (search, due lists,
hand-back at the counter)
and routes_courier (results to deliver). Every page needs a login (agent.desk.accounts); a
courier account reaches only its own delivery pages. POST forms carry a per-process CSRF
token and the Host header must be one of the desk's names, so a web page elsewhere cannot
drive the desk (DNS rebinding). Each request opens its own AgentContext (SQLite connections
are per thread) and audits what it does under the officer's account.
"""
from __future__ import annotations

import contextlib
import logging
import re
import secrets
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from agent.context import AgentContext
from agent.desk.accounts import User, session_user
from agent.errors import MotcuaError
from agent.ops.audit import acting_as
from agent.outbox.ids import VIETNAM
from agent.web.i18n import Translator
from agent.web.routes_auth import SESSION_COOKIE
from sync_protocol.timestamps import parse_utc

log = logging.getLogger("motcua.agent.web")
HERE = Path(__file__).parent
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
MAX_UPLOAD = 200 * 1024 * 1024
#: pages a courier account may open (its own delivery tasks); everything else needs the "desk" permission
_COURIER_PATHS = re.compile(r"^/(courier|logout|courier/(?!handover(/|$))[^/]+(/deliver|/failed)?)$")
_PUBLIC = re.compile(r"^/(login|static/.*)$")


def _local_time(value: str | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    if not value:
        return ""
    moment = parse_utc(value)
    return moment.astimezone(VIETNAM).strftime(fmt)


class Desk:
    """What the route modules share: the agent home, templates, CSRF token and helpers."""

    def __init__(self, home: Path, secure_cookies: bool):
        self.home = home
        self.secure_cookies = secure_cookies
        self.csrf = secrets.token_urlsafe(24)
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
        self.env.filters["local"] = _local_time
        self.env.filters["vntime"] = lambda moment: moment.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")

    @contextlib.contextmanager
    def agent(self, request: Request | None = None) -> Iterator[AgentContext]:
        """The agent, with audit entries under the request's officer (if any)."""
        user = getattr(request.state, "user", None) if request is not None else None
        ctx = AgentContext.open(self.home)
        try:
            with acting_as(user.username) if user else contextlib.nullcontext():
                yield ctx
        finally:
            ctx.close()

    @staticmethod
    def lang(request: Request) -> str:
        return request.query_params.get("lang") or request.cookies.get("lang") or "vi"

    def t(self, request: Request) -> Translator:
        return Translator(self.lang(request))

    def render(self, request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        t = self.t(request)
        html = self.env.get_template(name).render(t=t, csrf=self.csrf, path=request.url.path,
                                                  flash=request.query_params.get("msg"),
                                                  user=getattr(request.state, "user", None), **values)
        response = HTMLResponse(html, status_code=status)
        if "lang" in request.query_params:
            response.set_cookie("lang", t.lang, samesite="strict", max_age=365 * 86400)
        return response

    @staticmethod
    def back(url: str, msg: str = "") -> RedirectResponse:
        return RedirectResponse(url + (("&" if "?" in url else "?") + "msg=" + quote(msg) if msg else ""),
                                status_code=303)

    @staticmethod
    def user(request: Request) -> User:
        return request.state.user


def create_app(home: Path | str, allowed_hosts: set[str] | None = None, secure_cookies: bool = False) -> FastAPI:
    from agent.desk.workflows import subscribe
    from agent.web import routes_auth, routes_card, routes_courier, routes_daily, routes_dossiers, routes_intake

    subscribe()
    desk = Desk(Path(home), secure_cookies)
    app = FastAPI(title="motcua desk", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    hosts = LOCAL_HOSTS | (allowed_hosts or set())

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if host not in hosts:
            return Response("Host not allowed", status_code=421)
        path = request.url.path
        request.state.user = None
        if not _PUBLIC.match(path):
            def lookup() -> User | None:  # a durable SQLite write (last seen): off the event loop
                with desk.agent() as ctx:
                    return session_user(ctx, request.cookies.get(SESSION_COOKIE))

            user = await run_in_threadpool(lookup)
            if user is None:
                if request.method == "GET":
                    return RedirectResponse("/login?next=" + quote(str(request.url.path)), status_code=303)
                return desk.render(request, "login.html", status=401, next="/",
                                   error=desk.t(request).pick("Phiên đăng nhập đã hết; đăng nhập lại.",
                                                              "Your session ended; log in again."))
            allowed = user.may("desk") or (user.may("courier") and (_COURIER_PATHS.match(path) or path == "/"))
            if not allowed:
                request.state.user = user
                return desk.render(request, "error.html", status=403, error=None, forbidden=True)
            request.state.user = user
        if request.method == "POST":
            form = await request.form(max_part_size=MAX_UPLOAD)
            if not secrets.compare_digest(str(form.get("csrf", "")), desk.csrf):
                return Response("Phiên làm việc đã hết hạn, tải lại trang. / Stale form, reload the page.", status_code=403)
            request.state.form = form
        return await call_next(request)

    @app.exception_handler(MotcuaError)
    async def motcua_error(request: Request, exc: MotcuaError) -> HTMLResponse:
        return desk.render(request, "error.html", status=400, error=exc)

    for module in (routes_auth, routes_intake, routes_card, routes_dossiers, routes_daily, routes_courier):
        module.register(app, desk)
    return app


def serve(home: Path | str, host: str = "127.0.0.1", port: int = 8480, cert: Any = None) -> None:
    """Run the UI until interrupted (`motcua ui`): plain HTTP on loopback only, else TLS with `cert`
    (agent.web.tls.DeskCertificate; refused without one)."""
    import uvicorn

    from agent.errors import InputError
    from agent.web.tls import is_loopback

    if is_loopback(host):
        uvicorn.run(create_app(home), host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
        return
    if cert is None:
        raise InputError(f"Không phục vụ HTTP thường trên {host}: ngoài máy này chỉ dùng HTTPS.",
                         f"Refusing plain HTTP on {host}: beyond loopback the desk UI is HTTPS only.")
    uvicorn.run(create_app(home, set(cert.names), secure_cookies=True), host=host, port=port, log_level="warning",
                timeout_graceful_shutdown=5,
                ssl_certfile=str(cert.cert_path), ssl_keyfile=str(cert.key_path))

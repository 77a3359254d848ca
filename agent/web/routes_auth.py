"""Login and logout pages of the desk UI (accounts and sessions: agent.desk.accounts)."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from agent.desk.accounts import LoginFailed, authenticate, end_session, is_trusted_browser, start_session, trust_browser

SESSION_COOKIE = "motcua_session"
BROWSER_COOKIE = "motcua_desk_browser"


def _safe_next(value: str | None) -> str:
    """Only a path on this desk (never `//elsewhere` or a full URL) after login."""
    value = value or "/"
    return value if value.startswith("/") and not value.startswith(("//", "/\\")) else "/"


def register(app: FastAPI, desk: "Desk") -> None:  # noqa: F821
    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> HTMLResponse:
        with desk.agent() as ctx:
            from agent.desk.accounts import list_users

            no_accounts = not list_users(ctx)
        return desk.render(request, "login.html", next=_safe_next(request.query_params.get("next")),
                           no_accounts=no_accounts)

    @app.post("/login")
    def login(request: Request) -> Response:
        form = request.state.form
        target = _safe_next(str(form.get("next") or "/"))
        with desk.agent() as ctx:
            trusted = is_trusted_browser(ctx, request.cookies.get(BROWSER_COOKIE))
            try:
                user = authenticate(ctx, str(form.get("username", "")), str(form.get("secret", "")),
                                    trusted_browser=trusted)
            except LoginFailed as exc:
                t = desk.t(request)
                return desk.render(request, "login.html", status=401, next=target, username=form.get("username", ""),
                                   error=t.pick(exc.message_vi, exc.message_en))
            token = start_session(ctx, user)
            browser = trust_browser(ctx) if user.secret_kind == "password" and not trusted else None
        if user.role == "courier" and target == "/":
            target = "/courier"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=desk.secure_cookies)
        if browser:
            response.set_cookie(BROWSER_COOKIE, browser, httponly=True, samesite="strict", secure=desk.secure_cookies,
                                max_age=365 * 86400)
        return response

    @app.post("/logout")
    def logout(request: Request) -> Response:
        with desk.agent(request) as ctx:
            end_session(ctx, request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

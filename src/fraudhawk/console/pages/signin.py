"""Signing in with an access key (when the server has keys) and signing out."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.guard import cookie_header
from fraudhawk.console.session import Session, Sessions
from fraudhawk.console.web import console_of, read_form, redirect, render


def _next(target: str) -> str:
    """Only a path on this site: `//host` or `https://...` would send the user elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


async def signin_page(request: Request) -> Response:
    if not console_of(request).settings.access_keys:
        return redirect("/")
    return render(request, "signin.html", title="Sign in", next=_next(request.query_params.get("next", "/")), form=None)


async def signin(request: Request) -> Response:
    keys = console_of(request).settings.access_keys
    if not keys:
        return redirect("/")
    form, _ = await read_form(request)
    key_id = form.required("access_key_id", "Access key ID")
    secret = form.required("secret_access_key", "Secret access key")
    target = _next(form.get("next", "/"))
    if form.ok:
        known = keys.get(key_id)
        # compared in constant time whether or not the key id exists
        if not hmac.compare_digest((known or "\0" * 40).encode(), secret.encode()) or known is None:
            form.problem = "That access key ID and secret access key do not match a key of this server."
    if not form.ok:
        form.values.pop("secret_access_key", None)
        return render(request, "signin.html", status_code=400, title="Sign in", next=target, form=form)
    response = redirect(target)
    sessions: Sessions = request.app.state.sessions
    response.headers.append("set-cookie", cookie_header(sessions, Session.new(key_id), request.url.scheme == "https"))
    return response


async def signout(request: Request) -> Response:
    response = redirect("/signin" if console_of(request).settings.access_keys else "/", done="Signed out.")
    sessions: Sessions = request.app.state.sessions
    response.headers.append("set-cookie", cookie_header(sessions, Session.new(), request.url.scheme == "https"))
    return response


routes: list[BaseRoute] = [
    Route("/signin", signin_page, methods=["GET"]),
    Route("/signin", signin, methods=["POST"]),
    Route("/signout", signout, methods=["POST"]),
]

"""The page behind a digest's unsubscribe link, RFC 8058 one-click unsubscribing included.

Moved here from notify/web.py (a wsgiref server of its own) with the same contract: GET
only asks, because mail scanners and link previews fetch every URL in a message; POST
unsubscribes, which is also what mail providers send for `List-Unsubscribe-Post:
List-Unsubscribe=One-Click`. It needs no login and no CSRF token: the signed token in the
link is the authority. No request line is logged (uvicorn's access log is off), so no
token reaches the log.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from storywatch.notify.tokens import BadToken, read_token, redeem, signing_secret, subscription_of
from storywatch.web.context import context, render

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)


@router.api_route("/unsubscribe", methods=["GET", "POST"])
def unsubscribe(request: Request, token: str = "") -> Response:
    web = context(request)
    with web.storage.session() as session:
        try:
            wanted = read_token(signing_secret(session), token)
            subscription_of(session, wanted)  # an earlier subscription's link: refused
        except BadToken as exc:
            return render(request, "unsubscribe.html", status_code=400, title="Invalid link",
                          problem=str(exc), wanted=None, token=token, done=None)
        if request.method == "GET":
            return render(request, "unsubscribe.html", title="Unsubscribe?", problem=None,
                          wanted=wanted, token=token, done=None)
        removed = redeem(session, wanted)
    log.info("unsubscribed %s from %s via the web (%s)", wanted.email, wanted.topic,
             "removed" if removed else "already gone")
    return render(request, "unsubscribe.html", title="Unsubscribed", problem=None,
                  wanted=wanted, token=token, done=True)

"""The end customer's side: the link pages, the only routes without authentication (HTML).

Opening a connection's link URL stands for the customer finishing Codat's flow: the connection
becomes Linked, from PendingAuth or again from Deauthorized or Unlinked. With one-time links on
its OTP must be valid: a reused or expired link shows a page saying so and changes nothing.
A HEAD, or a link-preview prefetch (a chat app unfurling the URL, a browser prerendering it),
never links and never uses the OTP up: otherwise pasting a link into Slack would spend it.
The company link (``redirect``) lists the company's connections with their own links.
"""

from __future__ import annotations

import html

from werkzeug.wrappers import Request, Response

from codat_nb.sandbox.links import (
    EXPIRED,
    INVALID,
    USED,
    OneTimeLinks,
    company_path,
    connection_path,
)
from codat_nb.sandbox.rules import CompanyNotFound, ConnectionNotFound
from codat_nb.sandbox.store import Store

#: Headers browsers send with a prefetch or prerender, and what they say.
_PREFETCH_HEADERS = {
    "Sec-Purpose": "prefetch",
    "Purpose": "prefetch",
    "X-Purpose": "preview",
    "X-Moz": "prefetch",
}
#: User agents of link unfurlers (chat apps, social networks, mail scanners).
_PREVIEW_AGENTS = (
    "slackbot", "slack-imgproxy", "facebookexternalhit", "facebot", "twitterbot", "linkedinbot",
    "whatsapp", "telegrambot", "discordbot", "skypeuripreview", "microsoftpreview", "teams",
    "googlebot", "bingbot", "applebot", "embedly", "iframely", "redditbot", "mattermost",
)  # fmt: skip
_REFUSED = {
    INVALID: (403, "Link not valid", "This link is not valid. Ask for a new one."),
    USED: (410, "Link already used", "This link has already been used. Ask for a new one."),
    EXPIRED: (
        410,
        "Link expired",
        "This link has expired: links last one day. Ask for a new one.",
    ),
}


def is_preview(request: Request) -> bool:
    """A request that only looks at the page: HEAD, a prefetch, or a link unfurler."""
    if request.method == "HEAD":
        return True
    for name, purpose in _PREFETCH_HEADERS.items():
        if purpose in request.headers.get(name, "").lower():
            return True
    agent = request.headers.get("User-Agent", "").lower()
    return any(bot in agent for bot in _PREVIEW_AGENTS)


class LinkPages:
    """Renders the two link pages over the store and the one-time links."""

    def __init__(self, store: Store, links: OneTimeLinks):
        self.store, self.links = store, links

    def link_page(self, request: Request, company_id: str, connection_id: str) -> Response:
        """A connection's link URL: the customer finishing Codat's flow."""
        company_id, connection_id = company_id.lower(), connection_id.lower()
        try:
            row = self.store.get_connection_wire(company_id, connection_id)
            platform = html.escape(row["platformName"])
            if is_preview(request):
                return _page(200, f"Connect {platform}", "Open this link in a browser to connect.")
            path = connection_path(company_id, connection_id)
            verdict = self.links.redeem(path, request.args.get("otp"))
            if verdict in _REFUSED:
                return _page(*_REFUSED[verdict])
            row = self.store.link(company_id, connection_id)
        except (CompanyNotFound, ConnectionNotFound) as exc:
            return _page(404, "Link not found", html.escape(str(exc)))
        return _page(
            200,
            "Connection linked",
            f"Your {platform} connection is now <strong>{row['status']}</strong>. "
            "You can close this window.",
        )

    def company_link_page(self, request: Request, company_id: str) -> Response:
        """A company's ``redirect``: its connections, each with its own link."""
        company_id = company_id.lower()
        try:
            company = self.store.get_company_wire(company_id)
        except CompanyNotFound as exc:
            return _page(404, "Link not found", html.escape(str(exc)))
        title = f"Connect {html.escape(company['name'])}"
        if is_preview(request):
            return _page(200, title, "Open this link in a browser to connect.")
        verdict = self.links.redeem(company_path(company_id), request.args.get("link.otp"))
        if verdict in _REFUSED:
            return _page(*_REFUSED[verdict])
        items = "".join(
            f'<li><a href="{html.escape(c["linkUrl"])}">'
            f"{html.escape(c['platformName'])}</a> ({c['status']})</li>"
            for c in company["dataConnections"]
        )
        return _page(200, title, f"<ul>{items}</ul>" if items else "No connections yet.")


def _page(status: int, title: str, text: str) -> Response:
    """A small HTML page; ``title`` and ``text`` are already escaped."""
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{text}</p><p>Codat sandbox</p></body></html>"
    )
    return Response(page.encode(), status, content_type="text/html; charset=utf-8")

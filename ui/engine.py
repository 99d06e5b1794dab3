"""The app's one job manager, and who this browser is.

A visitor is a random secret kept in a cookie (`dreamlab_visitor`, a year), read with `st.context.cookies` on
every connection: a reload, another page, or closing and reopening the tab in the same browser finds the same
visitor, and so their runs. The app may be shown inside an iframe on another site (Hugging Face Spaces shows it on
huggingface.co), where a browser sends only a cookie marked SameSite=None; Secure, and one that blocks
third-party cookies only a Partitioned one (CHIPS: kept apart for each site that embeds the app, so a visitor
there is a different visitor from the same browser opening the app directly). Where the page is not a secure
context (plain http to a host other than localhost) Secure cannot be set: the cookie is SameSite=Strict there.

A cookie and not a capability link because a link is shared — a shared link must open a run read-only — while a
cookie stays in its browser. Runs record a digest of the secret, never the secret, so nothing shown on a page
grants control.
"""

from __future__ import annotations

import re
import secrets
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from engine.runtime.access import VISITOR_COOKIE, Visitor, client_address, is_admin_token, visitor_from_token
from engine.runtime.jobs import JobManager
from engine.runtime.store import Store

COOKIE_SECONDS = 365 * 24 * 3600


@st.cache_resource
def job_manager() -> JobManager:
    # held once per server process; workers outlive a restart and are re-attached through the store
    return JobManager()


def store() -> Store:
    return job_manager().store


def visitor() -> Visitor:
    """Who this browser is. In the local profile every visitor is the operator (full control); in the hosted
    profile only of their own runs, unless `?admin=<DREAMLAB_ADMIN_TOKEN>` was given once this session."""
    if "visitor_token" not in st.session_state:
        cookie = st.context.cookies.get(VISITOR_COOKIE, "")
        cookie = cookie if isinstance(cookie, str) else ""  # AppTest has no browser, and so no cookies
        st.session_state.visitor_token = cookie if re.fullmatch(r"[0-9a-f]{32}", cookie) else secrets.token_hex(16)
        st.session_state.cookie_known = cookie == st.session_state.visitor_token
    settings = job_manager().settings
    if "admin" in st.query_params:
        st.session_state.admin = is_admin_token(st.query_params["admin"], settings.admin_token)
        del st.query_params["admin"]  # a token never stays in a link that could be shared
        if not st.session_state.admin:
            st.warning("That admin token is not valid.")
    admin = not settings.hosted or st.session_state.get("admin", False)
    peer, forwarded = st.context.ip_address, st.context.headers.get("X-Forwarded-For") or ""
    peer = peer if isinstance(peer, str) else None  # AppTest has no browser: no address, no headers
    forwarded = forwarded if isinstance(forwarded, str) else ""
    client = client_address(peer, forwarded, settings.trusted_proxies)
    return Visitor(visitor_from_token(st.session_state.visitor_token), admin=admin, client=client)


def remember_visitor() -> None:
    """Keep this visitor in the browser: the cookie is set once, on the first run of a session that lacked it."""
    if not st.session_state.get("cookie_known", True):
        st.session_state.cookie_known = True
        st.html(
            f"<script>document.cookie = '{VISITOR_COOKIE}={st.session_state.visitor_token}; max-age={COOKIE_SECONDS}; "
            "path=/; ' + (window.isSecureContext ? 'samesite=none; secure; partitioned' : 'samesite=strict');"
            "</script>",
            unsafe_allow_javascript=True,
        )


@contextmanager
def errors_shown() -> Iterator[None]:
    """An error in a page or a live figure: the admin (everyone, in the local profile) sees its traceback; a visitor
    of the hosted profile one line, and the server's log keeps the traceback."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 whatever broke, the rest of the app stays usable
        if visitor().admin:
            st.exception(error)
        else:
            traceback.print_exc()
            st.error(f"This part of the page failed ({type(error).__name__}); the server's log has the details.")

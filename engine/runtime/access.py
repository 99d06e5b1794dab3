"""Who is asking: every control call names a visitor, and the engine checks it (not only the page's buttons).

In the local profile the app's visitor and the CLI act as the operator: full control of every run. In the
hosted profile a visitor controls only the runs they own; the admin (who gave DREAMLAB_ADMIN_TOKEN) controls all.

A visitor is a cookie, and a fresh cookie is a fresh visitor: so the hosted limits also count by `client`, the
address the request came from — the server's peer, or, when that peer is a trusted proxy (DREAMLAB_TRUSTED_PROXIES:
by default any peer on a private network or this machine, as a Space's proxy or a local reverse proxy is), the
address that proxy says it forwarded for.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

from engine.params import ConfigError
from engine.runtime.store import Run


class NotAllowed(ConfigError):
    """A control call on a run the caller does not own. The message says so, for a human."""


class Busy(ConfigError):
    """A submission the demo cannot take now (a visitor's quota, a full queue, a memory budget)."""


@dataclass(frozen=True)
class Visitor:
    id: str  # recorded as the owner of the runs they start
    admin: bool = False
    client: str = ""  # the address they come from ("" unknown: the CLI, a test)

    def may_control(self, run: Run) -> bool:
        return self.admin or (bool(self.id) and run.owner == self.id)

    def check(self, run: Run, action: str) -> None:
        if not self.may_control(run):
            raise NotAllowed(f"run #{run.id} belongs to another visitor: you can watch it, not {action} it")


VISITOR_COOKIE = "dreamlab_visitor"  # the browser cookie that holds a visitor's secret token (set by ui.engine)
OPERATOR = Visitor("cli", admin=True)  # the command line, and tests: the person who runs the machine


def visitor_from_token(token: str) -> str:
    """The owner id stored for a browser's secret token: a digest, so ids shown or leaked never grant control."""
    return hashlib.sha256(f"dreamlab-visitor:{token}".encode()).hexdigest()[:16]


def is_admin_token(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


LOCALHOST = "127.0.0.1"  # Streamlit gives no address (None) for a connection from this machine


PRIVATE = "private"  # in DREAMLAB_TRUSTED_PROXIES: every peer on a private network, or this machine


def trusted(address: str, proxies: tuple[str, ...]) -> bool:
    if address in proxies:
        return True
    try:
        return PRIVATE in proxies and ipaddress.ip_address(address).is_private
    except ValueError:
        return False


def client_address(peer: str | None, forwarded_for: str, trusted_proxies: tuple[str, ...]) -> str:
    """Who a request comes from: its peer's address, unless that peer is a trusted proxy — then the nearest address
    in X-Forwarded-For that is not a proxy named in `trusted_proxies` (each proxy appends the address it heard from;
    the entries before it could be anyone's words)."""
    address = peer or LOCALHOST
    if not trusted(address, trusted_proxies):
        return address
    for hop in reversed([hop.strip() for hop in forwarded_for.split(",") if hop.strip()]):
        if hop not in trusted_proxies:
            return hop
    return address

"""Who is asking: every control call names a visitor, and the engine checks it (not only the page's buttons).

In the local profile the app's visitor and the CLI act as the operator: full control of every run. In the
hosted profile a visitor controls only the runs they own; the admin (who gave DREAMLAB_ADMIN_TOKEN) controls all.
"""

from __future__ import annotations

import hashlib
import hmac
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

"""What the console routes share: the Service API's state (database, plugins, cipher), the session
signer, the password hasher and the failed sign-in throttle.

It is made on first use from the Service API's state, so the server application needs no more than
the ``/console/api`` mount.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from ...runtime import AppManager
from ...store import Database
from ...tenancy import PasswordHasher, SessionSigner
from ..service.state import ServiceState, service_state
from .throttle import LoginThrottle

__all__ = ["ConsoleState", "console_state"]


@dataclass
class ConsoleState:
    """The console's shared objects, made once per server application."""

    service: ServiceState
    signer: SessionSigner
    hasher: PasswordHasher
    throttle: LoginThrottle

    @classmethod
    def of(cls, service: ServiceState) -> ConsoleState:
        """Sessions signed with a key derived from the server secret that also encrypts the secrets."""
        return cls(
            service=service,
            signer=SessionSigner(service.cipher.server_secret()),
            hasher=PasswordHasher(),
            throttle=LoginThrottle(service.db),
        )

    @property
    def db(self) -> Database:
        return self.service.db

    def apps(self, tenant_id: str) -> AppManager:
        """The apps of workspace ``tenant_id``, checked against the installed node types."""
        return AppManager(self.db, self.service.cipher, tenant_id, factory=self.service.factory)

    def forget_app(self, app_id: str) -> None:
        """Make the Service API drop what it cached of an app (keys, compiled versions) after a change."""
        self.service.forget_app(app_id)


def console_state(request: Request) -> ConsoleState:
    """The console state of the request's application, made on the first console request."""
    found = getattr(request.app.state, "console", None)
    if isinstance(found, ConsoleState):
        return found
    state = ConsoleState.of(service_state(request))
    request.app.state.console = state
    return state

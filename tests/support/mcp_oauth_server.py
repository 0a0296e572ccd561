"""A real MCP server that requires OAuth (the MCP authorization spec), for the tests of MCP client tools
(WS-MCP-CLIENT): built with the MCP SDK's ``MCPServer``, its authorization server an in-memory
:class:`OAuthAuthorizationServerProvider` served by the SDK's own routes on the same origin (protected
resource metadata, authorization server metadata, dynamic registration, ``/authorize``, ``/token``).

Its ``/authorize`` asks no one: it redirects straight back to the client's redirect URI with a code,
so a test follows the authorization URL with an HTTP client as a browser would. The provider keeps
what it issued, so a test can expire the access tokens (the next call is a 401), refuse refreshes,
and see which bearer token each MCP request carried.
"""

from __future__ import annotations

import secrets
import time
from types import TracebackType
from typing import Self

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions
from mcp.server.mcpserver import MCPServer
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from starlette.types import ASGIApp, Receive, Scope, Send

from .local_server import LocalServer

__all__ = ["MemoryAuthorizationServer", "OAuthMcpServer"]


class MemoryAuthorizationServer:
    """An OAuth authorization server in memory: clients it registered, codes, access and refresh tokens.

    ``access_ttl`` is the ``expires_in`` of the access tokens it issues; ``refuse_refresh`` makes the
    token endpoint refuse every refresh token (``invalid_grant``), as a server does once the user
    revoked the grant.
    """

    def __init__(self, access_ttl: int = 3600) -> None:
        self.access_ttl = access_ttl
        self.refuse_refresh = False
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        #: How many refresh grants it answered with new tokens.
        self.refreshed = 0

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        assert client_info.client_id is not None
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        code = AuthorizationCode(
            code=secrets.token_urlsafe(24),
            scopes=params.scopes or [],
            expires_at=time.time() + 300,
            client_id=client.client_id or "",
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
        )
        self.codes[code.code] = code
        return construct_redirect_uri(str(params.redirect_uri), code=code.code, state=params.state)

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        return self.codes.get(authorization_code)

    def _issue(self, client_id: str, scopes: list[str], resource: str | None) -> OAuthToken:
        access = AccessToken(token=f"at-{secrets.token_urlsafe(16)}", client_id=client_id, scopes=scopes,
                             expires_at=int(time.time()) + self.access_ttl, resource=resource)
        refresh = RefreshToken(token=f"rt-{secrets.token_urlsafe(16)}", client_id=client_id, scopes=scopes,
                               resource=resource)
        self.access[access.token] = access
        self.refresh[refresh.token] = refresh
        return OAuthToken(access_token=access.token, expires_in=self.access_ttl, scope=" ".join(scopes) or None,
                          refresh_token=refresh.token)

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        self.codes.pop(authorization_code.code, None)
        return self._issue(authorization_code.client_id, authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        return self.refresh.get(refresh_token)

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        if self.refuse_refresh:
            raise TokenError("invalid_grant", "the grant was revoked")
        self.refresh.pop(refresh_token.token, None)
        self.refreshed += 1
        return self._issue(refresh_token.client_id, scopes or refresh_token.scopes, refresh_token.resource)

    async def load_access_token(self, token: str) -> AccessToken | None:
        found = self.access.get(token)
        if found is None or (found.expires_at is not None and found.expires_at < time.time()):
            return None
        return found

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self.access.pop(token.token, None)
        self.refresh.pop(token.token, None)

    def expire_access_tokens(self) -> None:
        """Forget every access token issued: the next MCP request carrying one is answered 401."""
        self.access.clear()


class _Recorder:
    """ASGI middleware keeping the method and ``Authorization`` header of each request to the MCP
    endpoint; the app it wraps is set once the port (part of the server's URLs) is known."""

    def __init__(self, seen: list[str]) -> None:
        self.app: ASGIApp | None = None
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/mcp":
            headers = dict(scope["headers"])
            self.seen.append(f'{scope["method"]} {headers.get(b"authorization", b"").decode("latin-1")}'.strip())
        assert self.app is not None
        await self.app(scope, receive, send)


class OAuthMcpServer:
    """The "Notes" MCP server at ``/mcp`` (streamable HTTP), its tool ``whoami`` answering with the
    client id of the token it was called with. ``requests`` lists every MCP request as its method and
    ``Authorization`` header (``"POST Bearer at-..."``, ``"POST"`` without one); ``provider`` is its
    authorization server."""

    def __init__(self, access_ttl: int = 3600) -> None:
        self.provider = MemoryAuthorizationServer(access_ttl)
        self.requests: list[str] = []
        recorder = _Recorder(self.requests)
        self._server = LocalServer(recorder, lifespan=True)
        base = self._server.url_for("")
        server = MCPServer(
            "Notes",
            auth_server_provider=self.provider,
            auth=AuthSettings(
                issuer_url=base,  # type: ignore[arg-type]
                resource_server_url=f"{base}/mcp",  # type: ignore[arg-type]
                validate_token_resource=False,
                client_registration_options=ClientRegistrationOptions(enabled=True),
            ),
        )

        @server.tool(description="Who the server sees calling.")
        def whoami() -> str:
            token = get_access_token()
            return f"client {token.client_id if token is not None else '(none)'}"

        recorder.app = server.streamable_http_app()

    @property
    def url(self) -> str:
        """The MCP endpoint (streamable HTTP)."""
        return self._server.url_for("/mcp")

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._server.stop()

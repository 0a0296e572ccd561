"""OAuth for MCP servers (the MCP authorization spec, 2025-06-18 and later): the HTTP side of signing a
workspace in to an MCP server, every request through the SSRF guard.

The kernel keeps the state of a server's authorization (its registered client, the pending PKCE
verifier, the tokens, all sealed) and drives the flow; this module makes its requests:

* :func:`begin_authorization` asks the server for its challenge (``WWW-Authenticate: Bearer
  resource_metadata=...``), discovers its protected resource metadata (RFC 9728) and its
  authorization server's metadata (RFC 8414, with the OpenID Connect fallback), registers a client
  (RFC 7591) unless the kernel has one for that server and redirect URI, and builds the authorization
  URL with PKCE (S256) and the kernel's ``state``;
* :func:`request_tokens` exchanges an authorization code, or a refresh token, at the token endpoint.

The metadata, client and token shapes are the MCP SDK's pydantic models (``mcp.shared.auth``), and
its discovery helpers (``mcp.client.auth.utils``) choose the URLs tried and read the answers. The SDK's
own ``OAuthClientProvider`` is not used: it holds the flow open inside one HTTP request until the
browser comes back, where here a console request starts it and a later callback ends it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlparse

import httpx2
from mcp.client.auth import OAuthFlowError
from mcp.client.auth.oauth2 import PKCEParameters, check_registration_usable
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
    create_client_registration_request,
    create_oauth_metadata_request,
    credentials_match_issuer,
    extract_resource_metadata_from_www_auth,
    extract_scope_from_www_auth,
    get_client_metadata_scopes,
    handle_auth_metadata_response,
    handle_protected_resource_response,
    handle_registration_response,
    handle_token_response_scopes,
    issuers_match,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthMetadata, OAuthToken
from mcp.shared.auth_utils import check_resource_allowed, resource_url_from_server_url
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types import LATEST_PROTOCOL_VERSION
from pydantic import AnyUrl, ValidationError
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.ssrf import SSRFGuard, SSRFRefused
from treadle_sdk.ssrf_httpx2 import guarded_client

from .connection import ServerTarget
from .errors import McpAuthorizationRequired, McpToolError, McpToolRefused

__all__ = ["GRANT_TYPES", "begin_authorization", "parse_client", "parse_metadata", "request_tokens"]

#: The grants the token endpoint is asked for.
GRANT_TYPES = ("authorization_code", "refresh_token")

#: What the probe sends: an ``initialize`` request, as a streamable HTTP client's first message.
_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": LATEST_PROTOCOL_VERSION, "capabilities": {},
               "clientInfo": {"name": "treadle", "version": "0"}},
}


def _origin(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.netloc}"


def _shown(url: str) -> str:
    """A URL as errors show it: without its query."""
    return url.partition("?")[0][:200]


def parse_metadata(data: Any) -> OAuthMetadata:
    """The authorization server metadata the kernel kept from :func:`begin_authorization`."""
    try:
        return OAuthMetadata.model_validate(data)
    except ValidationError as exc:
        raise PluginInvalidArgument(f"metadata is not authorization server metadata (RFC 8414): {exc}",
                                    details={"parameter": "metadata"}) from None


def parse_client(data: Any) -> OAuthClientInformationFull | None:
    """The registered client the kernel kept (``credentials.client``), or None when it has none."""
    if not data:
        return None
    try:
        return OAuthClientInformationFull.model_validate(data)
    except ValidationError as exc:
        raise PluginInvalidArgument(f"credentials.client is not a registered OAuth client (RFC 7591): {exc}",
                                    details={"field": "client"}) from None


async def _challenge(http: httpx2.AsyncClient, target: ServerTarget) -> httpx2.Response | None:
    """The server's 401 answer to a request without a token (its ``WWW-Authenticate`` names the
    resource metadata and maybe a scope), or None when it answered otherwise: a POST of
    ``initialize`` as streamable HTTP opens, then (``auto`` or ``sse``) a GET as SSE opens."""
    headers = {k: v for k, v in target.headers.items() if k.lower() != "authorization"}
    headers[MCP_PROTOCOL_VERSION_HEADER] = LATEST_PROTOCOL_VERSION
    methods = {"streamable_http": ["POST"], "sse": ["GET"]}.get(target.transport, ["POST", "GET"])
    for method in methods:
        accept = "application/json, text/event-stream" if method == "POST" else "text/event-stream"
        body = _INITIALIZE if method == "POST" else None
        # Streamed and closed unread: an SSE endpoint that lets the request in never ends its body.
        async with http.stream(method, target.url, json=body, headers={**headers, "Accept": accept}) as response:
            if response.status_code == 401:
                await response.aread()
                return response
    return None


async def _discover(
    http: httpx2.AsyncClient, target: ServerTarget, challenge: httpx2.Response | None
) -> tuple[OAuthMetadata, str, str | None]:
    """The authorization server's metadata, the resource to ask tokens for (RFC 8707) and the scope
    to ask for, from the server's challenge and its metadata documents."""
    where = _shown(target.url)
    resource_metadata_url = extract_resource_metadata_from_www_auth(challenge) if challenge is not None else None
    prm = None
    for url in build_protected_resource_metadata_discovery_urls(resource_metadata_url, target.url):
        prm = await handle_protected_resource_response(await http.send(create_oauth_metadata_request(url)))
        if prm is not None:
            break
    resource = resource_url_from_server_url(target.url)
    if prm is not None:
        if not check_resource_allowed(requested_resource=resource, configured_resource=str(prm.resource)):
            raise McpToolError(
                f"the protected resource metadata of the MCP server at {where} is for {prm.resource}, not for it",
                details={"server_url": where},
            )
        resource = str(prm.resource)
    if prm is None and challenge is None:
        raise McpToolError(
            f"the MCP server at {where} did not ask for authorization and publishes no protected resource "
            "metadata: it does not use OAuth (an API key header may be what it needs)",
            details={"server_url": where},
        )
    issuer_url = str(prm.authorization_servers[0]) if prm is not None else None
    expected = issuer_url or _origin(target.url)
    tried: list[str] = []
    metadata = None
    for url in build_oauth_authorization_server_metadata_discovery_urls(issuer_url, target.url):
        tried.append(url)
        ok, found = await handle_auth_metadata_response(await http.send(create_oauth_metadata_request(url)))
        if not ok:
            break
        if found is not None:
            if not issuers_match(str(found.issuer), expected):
                raise McpToolError(
                    f"the authorization server metadata at {url} names the issuer {found.issuer}, not {expected}",
                    details={"server_url": where, "metadata_url": url},
                )
            metadata = found
            break
    if metadata is None and prm is None:
        # The 2025-03-26 spec: a server without metadata serves the default endpoints at its origin.
        origin = _origin(target.url)
        metadata = OAuthMetadata.model_validate({
            "issuer": origin, "authorization_endpoint": f"{origin}/authorize", "token_endpoint": f"{origin}/token",
            "registration_endpoint": f"{origin}/register",
        })
    if metadata is None:
        raise McpToolError(
            f"the authorization server {expected} of the MCP server at {where} publishes no metadata "
            f"(tried {', '.join(tried)})",
            details={"server_url": where, "tried": tried},
        )
    scope = get_client_metadata_scopes(
        extract_scope_from_www_auth(challenge) if challenge is not None else None, prm, metadata, list(GRANT_TYPES)
    )
    return metadata, resource, scope


async def _registered(
    http: httpx2.AsyncClient, metadata: OAuthMetadata, client_name: str, redirect_uri: str, scope: str | None
) -> OAuthClientInformationFull:
    """A client registered with the authorization server (RFC 7591) for ``redirect_uri``."""
    if metadata.registration_endpoint is None:
        raise McpToolError(
            f"the authorization server {metadata.issuer} does not offer dynamic client registration (RFC 7591), "
            "and Treadle has no client registered with it",
            details={"issuer": str(metadata.issuer)},
        )
    asked = OAuthClientMetadata(
        client_name=client_name,
        redirect_uris=[AnyUrl(redirect_uri)],
        grant_types=list(GRANT_TYPES),
        response_types=["code"],
        scope=scope,
        application_type="web",
    )
    request = create_client_registration_request(metadata, asked, str(metadata.issuer))
    try:
        client = await handle_registration_response(await http.send(request))
        check_registration_usable(client)
    except OAuthFlowError as exc:
        raise McpToolError(
            f"the authorization server {metadata.issuer} refused to register Treadle as a client: {exc}",
            details={"issuer": str(metadata.issuer)},
        ) from None
    client.issuer = str(metadata.issuer)
    return client


async def begin_authorization(
    target: ServerTarget,
    guard: SSRFGuard,
    *,
    redirect_uri: str,
    state: str,
    client: OAuthClientInformationFull | None,
    client_name: str = "Treadle",
) -> dict[str, Any]:
    """Discover how ``target`` is authorized, register a client if ``client`` is None (or was
    registered with another issuer or redirect URI), and build the authorization URL.

    Returns ``authorization_url`` (to open in a browser), ``code_verifier`` (PKCE, to keep secret
    until the code is exchanged), ``client`` (the registered client, with its secret if it has one),
    ``metadata`` (the authorization server's), ``resource`` and ``scope``.
    """
    timeout = httpx2.Timeout(target.timeout)
    try:
        guard.check_url(target.url)
        async with guarded_client(guard, timeout=timeout) as http:
            challenge = await _challenge(http, target)
            metadata, resource, scope = await _discover(http, target, challenge)
            usable = (
                client is not None
                and credentials_match_issuer(client, str(metadata.issuer), None)
                and redirect_uri in [str(uri) for uri in client.redirect_uris or ()]
            )
            if client is None or not usable:
                client = await _registered(http, metadata, client_name, redirect_uri, scope)
    except SSRFRefused as exc:
        raise McpToolRefused(str(exc), details={"host": exc.host, "reason": exc.reason}) from None
    except httpx2.HTTPError as exc:
        raise McpToolError(
            f"cannot authorize the MCP server at {_shown(target.url)}: {exc or type(exc).__name__}",
            details={"server_url": _shown(target.url)},
        ) from None
    pkce = PKCEParameters.generate()
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": pkce.code_challenge,
        "code_challenge_method": "S256",
        "resource": resource,
    }
    if scope:
        query["scope"] = scope
        if "offline_access" in scope.split():
            # OpenID Connect grants offline access only with explicit consent.
            query["prompt"] = "consent"
    endpoint = str(metadata.authorization_endpoint)
    return {
        "authorization_url": f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}",
        "code_verifier": pkce.code_verifier,
        "client": client.model_dump(mode="json", exclude_none=True),
        "metadata": metadata.model_dump(mode="json", exclude_none=True),
        "resource": resource,
        "scope": scope or "",
    }


def _client_authentication(
    client: OAuthClientInformationFull, form: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The token request's form and headers with the client authenticated as it was registered
    (RFC 6749 section 2.3.1): a Basic header, the secret in the form, or only its id (``none``)."""
    method = client.token_endpoint_auth_method
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    form = {**form, "client_id": client.client_id}
    if method == "client_secret_basic" and client.client_secret:
        pair = f"{quote(client.client_id, safe='')}:{quote(client.client_secret, safe='')}"
        headers["Authorization"] = f"Basic {base64.b64encode(pair.encode()).decode()}"
    elif method in (None, "client_secret_post") and client.client_secret:
        form["client_secret"] = client.client_secret
    elif method not in (None, "none", "client_secret_post", "client_secret_basic"):
        raise McpToolError(f"the OAuth client {client.client_id!r} authenticates with {method!r}, which Treadle "
                           "does not support; authorize the server again to register a new client")
    return form, headers


def _refusal(response: httpx2.Response) -> str:
    """Why the token endpoint refused: its ``error`` and ``error_description`` (RFC 6749 section 5.2)."""
    try:
        body = json.loads(response.text)
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if isinstance(body, Mapping) and body.get("error"):
        described = f" ({str(body['error_description'])[:300]})" if body.get("error_description") else ""
        return f"HTTP {response.status_code} {str(body['error'])[:100]}{described}"
    return f"HTTP {response.status_code}"


async def request_tokens(
    guard: SSRFGuard,
    metadata: OAuthMetadata,
    client: OAuthClientInformationFull,
    grant: Mapping[str, str],
    *,
    resource: str,
    timeout: float,
) -> OAuthToken:
    """Ask the token endpoint for tokens with ``grant`` (``grant_type`` ``authorization_code`` with
    ``code``, ``redirect_uri`` and ``code_verifier``, or ``refresh_token`` with ``refresh_token``).

    A refresh the server refuses (4xx) raises :class:`McpAuthorizationRequired`: the grant is gone
    and only a new authorization helps. Other failures raise :class:`McpToolError`.
    """
    endpoint = str(metadata.token_endpoint)
    refreshing = grant.get("grant_type") == "refresh_token"
    form = {**grant, "resource": resource} if resource else dict(grant)
    form, headers = _client_authentication(client, form)
    try:
        async with guarded_client(guard, timeout=httpx2.Timeout(timeout)) as http:
            response = await http.post(endpoint, data=form, headers=headers)
            if response.status_code in (200, 201):
                return await handle_token_response_scopes(response)
    except SSRFRefused as exc:
        raise McpToolRefused(str(exc), details={"host": exc.host, "reason": exc.reason}) from None
    except httpx2.HTTPError as exc:
        raise McpToolError(f"cannot reach the token endpoint {_shown(endpoint)}: {exc or type(exc).__name__}",
                           details={"token_endpoint": _shown(endpoint)}) from None
    except OAuthFlowError as exc:
        raise McpToolError(f"the token endpoint {_shown(endpoint)} answered no usable tokens: {exc}",
                           details={"token_endpoint": _shown(endpoint)}) from None
    why = _refusal(response)
    details = {"token_endpoint": _shown(endpoint), "status": response.status_code}
    if refreshing and 400 <= response.status_code < 500:
        raise McpAuthorizationRequired(
            f"the authorization server {metadata.issuer} refused to refresh the access token: {why}", details=details
        )
    what = "refresh the access token" if refreshing else "exchange the authorization code"
    raise McpToolError(f"the authorization server {metadata.issuer} did not {what}: {why}", details=details)

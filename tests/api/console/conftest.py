"""The console API in process for tests: the whole application (plugins inline, a migrated database
with its first workspace and owner) and an httpx client on ``/console/api``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from support.dsl import TERSE_CHAT
from support.service_api import ServiceApi, service_api
from treadle.runtime import DEFAULT_OWNER_EMAIL
from treadle.store import Account, Tenant, TenantMember

OWNER_PASSWORD = "Passw0rd-for-tests"

WORKFLOW = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: Shout}
workflow:
  environment_variables:
  - {id: 8f3c1a52-0b7e-4d3a-9a61-2f4e5d6c7b8a, name: token, value_type: secret, value: s3cret-value}
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: [{variable: text, label: Text, type: text-input, required: true}]}
    - id: upper
      data:
        type: template-transform
        title: Upper
        variables: [{variable: t, value_selector: [start, text]}]
        template: "{{ t | upper }}!"
    - id: end
      data: {type: end, title: End, outputs: [{variable: shout, value_selector: [upper, output]}]}
    edges:
    - {id: e1, source: start, target: upper}
    - {id: e2, source: upper, target: end}
"""

CHAT = TERSE_CHAT


@dataclass
class Console:
    """The running application, its Service API helpers, and a client on ``/console/api``."""

    api: ServiceApi
    client: httpx.AsyncClient

    async def login(self, email: str = DEFAULT_OWNER_EMAIL, password: str = OWNER_PASSWORD) -> dict[str, str]:
        """Sign in; the Authorization header of the session (the client's cookie jar is left empty,
        so each caller is told apart by its header)."""
        response = await self.client.post("/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        self.client.cookies.clear()
        return {"Authorization": f"Bearer {response.json()['data']['access_token']}"}

    async def member(self, owner: dict[str, str], role: str, email: str | None = None) -> dict[str, str]:
        """Invite a new account with ``role`` as the owner ``owner`` and sign it in."""
        address = email or f"{role}@example.com"
        response = await self.client.post(
            "/workspaces/current/members/invite-email", headers=owner, json={"emails": [address], "role": role}
        )
        assert response.status_code == 201, response.text
        result = response.json()["invitation_results"][0]
        return await self.login(address, result["password"])

    async def owner_id(self) -> str:
        async with self.api.db.session() as session:
            found = await session.scalar(select(Account.id).where(Account.email == DEFAULT_OWNER_EMAIL))
        assert found is not None
        return found

    async def other_workspace(self, *, role: str | None = None, name: str = "Other") -> str:
        """A second workspace; the owner of the first joins it with ``role`` when given."""
        tenant = Tenant(name=name)
        async with self.api.db.session() as session:
            session.add(tenant)
            await session.flush()
            if role is not None:
                session.add(TenantMember(tenant_id=tenant.id, account_id=await self.owner_id(), role=role))
        return tenant.id


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def console(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Console]:
    async with service_api(tmp_path, backend=request.param) as api:
        transport = httpx.ASGITransport(app=api.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://treadle.test/console/api") as client:
            yield Console(api, client)


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The error envelope of ``response``, checked to be one."""
    body: dict[str, Any] = response.json()
    assert set(body) >= {"code", "message", "status"} and body["status"] == response.status_code, body
    return body

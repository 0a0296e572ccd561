"""Small workspaces for the store tests: a tenant with an app (and whatever a test adds to it)."""

from __future__ import annotations

from treadle.store import App, Database, Tenant


async def workspace_with_app(db: Database, *, name: str = "Acme", mode: str = "advanced-chat") -> tuple[str, str]:
    """A new workspace with one app; returns (tenant id, app id)."""
    async with db.session() as s:
        tenant = Tenant(name=name)
        s.add(tenant)
        await s.flush()
        app = App(tenant_id=tenant.id, mode=mode, name=f"{name} helper")
        s.add(app)
        await s.flush()
        return tenant.id, app.id

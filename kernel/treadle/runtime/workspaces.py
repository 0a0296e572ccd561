"""Finding the workspace an operator command means."""

from __future__ import annotations

from sqlalchemy import or_, select

from ..store import Database, Tenant
from .errors import WorkspaceNotFound

__all__ = ["resolve_workspace"]


async def resolve_workspace(db: Database, ref: str | None = None) -> str:
    """The id of the workspace ``ref`` names (its id or its name), or of the oldest one when
    ``ref`` is None; :class:`WorkspaceNotFound` when there is no such workspace, or a name is shared."""
    async with db.session() as session:
        if ref is None:
            found = await session.scalar(select(Tenant.id).order_by(Tenant.created_at, Tenant.id).limit(1))
            if found is None:
                raise WorkspaceNotFound("the database has no workspace yet (run `treadle serve` once to create one)")
            return found
        matches = list(await session.scalars(select(Tenant.id).where(or_(Tenant.id == ref, Tenant.name == ref))))
    if ref in matches:
        return ref
    if not matches:
        raise WorkspaceNotFound(f"--workspace {ref!r}: no workspace has this id or name")
    if len(matches) > 1:
        raise WorkspaceNotFound(f"--workspace {ref!r}: {len(matches)} workspaces have this name; give the id")
    return matches[0]

"""Knowledge tags of a workspace and their bindings to datasets (API-TAG-*). A tag name is at most
50 characters and unique among the workspace's knowledge tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select

from ..store import Tag, TagBinding
from .errors import KnowledgeInputError, TagNotFound
from .lookup import check_text, dataset_of
from .ports import Caller
from .views import tag_view

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from .datasets import KnowledgeBases

__all__ = ["TAG_NAME_MAX", "KnowledgeTags"]

TAG_NAME_MAX = 50
_KIND = "knowledge"


class KnowledgeTags:
    """Tag operations of :class:`~treadle.knowledge.datasets.KnowledgeBases`."""

    def __init__(self, bases: KnowledgeBases) -> None:
        self.bases = bases

    async def _tag(self, session: AsyncSession, caller: Caller, tag_id: str) -> Tag:
        found = await session.scalar(
            select(Tag).where(Tag.id == tag_id, Tag.tenant_id == caller.tenant_id, Tag.type == _KIND)
        )
        if found is None:
            raise TagNotFound(tag_id)
        return found

    async def _check_name(self, session: AsyncSession, caller: Caller, name: str, *, keep: str | None = None) -> str:
        name = check_text(name, "name", max_length=TAG_NAME_MAX)
        taken = await session.scalar(
            select(Tag.id).where(Tag.tenant_id == caller.tenant_id, Tag.type == _KIND, Tag.name == name)
        )
        if taken is not None and taken != keep:
            raise KnowledgeInputError("Tag name already exists.", "name")
        return name

    async def _count(self, session: AsyncSession, tag_id: str) -> int:
        return int(await session.scalar(
            select(func.count()).select_from(TagBinding).where(TagBinding.tag_id == tag_id)
        ) or 0)

    async def create(self, caller: Caller, name: str) -> dict[str, Any]:
        """A new knowledge tag (API-TAG-CREATE)."""
        async with self.bases.db.session() as session:
            tag = Tag(tenant_id=caller.tenant_id, type=_KIND, name=await self._check_name(session, caller, name),
                      created_by=caller.account_id)
            session.add(tag)
            await session.flush()
            return tag_view(tag, 0)

    async def list_tags(self, caller: Caller) -> list[dict[str, Any]]:
        """The workspace's knowledge tags with how many datasets each is on (API-TAG-LIST)."""
        async with self.bases.db.session() as session:
            counts = dict(list(await session.execute(
                select(TagBinding.tag_id, func.count()).where(TagBinding.tenant_id == caller.tenant_id)
                .group_by(TagBinding.tag_id)
            )))  # fmt: skip
            tags = await session.scalars(
                select(Tag).where(Tag.tenant_id == caller.tenant_id, Tag.type == _KIND).order_by(Tag.created_at, Tag.id)
            )
            return [tag_view(tag, int(counts.get(tag.id, 0))) for tag in tags]

    async def rename(self, caller: Caller, tag_id: str, name: str) -> dict[str, Any]:
        """Rename a tag (API-TAG-UPDATE)."""
        async with self.bases.db.session() as session:
            tag = await self._tag(session, caller, tag_id)
            tag.name = await self._check_name(session, caller, name, keep=tag.id)
            return tag_view(tag, await self._count(session, tag.id))

    async def delete(self, caller: Caller, tag_id: str) -> None:
        """Delete a tag and its bindings (API-TAG-DELETE)."""
        async with self.bases.db.session() as session:
            tag = await self._tag(session, caller, tag_id)
            await session.delete(tag)

    async def bind(self, caller: Caller, tag_ids: Sequence[str], target_id: str) -> None:
        """Put tags on a dataset (API-TAG-BIND); one already there stays once."""
        async with self.bases.db.session() as session:
            await dataset_of(session, caller.tenant_id, target_id)
            for tag_id in dict.fromkeys(tag_ids):
                await self._tag(session, caller, tag_id)
            bound = set(await session.scalars(
                select(TagBinding.tag_id).where(TagBinding.target_id == target_id, TagBinding.tag_id.in_(tag_ids))
            ))
            for tag_id in dict.fromkeys(tag_ids):
                if tag_id not in bound:
                    session.add(TagBinding(tenant_id=caller.tenant_id, tag_id=tag_id, target_id=target_id,
                                           created_by=caller.account_id))

    async def unbind(self, caller: Caller, tag_id: str, target_id: str) -> None:
        """Take a tag off a dataset (API-TAG-UNBIND)."""
        async with self.bases.db.session() as session:
            await dataset_of(session, caller.tenant_id, target_id)
            await self._tag(session, caller, tag_id)
            await session.execute(delete(TagBinding).where(
                TagBinding.tag_id == tag_id, TagBinding.target_id == target_id
            ))

    async def of_dataset(self, caller: Caller, dataset_id: str) -> dict[str, Any]:
        """A dataset's tags (API-TAG-OF-KB): ``{data[{id, name}], total}``."""
        async with self.bases.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id)
            tags = list(await session.scalars(
                select(Tag).join(TagBinding, TagBinding.tag_id == Tag.id)
                .where(TagBinding.target_id == dataset.id, Tag.tenant_id == caller.tenant_id)
                .order_by(Tag.created_at, Tag.id)
            ))
        return {"data": [{"id": tag.id, "name": tag.name} for tag in tags], "total": len(tags)}

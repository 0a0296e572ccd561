"""Apps published as MCP servers (PUB-MCP-SERVER): one row per app that has ever been switched on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdMixin, TimestampMixin, in_values, json_column

__all__ = ["MCP_SERVER_STATUSES", "AppMcpServer"]

#: ``active``: the server URL answers; ``inactive``: switched off (the row keeps its settings).
MCP_SERVER_STATUSES = ("active", "inactive")


class AppMcpServer(IdMixin, TimestampMixin, Base):
    """An app's MCP server: the code in its URL (``/mcp/server/<server_code>/mcp``, the credential
    the URL embeds), the tool's description and its parameters' descriptions, and whether a client
    must also send one of the app's Service API keys as a Bearer token."""

    __tablename__ = "app_mcp_servers"
    __table_args__ = (CheckConstraint(in_values("status", MCP_SERVER_STATUSES), name="status"),)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), unique=True)
    #: The tool's description ("" uses the app's description).
    description: Mapped[str] = mapped_column(Text, default="")
    server_code: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    #: Descriptions of the tool's parameters by input variable name (the Start node's hint otherwise).
    parameters: Mapped[dict[str, Any]] = mapped_column(json_column(), default=dict)
    #: When set, a request needs ``Authorization: Bearer <one of the app's Service API keys>`` too.
    require_api_key: Mapped[bool] = mapped_column(default=False)

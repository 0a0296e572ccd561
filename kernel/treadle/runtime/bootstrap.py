"""First run: an empty database gets a workspace and its owner, so there is someone to sign in as."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from sqlalchemy import select

from ..config import Settings
from ..store import Account, Database, Tenant, TenantMember, upgrade_to_head
from ..tenancy import PasswordHasher, WeakPassword, check_password_rules

__all__ = ["DEFAULT_OWNER_EMAIL", "FirstRun", "ensure_first_workspace", "generate_password", "prepare_database"]

DEFAULT_OWNER_EMAIL = "admin@treadle.local"
_PASSWORD_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class FirstRun:
    """What the first run made; ``password`` is set only when it was generated (shown this once)."""

    workspace_id: str
    workspace_name: str
    account_id: str
    email: str
    password: str | None

    def __repr__(self) -> str:  # keeps a generated password out of logs and tracebacks
        return f"FirstRun(workspace_id={self.workspace_id!r}, email={self.email!r})"

    def sign_in_lines(self, api_url: str) -> list[str]:
        """What to tell the operator: the workspace, how to sign in, and where the Service API is."""
        lines = [f"Created workspace {self.workspace_name!r} ({self.workspace_id}) with owner {self.email}"]
        if self.password is not None:
            lines.append(f"Sign in as {self.email} with password {self.password} (shown once; change it after)")
        else:
            lines.append(f"Sign in as {self.email} with the password you chose")
        lines.append(f"Service API: {api_url} (make a key with `treadle app key APP_ID`)")
        base = api_url.removesuffix("/v1")
        lines.append(f"Console API: {base}/console/api (POST /login with that email and password; "
                     f"OpenAPI at {base}/console/api/openapi.json)")
        return lines


def generate_password() -> str:
    """A random 20-character password that meets the password rules (letters and digits)."""
    while True:
        password = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(20))
        try:
            check_password_rules(password)
        except WeakPassword:
            continue
        return password


async def ensure_first_workspace(
    db: Database,
    *,
    email: str | None = None,
    password: str | None = None,
    name: str = "Admin",
    workspace_name: str | None = None,
    hasher: PasswordHasher | None = None,
) -> FirstRun | None:
    """On a database with no workspace, create one and its owner; None when there is one already.

    The owner signs in with ``email`` (default :data:`DEFAULT_OWNER_EMAIL`) and ``password``, or a
    generated password returned in :attr:`FirstRun.password`. A password breaking the rules raises
    :class:`~treadle.tenancy.WeakPassword` before anything is written.
    """
    async with db.session() as session:
        if await session.scalar(select(Tenant.id).limit(1)) is not None:
            return None
    generated = password is None
    chosen = generate_password() if password is None else password
    password_hash = (hasher or PasswordHasher()).hash(chosen)
    address = (email or DEFAULT_OWNER_EMAIL).strip().lower()
    workspace = Tenant(name=workspace_name or f"{name}'s Workspace")
    account = Account(email=address, name=name, password_hash=password_hash, status="active")
    async with db.session() as session:
        # Checked again in the writing transaction: another process may have just made one.
        if await session.scalar(select(Tenant.id).limit(1)) is not None:
            return None
        session.add_all([workspace, account])
        await session.flush()
        session.add(TenantMember(tenant_id=workspace.id, account_id=account.id, role="owner", current=True))
    return FirstRun(workspace.id, workspace.name, account.id, address, chosen if generated else None)


async def prepare_database(settings: Settings, api_url: str) -> list[str]:
    """Migrate the data directory's database and run the first-run setup; the lines to print
    (none when the database already had a workspace)."""
    db = Database.from_settings(settings)
    try:
        await upgrade_to_head(db)
        first = await ensure_first_workspace(db)
    finally:
        await db.dispose()
    return [] if first is None else first.sign_in_lines(api_url)

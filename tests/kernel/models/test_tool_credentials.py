"""Tool provider credentials per workspace (WS-TOOLS): validated by the provider on save, encrypted,
one default per provider, handed to the tool on each call (or the one a node's ``credential_id``
names), and kept out of the errors of failed calls."""

from __future__ import annotations

from typing import Any

import pytest
from treadle.models import CredentialNotFound, CredentialsRefused, WorkspaceSettingsError
from treadle.plugins import PluginSupervisor
from treadle_sdk.errors import PluginError, PluginNotFound

from .conftest import Supervised


async def tool(sup: PluginSupervisor, name: str, *, tenant: str = "t1", **options: Any) -> str:
    with sup.kernel_client(tenant_id=tenant) as kernel:
        messages = await kernel.ainvoke_tool("keyed", name, {}, **options)
    return " ".join(str(m.get("text")) for m in messages)


@pytest.mark.parametrize("placement", ["inline", "process"])
async def test_calls_get_the_default_credentials_or_the_named_ones(supervised: Supervised, placement: str) -> None:
    async with supervised(placement) as sup:
        creds = sup.tool_credentials
        assert await tool(sup, "whoami") == "region=- good=False"  # none saved yet
        eu = await creds.save_credentials("t1", "keyed", {"api_key": "good-eu-key-1234"})
        us = await creds.save_credentials("t1", "langgenius/keyed/keyed", {"api_key": "good-us-key", "region": "us"})
        assert (eu.is_default, us.is_default, eu.values["region"]) == (True, False, "eu")
        assert eu.values["api_key"] == "goo******234"
        assert await tool(sup, "whoami") == "region=eu good=True"
        assert await tool(sup, "whoami", credential_id=us.id) == "region=us good=True"
        await creds.set_default_credentials("t1", us.id)
        assert await tool(sup, "whoami") == "region=us good=True"
        assert await tool(sup, "whoami", tenant="t2") == "region=- good=False"

        with pytest.raises(PluginNotFound, match="no credential 'nope' of tool provider 'keyed'"):
            await tool(sup, "whoami", credential_id="nope")
        await creds.delete_credentials("t1", us.id)
        assert [c.id for c in await creds.credentials("t1")] == [eu.id]


async def test_the_provider_validates_on_save_and_its_refusal_hides_the_key(supervised: Supervised) -> None:
    async with supervised() as sup:
        with pytest.raises(CredentialsRefused) as caught:
            await sup.tool_credentials.save_credentials("t1", "keyed", {"api_key": "bad-key-7788-9900"})
        assert caught.value.field == "api_key"
        assert caught.value.message == (
            "tool provider 'keyed' refused the credentials (field 'api_key'): "
            "the upstream API refused the key [redacted]"
        )
        assert await sup.tool_credentials.credentials("t1") == []


async def test_form_errors_name_the_field(supervised: Supervised) -> None:
    async with supervised() as sup:
        creds = sup.tool_credentials
        with pytest.raises(WorkspaceSettingsError, match="'api_key' of tool provider 'keyed' is required"):
            await creds.save_credentials("t1", "keyed", {"region": "eu"})
        with pytest.raises(WorkspaceSettingsError, match=r"'region' .* must be one of eu, us, not 'mars'") as caught:
            await creds.save_credentials("t1", "keyed", {"api_key": "good-1", "region": "mars"})
        assert caught.value.field == "region"
        with pytest.raises(CredentialNotFound, match="tool provider 'nope' is not installed"):
            await creds.save_credentials("t1", "nope", {})


@pytest.mark.parametrize("placement", ["inline", "process"])
async def test_a_failing_tool_does_not_echo_the_key(supervised: Supervised, placement: str) -> None:
    secret = "good-but-leaky-4242-4242"
    async with supervised(placement) as sup:
        await sup.tool_credentials.save_credentials("t1", "keyed", {"api_key": secret})
        with pytest.raises(PluginError) as caught:
            await tool(sup, "explode")
        assert caught.value.message == "upstream refused the key [redacted]"
        assert secret not in repr((str(caught.value), caught.value.details))

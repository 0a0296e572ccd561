"""Workspace model credentials (WS-MODEL-PROVIDERS, WS-MODEL-CREDENTIALS): checked against the
provider's form, validated by the provider on save, several per provider with one default, custom
model credentials, used by model calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from treadle.models import HIDDEN, CredentialNotFound, CredentialsRefused, WorkspaceSettingsError
from treadle.plugins import PluginSupervisor
from treadle_sdk.errors import PluginError
from treadle_sdk.model_runtime import PromptMessage, PromptMessageRole

from .conftest import Supervised
from .openai_server import KeyedOpenAIServer

HELLO = [PromptMessage(role=PromptMessageRole.USER, content="hello")]


async def ask(sup: PluginSupervisor, provider: str, model: str, *, tenant: str = "t1", **params: Any) -> str:
    """The text of one model call made the way nodes make them (through the kernel client)."""
    with sup.kernel_client(tenant_id=tenant) as kernel:
        chunks = [c async for c in kernel.ainvoke_llm(provider, model, HELLO, model_parameters=params)]
    return "".join(c.delta.message.content for c in chunks)


def openai_values(server: KeyedOpenAIServer, key: str, label: str) -> dict[str, str]:
    server.keys[key] = "ok"
    server.labels[key] = label
    return {"api_key": key, "endpoint_url": server.url}


async def test_saved_credentials_are_used_by_model_calls(supervised: Supervised, openai: KeyedOpenAIServer) -> None:
    """WS-MODEL-PROVIDERS: a call runs with the workspace's credentials, never the caller's."""
    async with supervised() as sup:
        await sup.model_settings.save_credentials("t1", "openai_compat", openai_values(openai, "sk-first-1", "one"))
        assert await ask(sup, "openai_compat", "chat") == "served by one"
        assert openai.served[-1] == "sk-first-1"
        # Another workspace has no credentials, so the provider does not know where to send the call.
        with pytest.raises(PluginError, match="credential 'endpoint_url' must be an http") as caught:
            await ask(sup, "openai_compat", "chat", tenant="t2")
        assert caught.value.details["error_type"] == "InvokeBadRequestError"


async def test_several_credentials_with_one_default(supervised: Supervised, openai: KeyedOpenAIServer) -> None:
    """WS-MODEL-CREDENTIALS: the first credential is the default; another can be made default; deleting
    the default leaves none until one is chosen."""
    settings_of = openai_values
    async with supervised() as sup:
        settings = sup.model_settings
        first = await settings.save_credentials("t1", "openai_compat", settings_of(openai, "sk-cred-aaa", "A"))
        second = await settings.save_credentials("t1", "openai_compat", settings_of(openai, "sk-cred-bbb", "B"))
        assert (first.name, first.is_default) == ("API KEY 1", True)
        assert (second.name, second.is_default) == ("API KEY 2", False)
        assert await ask(sup, "openai_compat", "chat") == "served by A"

        await settings.set_default_credentials("t1", second.id)
        assert await ask(sup, "openai_compat", "chat") == "served by B"
        listed = {c.id: c.is_default for c in await settings.credentials("t1")}
        assert listed == {first.id: False, second.id: True}

        await settings.delete_credentials("t1", second.id)
        with pytest.raises(PluginError, match="none is its default") as caught:
            await ask(sup, "openai_compat", "chat")
        assert caught.value.details["error_type"] == "InvokeAuthorizationError"
        await settings.set_default_credentials("t1", first.id)
        assert await ask(sup, "openai_compat", "chat") == "served by A"

        with pytest.raises(CredentialNotFound, match="no model credential 'nope'"):
            await settings.delete_credentials("t1", "nope")


async def test_saving_under_a_name_replaces_and_hidden_secrets_are_kept(
    supervised: Supervised, openai: KeyedOpenAIServer
) -> None:
    """Editing a credential: the masked or hidden secret sent back keeps the stored one (Dify's
    ``[__HIDDEN__]``); its id stays."""
    async with supervised() as sup:
        settings = sup.model_settings
        saved = await settings.save_credentials(
            "t1", "openai_compat", openai_values(openai, "sk-keep-this-one", "kept"), name="prod"
        )
        assert saved.values["api_key"] == "sk-******one"
        for sent in (HIDDEN, saved.values["api_key"]):
            edited = await settings.save_credentials(
                "t1", "openai_compat", {"api_key": sent, "endpoint_url": openai.url, "organization": "acme"},
                name="prod",
            )
            assert edited.id == saved.id
            assert edited.values["organization"] == "acme"
        assert len(await settings.credentials("t1")) == 1
        assert await ask(sup, "openai_compat", "chat") == "served by kept"
        assert openai.served[-1] == "sk-keep-this-one"


async def test_custom_model_credentials_come_before_the_providers(
    supervised: Supervised, openai: KeyedOpenAIServer
) -> None:
    """WS-MODEL-CREDENTIALS: a custom model of a customizable-model provider has its own credentials,
    used for that model only."""
    async with supervised() as sup:
        settings = sup.model_settings
        await settings.save_credentials("t1", "openai_compat", openai_values(openai, "sk-provider-1", "provider"))
        own = await settings.save_credentials(
            "t1", "openai_compat", {**openai_values(openai, "sk-model-1", "model"), "context_size": "8192"},
            model="special", model_type="llm",
        )
        assert (own.model, own.model_type, own.is_default) == ("special", "llm", True)
        assert own.values["max_tokens_to_sample"] == "4096"  # the form's default, filled in
        assert await ask(sup, "openai_compat", "special") == "served by model"
        assert await ask(sup, "openai_compat", "other") == "served by provider"

        with pytest.raises(WorkspaceSettingsError, match="has only predefined models") as caught:
            await settings.save_credentials("t1", "fake", {"api_key": "x"}, model="echo")
        assert caught.value.field == "model"


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"api_key": "k"}, "endpoint_url", "credential field 'endpoint_url' of model provider 'openai_compat' is "
                                            "required"),
        ({"endpoint_url": "http://x", "api_kee": "k"}, "api_kee", "has no credential field 'api_kee'"),
    ],
)
async def test_values_that_do_not_fit_the_form_are_refused_naming_the_field(
    supervised: Supervised, values: dict[str, str], field: str, message: str
) -> None:
    async with supervised() as sup:
        with pytest.raises(WorkspaceSettingsError, match=message) as caught:
            await sup.model_settings.save_credentials("t1", "openai_compat", values)
        assert (caught.value.field, caught.value.provider) == (field, "openai_compat")
        assert await sup.model_settings.credentials("t1") == []


async def test_select_options_are_checked(supervised: Supervised, openai: KeyedOpenAIServer) -> None:
    async with supervised() as sup:
        with pytest.raises(WorkspaceSettingsError, match="must be one of support, no_support, not 'maybe'") as caught:
            await sup.model_settings.save_credentials(
                "t1", "openai_compat", {**openai_values(openai, "sk-x-1234", "x"), "vision_support": "maybe"},
                model="m",
            )
        assert caught.value.field == "vision_support"


async def test_the_provider_validates_credentials_on_save(supervised: Supervised, openai: KeyedOpenAIServer) -> None:
    """WS-MODEL-PROVIDERS: credentials are validated on save; a refusal names the field and saves nothing."""
    openai.keys["sk-refused-9876543210"] = "refused"
    async with supervised() as sup:
        with pytest.raises(CredentialsRefused) as caught:
            await sup.model_settings.save_credentials(
                "t1", "openai_compat", {"api_key": "sk-refused-9876543210", "endpoint_url": openai.url}
            )
        assert caught.value.field == "api_key"
        assert "refused the credentials (field 'api_key')" in caught.value.message
        assert "401" in caught.value.message
        assert "sk-refused-9876543210" not in str(caught.value)

        with pytest.raises(CredentialsRefused) as fake_refusal:
            await sup.model_settings.save_credentials("t1", "fake", {"api_key": "invalid"})
        assert fake_refusal.value.field == "api_key"
        assert "refuses the key '[redacted]'" in fake_refusal.value.message
        assert await sup.model_settings.credentials("t1") == []


async def test_providers_without_a_check_accept_what_fits_the_form(supervised: Supervised) -> None:
    """A provider that implements no ``validate_credentials`` accepts any credentials that fit its form."""
    async with supervised() as sup:
        saved = await sup.model_settings.save_credentials("t1", "leaky", {"api_key": "whatever-1234"})
        assert saved.is_default


async def test_unknown_providers_are_named(supervised: Supervised) -> None:
    async with supervised() as sup:
        with pytest.raises(CredentialNotFound, match=r"model provider 'nope' is not installed .*fake"):
            await sup.model_settings.save_credentials("t1", "nope", {})
        # Providers may be named as DSL files name them.
        saved = await sup.model_settings.save_credentials("t1", "langgenius/fake/fake", {"api_key": "abcd"})
        assert saved.provider == "fake"


async def test_credentials_are_kept_per_workspace(supervised: Supervised) -> None:
    async with supervised() as sup:
        await sup.model_settings.save_credentials("t1", "fake", {"api_key": "one-1234"})
        assert await sup.model_settings.credentials("t2") == []
        with pytest.raises(CredentialNotFound):
            await sup.model_settings.set_default_credentials("t2", (await sup.model_settings.credentials("t1"))[0].id)


async def test_credentials_survive_a_restart(supervised: Supervised, openai: KeyedOpenAIServer) -> None:
    """Stored in $TREADLE_HOME/models.db, encrypted under $TREADLE_HOME/secret_key."""
    async with supervised() as sup:
        await sup.model_settings.save_credentials("t1", "openai_compat", openai_values(openai, "sk-durable-1", "d"))
    async with supervised() as sup:
        assert await ask(sup, "openai_compat", "chat") == "served by d"


async def test_nothing_is_written_before_a_credential_is_saved(supervised: Supervised, home: Path) -> None:
    async with supervised() as sup:
        assert await ask(sup, "fake", "echo") == "hello"
        assert await sup.model_settings.credentials("t1") == []
    assert not (home / "models.db").exists()
    assert not (home / "secret_key").exists()

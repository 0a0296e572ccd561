"""The workspace's default models (WS-DEFAULT-MODELS): one per type, checked against the installed
providers, read by nodes and plugins through the kernel."""

from __future__ import annotations

import pytest
from treadle.models import DEFAULT_MODEL_TYPES, CredentialNotFound, WorkspaceSettingsError

from .conftest import Supervised


async def test_defaults_are_set_read_and_cleared(supervised: Supervised) -> None:
    async with supervised() as sup:
        settings = sup.model_settings
        await settings.set_default_model("t1", "llm", "fake", "echo")
        await settings.set_default_model("t1", "text-embedding", "langgenius/fake/fake", "fake-embedding")
        # A customizable-model provider takes any model name of a type it supports.
        await settings.set_default_model("t1", "rerank", "openai_compat", "bge-reranker")
        assert await settings.default_models("t1") == {
            "llm": ("fake", "echo"),
            "text-embedding": ("fake", "fake-embedding"),
            "rerank": ("openai_compat", "bge-reranker"),
        }
        with sup.kernel_client(tenant_id="t1") as kernel:
            assert await kernel.adefault_model("llm") == ("fake", "echo")
            assert await kernel.adefault_model("tts") is None
        with sup.kernel_client(tenant_id="t2") as kernel:
            assert await kernel.adefault_model("llm") is None

        await settings.clear_default_model("t1", "rerank")
        assert "rerank" not in await settings.default_models("t1")


def test_the_five_types_of_default() -> None:
    """The system reasoning model (llm), embedding, rerank, speech-to-text and text-to-speech."""
    assert set(DEFAULT_MODEL_TYPES) == {"llm", "text-embedding", "rerank", "speech2text", "tts"}


@pytest.mark.parametrize(
    ("model_type", "provider", "model", "error", "message"),
    [
        ("moderation", "fake", "echo", WorkspaceSettingsError, "no default 'moderation' model"),
        ("llm", "fake", "gpt-9", CredentialNotFound, "provider 'fake' has no llm model 'gpt-9' .*echo"),
        ("llm", "fake", "fake-embedding", CredentialNotFound, "has no llm model 'fake-embedding'"),
        ("tts", "leaky", "ok", CredentialNotFound, "has no tts model 'ok' .tts models: none"),
        ("llm", "nope", "m", CredentialNotFound, "model provider 'nope' is not installed"),
    ],
)
async def test_defaults_must_name_an_installed_model_of_the_type(
    supervised: Supervised, model_type: str, provider: str, model: str, error: type[Exception], message: str
) -> None:
    async with supervised() as sup:
        with pytest.raises(error, match=message):
            await sup.model_settings.set_default_model("t1", model_type, provider, model)
        assert await sup.model_settings.default_models("t1") == {}

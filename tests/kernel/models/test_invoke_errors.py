"""What a failed model call leaves the kernel with: one of Dify's invoke error types in
``details["error_type"]`` (InvokeRateLimitError, InvokeServerUnavailableError,
InvokeAuthorizationError, InvokeConnectionError, QuotaExceededError, InvokeBadRequestError), and
no credentials in its message or details, from providers inline and in a host process."""

from __future__ import annotations

import pytest
from treadle.models import INVOKE_ERROR_TYPES
from treadle.models.errors import invoke_error, scrub
from treadle_sdk.errors import (
    PluginCancelled,
    PluginError,
    PluginFailed,
    PluginInvalidArgument,
    PluginNotFound,
    PluginTimeout,
    PluginUnavailable,
)
from treadle_sdk.model_errors import (
    CredentialsValidateFailedError,
    InvokeError,
    InvokeQuotaExceededError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

from .conftest import Supervised
from .test_credentials import ask

SECRET = "sk-leaky-6f1d2c3b4a5e"


@pytest.mark.parametrize(
    ("error", "error_type"),
    [
        (PluginTimeout("deadline"), "InvokeConnectionError"),
        (PluginCancelled("stopped"), "InvokeConnectionError"),
        (PluginUnavailable("host down"), "InvokeServerUnavailableError"),
        (PluginFailed("it crashed"), "InvokeServerUnavailableError"),
        (PluginInvalidArgument("bad"), "InvokeBadRequestError"),
        (PluginNotFound("no such model"), "InvokeBadRequestError"),
        (InvokeRateLimitError("429", retry_after=3), "InvokeRateLimitError"),
        (InvokeServerUnavailableError("503"), "InvokeServerUnavailableError"),
        (InvokeQuotaExceededError("no money"), "QuotaExceededError"),
        (CredentialsValidateFailedError("refused"), "InvokeAuthorizationError"),
        (InvokeError("something"), "InvokeServerUnavailableError"),
        (PluginFailed("typed elsewhere", details={"error_type": "SomethingElse"}), "InvokeServerUnavailableError"),
    ],
)
def test_every_error_gets_an_invoke_error_type(error: PluginError, error_type: str) -> None:
    mapped = invoke_error(error)
    assert mapped.details["error_type"] == error_type
    assert error_type in INVOKE_ERROR_TYPES
    # The class (so its code and builtin base) and message are kept.
    assert type(mapped) is type(error)
    assert mapped.code == error.code
    assert mapped.message == error.message
    if isinstance(error, InvokeError):
        assert isinstance(mapped, InvokeError)
        assert mapped.retry_after == error.retry_after


def test_secrets_are_blanked_out_everywhere() -> None:
    error = PluginFailed(
        f"refused {SECRET}!", plugin="p", call="c", details={"sent": [f"Bearer {SECRET}"], "n": 3, "key": SECRET}
    )
    mapped = invoke_error(error, [SECRET, "ab"])
    assert mapped.message == "refused [redacted]!"
    assert mapped.details == {
        "sent": ["Bearer [redacted]"], "n": 3, "key": "[redacted]", "error_type": "InvokeServerUnavailableError"
    }
    assert SECRET not in str(mapped)
    assert (mapped.plugin, mapped.call) == ("p", "c")
    # Values too short to search for are left alone rather than garbling every message.
    assert scrub("about", ["ab"]) == "about"


@pytest.mark.parametrize("placement", ["inline", "process"])
async def test_provider_errors_leave_typed_and_without_the_key(supervised: Supervised, placement: str) -> None:
    async with supervised(placement) as sup:
        await sup.model_settings.save_credentials("t1", "leaky", {"api_key": SECRET, "org": "acme"})
        assert await ask(sup, "leaky", "ok") == "fine"
        for model, error_type in (
            ("auth-error", "InvokeAuthorizationError"),
            ("untyped-error", "InvokeBadRequestError"),
        ):
            with pytest.raises(PluginError) as caught:
                await ask(sup, "leaky", model)
            assert caught.value.details["error_type"] == error_type
            assert "[redacted]" in caught.value.message
            assert SECRET not in repr((str(caught.value), caught.value.details))


async def test_a_call_past_its_deadline_is_a_connection_error(supervised: Supervised) -> None:
    async with supervised(call_timeout=0.2) as sup:
        with pytest.raises(PluginError) as caught:
            await ask(sup, "leaky", "slow", seconds=5)
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.details["error_type"] == "InvokeConnectionError"


async def test_unknown_providers_and_models_are_bad_requests(supervised: Supervised) -> None:
    async with supervised() as sup:
        for provider, model in (("nope", "m"), ("fake", "gpt-9")):
            with pytest.raises(PluginNotFound) as caught:
                await ask(sup, provider, model)
            assert caught.value.details["error_type"] == "InvokeBadRequestError"

"""Load balancing (WS-LOAD-BALANCING): round-robin over a model's pool of credentials, an entry listed
twice has twice the share, a credential that hit a rate limit is out of rotation for a minute (a
refused key or a failed connection for ten seconds), and the call moves on to the next credential.

Calls go to the openai_compat provider against a local server whose answer depends on the key; the
clock of the cooldowns is a test clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from treadle.models import INHERIT, CredentialNotFound, WorkspaceModelSettings, WorkspaceSettingsError
from treadle.plugins import PluginSupervisor
from treadle_sdk.errors import PluginError

from .conftest import Supervised
from .openai_server import KeyedOpenAIServer
from .test_credentials import ask, openai_values


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture
async def sup(supervised: Supervised) -> AsyncIterator[PluginSupervisor]:
    async with supervised() as supervisor:
        yield supervisor


@pytest.fixture
def clock(sup: PluginSupervisor) -> Clock:
    """Puts settings with a test clock on the supervisor's model call path."""
    clock = Clock()
    sup.model_settings = WorkspaceModelSettings(sup.model_settings.vault, sup, clock=clock)
    sup.models.credentials = sup.model_settings
    return clock


async def pool(sup: PluginSupervisor, server: KeyedOpenAIServer, *labels: str) -> dict[str, str]:
    """Credentials labelled A, B ... for openai_compat: ids by label."""
    ids = {}
    for label in labels:
        saved = await sup.model_settings.save_credentials(
            "t1", "openai_compat", openai_values(server, f"sk-{label}-{id(server)}", label), name=label
        )
        ids[label] = saved.id
    return ids


async def answers(sup: PluginSupervisor, count: int) -> list[str]:
    return [(await ask(sup, "openai_compat", "chat")).removeprefix("served by ") for _ in range(count)]


def key(server: KeyedOpenAIServer, label: str) -> str:
    return f"sk-{label}-{id(server)}"


async def test_round_robin_with_weights(sup: PluginSupervisor, clock: Clock, openai: KeyedOpenAIServer) -> None:
    ids = await pool(sup, openai, "A", "B")
    await sup.model_settings.set_load_balancing("t1", "openai_compat", "chat", pool=[ids["A"], ids["A"], ids["B"]])
    assert await answers(sup, 6) == ["A", "A", "B", "A", "A", "B"]
    # Another model of the provider is not balanced: it gets the default credential.
    assert await ask(sup, "openai_compat", "other") == "served by A"


async def test_a_rate_limited_credential_sits_out_a_minute(
    sup: PluginSupervisor, clock: Clock, openai: KeyedOpenAIServer
) -> None:
    ids = await pool(sup, openai, "A", "B")
    await sup.model_settings.set_load_balancing("t1", "openai_compat", "chat", pool=[ids["A"], ids["B"]])
    openai.keys[key(openai, "B")] = "rate-limited"
    openai.served.clear()
    # B answers 429 on the second call, which moves on to A; B is then skipped.
    assert await answers(sup, 3) == ["A", "A", "A"]
    assert openai.served == [key(openai, "A"), key(openai, "B"), key(openai, "A"), key(openai, "A")]
    openai.keys[key(openai, "B")] = "ok"
    clock.now += 59
    assert await answers(sup, 2) == ["A", "A"]
    clock.now += 2
    assert await answers(sup, 2) == ["B", "A"]


async def test_when_every_credential_cools_down_the_call_is_rate_limited(
    sup: PluginSupervisor, clock: Clock, openai: KeyedOpenAIServer
) -> None:
    ids = await pool(sup, openai, "A", "B")
    await sup.model_settings.set_load_balancing("t1", "openai_compat", "chat", pool=[ids["A"], ids["B"]])
    openai.keys[key(openai, "A")] = openai.keys[key(openai, "B")] = "rate-limited"
    with pytest.raises(PluginError, match="answered 429") as provider_said:
        await ask(sup, "openai_compat", "chat")
    assert provider_said.value.details["error_type"] == "InvokeRateLimitError"

    openai.served.clear()
    clock.now += 20
    with pytest.raises(PluginError, match=r"every credential in the load-balancing pool .* back in 40 s") as cooling:
        await ask(sup, "openai_compat", "chat")
    assert cooling.value.details["error_type"] == "InvokeRateLimitError"
    assert cooling.value.details["retry_after"] == pytest.approx(40)
    assert openai.served == []  # nothing was sent

    openai.keys[key(openai, "A")] = "ok"
    clock.now += 41
    assert await answers(sup, 1) == ["A"]


async def test_refused_keys_sit_out_ten_seconds(sup: PluginSupervisor, clock: Clock, openai: KeyedOpenAIServer) -> None:
    ids = await pool(sup, openai, "A", "B")
    await sup.model_settings.set_load_balancing("t1", "openai_compat", "chat", pool=[ids["A"], ids["B"]])
    openai.keys[key(openai, "A")] = "refused"
    assert await answers(sup, 3) == ["B", "B", "B"]
    openai.keys[key(openai, "A")] = "ok"
    clock.now += 11
    assert await answers(sup, 2) == ["A", "B"]


async def test_failed_connections_sit_out_ten_seconds(
    sup: PluginSupervisor, clock: Clock, openai: KeyedOpenAIServer
) -> None:
    """A credential whose endpoint is down is skipped; the call goes to the next one."""
    ids = await pool(sup, openai, "A")
    with KeyedOpenAIServer() as gone:
        ids.update(await pool(sup, gone, "G"))
    await sup.model_settings.set_load_balancing("t1", "openai_compat", "chat", pool=[ids["G"], ids["A"]])
    assert await answers(sup, 3) == ["A", "A", "A"]


async def test_quota_errors_are_not_retried(sup: PluginSupervisor, clock: Clock, openai: KeyedOpenAIServer) -> None:
    """Only rate limits, refused keys and failed connections move a call to the next credential."""
    ids = await pool(sup, openai, "A", "B")
    await sup.model_settings.set_load_balancing("t1", "openai_compat", "chat", pool=[ids["A"], ids["B"]])
    openai.keys[key(openai, "A")] = "quota"
    with pytest.raises(PluginError, match="exceeded your current quota") as caught:
        await ask(sup, "openai_compat", "chat")
    assert caught.value.details["error_type"] == "QuotaExceededError"
    assert caught.value.details["original_error_type"] == "InvokeQuotaExceededError"
    # Rotation goes on (to B), and A was not set aside: it gets its turn again.
    assert await answers(sup, 1) == ["B"]
    with pytest.raises(PluginError, match="exceeded your current quota"):
        await ask(sup, "openai_compat", "chat")


async def test_the_default_credential_can_join_the_pool(
    sup: PluginSupervisor, clock: Clock, openai: KeyedOpenAIServer
) -> None:
    """Dify's "Default Config" entry: the model's default credential, whichever it is."""
    ids = await pool(sup, openai, "A", "B")
    await sup.model_settings.set_load_balancing("t1", "openai_compat", "chat", pool=[INHERIT, ids["B"]])
    assert await answers(sup, 2) == ["A", "B"]
    await sup.model_settings.set_default_credentials("t1", ids["B"])
    assert await answers(sup, 2) == ["B", "B"]


async def test_switching_balancing_off_keeps_the_pool(
    sup: PluginSupervisor, clock: Clock, openai: KeyedOpenAIServer
) -> None:
    ids = await pool(sup, openai, "A", "B")
    settings = sup.model_settings
    await settings.set_load_balancing("t1", "openai_compat", "chat", pool=[ids["B"], ids["A"]])
    off = await settings.set_load_balancing("t1", "openai_compat", "chat", enabled=False)
    assert (off.enabled, off.pool) == (False, (ids["B"], ids["A"]))
    assert await answers(sup, 2) == ["A", "A"]
    await settings.set_load_balancing("t1", "openai_compat", "chat", enabled=True)
    assert await answers(sup, 2) == ["B", "A"]
    [listed] = await settings.load_balancing("t1")
    assert listed.as_dict() == {"provider": "openai_compat", "model": "chat", "model_type": "llm", "enabled": True,
                                "pool": [ids["B"], ids["A"]]}


async def test_pools_are_checked(sup: PluginSupervisor, openai: KeyedOpenAIServer) -> None:
    ids = await pool(sup, openai, "A")
    fake = await sup.model_settings.save_credentials("t1", "fake", {"api_key": "fake-key-1"})
    settings = sup.model_settings
    with pytest.raises(WorkspaceSettingsError, match="needs at least two credentials in its pool; it has 1"):
        await settings.set_load_balancing("t1", "openai_compat", "chat", pool=[ids["A"]])
    with pytest.raises(CredentialNotFound, match=f"{fake.id!r} is not a credential of that provider"):
        await settings.set_load_balancing("t1", "openai_compat", "chat", pool=[ids["A"], fake.id])
    with pytest.raises(CredentialNotFound, match="has no llm model 'nope'"):
        await settings.set_load_balancing("t1", "fake", "nope", pool=[fake.id, fake.id])
    assert await settings.load_balancing("t1") == []

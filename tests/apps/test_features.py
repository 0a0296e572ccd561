"""App features as services (FEAT-MODERATION / EXT-MODERATION, FEAT-FOLLOWUP, FEAT-CONV-NAME,
FEAT-FILE-UPLOAD, FEAT-OPENER), with the real supervisor and the fake provider where a model is used."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from treadle.apps.features import (
    AppFeatures,
    ConversationNamer,
    FileUploadError,
    FileUploadLimits,
    ModeratedChunk,
    Moderation,
    ModerationConfig,
    ModerationError,
    SuggestedQuestions,
    parse_questions,
)
from treadle.config import Settings
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor

TENANT = "t-features"


@pytest.fixture
async def supervisor(tmp_path: Path) -> AsyncIterator[PluginSupervisor]:
    async with PluginSupervisor(
        Settings.load(home=tmp_path), groups=[GroupPlan("inline", True, (PluginSpec("fake"),))]
    ) as running:
        yield running


async def scripted_default_model(supervisor: PluginSupervisor, *replies: Any) -> None:
    await supervisor.model_settings.save_credentials(TENANT, "fake", {"script": json.dumps(list(replies))})
    await supervisor.model_settings.set_default_model(TENANT, "llm", "fake", "script")


def moderation(kind: str = "keywords", **config: Any) -> ModerationConfig:
    body = {
        "inputs_config": {"enabled": True, "preset_response": "No."},
        "outputs_config": {"enabled": True, "preset_response": "Hidden."},
        **config,
    }
    parsed = ModerationConfig.parse({"enabled": True, "type": kind, "config": body})
    assert parsed is not None
    return parsed


# -- moderation --------------------------------------------------------------------------------


async def test_keywords_flag_inputs_and_outputs_ignoring_case() -> None:
    check = Moderation(moderation(keywords="scam\n  spam \n"))
    flagged = await check.check_input({"topic": "a SCAM offer"}, "hello")
    assert (flagged.flagged, flagged.preset_response) == (True, "No.")
    assert not (await check.check_input({"topic": "tea"}, "hello")).flagged
    assert (await check.check_output("buy spam")).replacement == "Hidden."


async def chunks(*pieces: str) -> AsyncIterator[str]:
    for piece in pieces:
        yield piece


async def collect(stream: AsyncIterator[ModeratedChunk]) -> list[ModeratedChunk]:
    return [chunk async for chunk in stream]


async def test_a_streamed_answer_is_checked_every_100_characters() -> None:
    seen: list[str] = []

    async def extension(point: str, params: dict[str, Any]) -> Mapping[str, Any]:
        seen.append(params["text"])
        return {"flagged": "bad" in params["text"], "action": "direct_output", "preset_response": "Stop."}

    check = Moderation(moderation("api", api_based_extension_id="ext-1"), api_extension=extension, app_id="a1")
    clean = await collect(check.moderate_stream(chunks(*["x" * 30] * 7)))
    assert "".join(c.text for c in clean) == "x" * 210 and not any(c.replace for c in clean)
    assert [len(text) for text in seen] == [120, 210]  # at 100+ characters, then the rest at the end
    flagged = await collect(check.moderate_stream(chunks("y" * 60, "y" * 50, "bad", "z" * 120)))
    assert [(c.text, c.replace) for c in flagged] == [("y" * 60, False), ("y" * 50, False), ("Stop.", True)]


async def test_an_api_extension_can_override_the_inputs() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    async def extension(point: str, params: dict[str, Any]) -> Mapping[str, Any]:
        calls.append((point, params))
        return {"flagged": True, "action": "overridden", "inputs": {"name": "***"}, "query": "hi ***"}

    check = Moderation(moderation("api", api_based_extension_id="ext-1"), api_extension=extension, app_id="a1")
    result = await check.check_input({"name": "Bob"}, "hi Bob")
    assert calls == [("app.moderation.input", {"app_id": "a1", "inputs": {"name": "Bob"}, "query": "hi Bob"})]
    assert (result.flagged, result.action, result.inputs, result.query) == (
        True,
        "overridden",
        {"name": "***"},
        "hi ***",
    )


async def test_an_api_extension_answer_of_the_wrong_shape_is_an_error() -> None:
    async def extension(point: str, params: dict[str, Any]) -> Mapping[str, Any]:
        return {"flagged": True, "action": "shrug"}

    check = Moderation(moderation("api", api_based_extension_id="ext-1"), api_extension=extension)
    with pytest.raises(ModerationError, match="action must be direct_output or overridden"):
        await check.check_output("text")


async def test_a_moderation_model_flags_through_the_kernel(supervisor: PluginSupervisor) -> None:
    config = moderation("openai_moderation", provider="fake", model="fake-moderation")
    with supervisor.kernel_client(tenant_id=TENANT) as kernel:
        check = Moderation(config, kernel=kernel)
        assert (await check.check_input({}, "this is FORBIDDEN")).flagged
        assert not (await check.check_output("all fine")).flagged


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"enabled": True, "type": "regex", "config": {}}, r"\.type: unknown moderation type 'regex'"),
        (
            {"enabled": True, "type": "keywords", "config": {"inputs_config": {"enabled": True}}},
            r"config\.keywords: a keyword list is required",
        ),
        ({"enabled": True, "type": "keywords", "config": {"keywords": "x"}}, r"\.config: check inputs, outputs"),
        (
            {"enabled": True, "type": "api", "config": {"inputs_config": {"enabled": True}}},
            r"api_based_extension_id: an API extension",
        ),
        (
            {
                "enabled": True,
                "type": "keywords",
                "config": {"inputs_config": {"enabled": True}, "keywords": "\n".join(map(str, range(101)))},
            },
            "at most 100 keywords",
        ),
    ],
)
def test_bad_moderation_settings_name_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ModerationError, match=message):
        ModerationConfig.parse(data)


def test_moderation_that_is_off_is_none() -> None:
    assert ModerationConfig.parse({"enabled": False, "type": "", "configs": []}) is None


# -- follow-up questions and conversation names ------------------------------------------------


async def test_follow_up_questions_come_from_the_system_model(supervisor: PluginSupervisor) -> None:
    await scripted_default_model(supervisor, 'Sure: ["Why?", "How?", "When?", "Where?"]')
    with supervisor.kernel_client(tenant_id=TENANT) as kernel:
        questions = await SuggestedQuestions(kernel).suggest([{"query": "Tea?", "answer": "Green tea."}])
    assert questions == ["Why?", "How?", "When?"]
    prompt = SuggestedQuestions.prompt([{"query": "Tea?", "answer": "Green tea."}])
    assert prompt.startswith("Human: Tea?\nAssistant: Green tea.\n\n") and "JSON array" in prompt


async def test_no_default_model_means_no_follow_up_questions(supervisor: PluginSupervisor) -> None:
    with supervisor.kernel_client(tenant_id="no-defaults") as kernel:
        assert await SuggestedQuestions(kernel).suggest([{"query": "q", "answer": "a"}]) == []


def test_questions_are_read_from_the_first_json_array() -> None:
    assert parse_questions('<x> [1, "a"] ["b", " c "]') == ["a"]
    assert parse_questions("no list here") == []
    assert parse_questions('[not json] ["ok"]') == ["ok"]


async def test_a_conversation_is_named_by_the_system_model(supervisor: PluginSupervisor) -> None:
    reply = '<think>hmm</think>{"Language Type": "English", "Your Reasoning": "r", "Your Output": "Brewing tea"}'
    await scripted_default_model(supervisor, reply)
    with supervisor.kernel_client(tenant_id=TENANT) as kernel:
        assert await ConversationNamer(kernel).name("How do I brew green tea at home?") == "Brewing tea"


async def test_a_conversation_without_a_system_model_is_named_by_its_first_message(
    supervisor: PluginSupervisor,
) -> None:
    with supervisor.kernel_client(tenant_id="no-defaults") as kernel:
        name = await ConversationNamer(kernel).name("word " * 30)
    assert name.endswith("...") and len(name) == 50
    assert "...[TRUNCATED]..." in ConversationNamer.prompt("x" * 2500)


# -- file upload limits and the opener ---------------------------------------------------------


def file(kind: str = "image", method: str = "remote_url", name: str = "a.png") -> dict[str, Any]:
    return {"type": kind, "transfer_method": method, "filename": name}


def test_upload_limits_accept_what_is_allowed_and_say_what_is_not() -> None:
    limits = FileUploadLimits.parse(
        {
            "enabled": True,
            "allowed_file_types": ["image", "custom"],
            "allowed_file_extensions": [".MD"],
            "allowed_file_upload_methods": ["local_file"],
            "number_limits": 2,
        }
    )
    limits.check([file(method="local_file"), file("custom", "local_file", "notes.md")])
    with pytest.raises(FileUploadError, match=r"^files: 3 files, but this app accepts at most 2"):
        limits.check([file(method="local_file")] * 3)
    with pytest.raises(FileUploadError, match=r"files\[0\]\.transfer_method: upload method 'remote_url'"):
        limits.check([file()])
    with pytest.raises(FileUploadError, match=r"files\[1\]\.extension: a 'custom' file \(\.exe\) is not accepted"):
        limits.check([file(method="local_file"), file("custom", "local_file", "x.exe")])
    with pytest.raises(FileUploadError, match="does not accept files"):
        FileUploadLimits.parse({"enabled": False}).check([file()])


def test_the_older_image_only_shape_allows_images() -> None:
    limits = FileUploadLimits.parse(
        {"image": {"enabled": True, "number_limits": 1, "transfer_methods": ["remote_url"]}}
    )
    limits.check([file()])
    with pytest.raises(FileUploadError, match="'document' file"):
        limits.check([file("document", name="a.pdf")])


def test_bad_upload_settings_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"file_upload\.allowed_file_types\[0\]: unknown file type 'pdf'"):
        FileUploadLimits.parse({"enabled": True, "allowed_file_types": ["pdf"]})
    with pytest.raises(ValueError, match=r"file_upload\.number_limits: must be a whole number"):
        FileUploadLimits.parse({"enabled": True, "number_limits": "many"})


def test_features_pass_the_opener_on_as_the_parameters_api_shows_it() -> None:
    features = AppFeatures.parse(
        {
            "opening_statement": "Welcome!",
            "suggested_questions": ["Start?"],
            "suggested_questions_after_answer": {"enabled": True},
            "sensitive_word_avoidance": {
                "enabled": True,
                "type": "keywords",
                "config": {"keywords": "x", "outputs_config": {"enabled": True}},
            },
            "text_to_speech": {"enabled": True, "voice": "alex", "language": "en-US", "autoPlay": "enabled"},
        }
    )
    parameters = features.parameters()
    assert parameters["opening_statement"] == "Welcome!" and parameters["suggested_questions"] == ["Start?"]
    assert parameters["suggested_questions_after_answer"] == {"enabled": True}
    assert parameters["sensitive_word_avoidance"] == {"enabled": True}
    speech = {"enabled": True, "voice": "alex", "language": "en-US", "autoPlay": "enabled"}
    assert parameters["text_to_speech"] == speech
    assert parameters["file_upload"]["enabled"] is False
    with pytest.raises(ValueError, match=r"workflow\.features\.suggested_questions: must be a list of texts"):
        AppFeatures.parse({"suggested_questions": "one"})

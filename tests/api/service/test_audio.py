"""Speech to text and text to speech over HTTP, through the workspace's default models (the fake
provider's ``fake-speech2text`` and ``fake-tts``, whose WAV files read back to their text)
(API-AUDIO-STT, API-AUDIO-TTS, API-COMMON-USER)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.service_api import ServiceApi, service_api
from treadle.models.mapping import ModelMapping

CHAT = """\
version: 0.3.0
kind: app
app: {mode: chat, name: Talker}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  pre_prompt: ""
  user_input_form: []
  speech_to_text: {enabled: true}
  text_to_speech: {enabled: true, voice: alto, language: en-US, autoPlay: disabled}
"""

WORKFLOW = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: Quiet}
workflow:
  features:
    speech_to_text: {enabled: true}
    text_to_speech: {enabled: true}
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: end
      data: {type: end, title: End, outputs: []}
    edges:
    - {id: e1, source: start, target: end}
"""

MUTE = """\
version: 0.3.0
kind: app
app: {mode: chat, name: Mute}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  user_input_form: []
"""

APPS = {"chat": CHAT, "workflow": WORKFLOW, "mute": MUTE}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceApi]:
    async with service_api(tmp_path, backend=request.param, apps=APPS) as running:
        yield running


async def defaults(api: ServiceApi) -> None:
    """Make the fake provider's audio models the workspace's defaults."""
    await api.supervisor.model_settings.set_default_model(api.tenant_id, "tts", "fake", "fake-tts")
    await api.supervisor.model_settings.set_default_model(api.tenant_id, "speech2text", "fake", "fake-speech2text")


async def speak(api: ServiceApi, app: str, body: dict[str, object]) -> bytes:
    response = await api.client.post("/text-to-audio", headers=api.auth(app), json=body)
    assert response.status_code == 200, response.text
    return response.content


async def hear(api: ServiceApi, app: str, audio: bytes, *, name: str = "speech.wav", mime: str = "audio/wav") -> str:
    response = await api.client.post(
        "/audio-to-text", headers=api.auth(app), files={"file": (name, audio, mime)}, data={"user": "u1"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"text"}
    text: str = body["text"]
    return text


async def test_text_becomes_audio_and_the_audio_becomes_the_same_text(api: ServiceApi) -> None:
    """API-AUDIO-TTS then API-AUDIO-STT: the fake models round-trip the text exactly; the voice
    given wins over the app's."""
    await defaults(api)
    response = await api.client.post(
        "/text-to-audio", headers=api.auth("chat"), json={"text": "Hello there, friend.", "user": "u1", "voice": "bass"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    audio = response.content
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    assert b"bass" in audio  # the voice is written in the fake file's artist tag
    assert await hear(api, "chat", audio) == "Hello there, friend."


async def test_the_apps_voice_is_used_when_the_request_names_none(api: ServiceApi) -> None:
    await defaults(api)
    audio = await speak(api, "chat", {"text": "hi", "user": "u1"})
    assert b"alto" in audio


async def test_streaming_sends_the_same_audio_in_pieces(api: ServiceApi) -> None:
    """API-AUDIO-TTS with ``streaming``: chunked transfer of the same bytes."""
    await defaults(api)
    whole = await speak(api, "workflow", {"text": "one two three four", "user": "u1"})
    async with api.client.stream(
        "POST", "/text-to-audio", headers=api.auth("workflow"),
        json={"text": "one two three four", "user": "u1", "streaming": True},
    ) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        pieces = [piece async for piece in response.aiter_raw()]
    assert b"".join(pieces) == whole
    assert await hear(api, "workflow", whole) == "one two three four"


async def test_message_id_takes_priority_over_text(api: ServiceApi) -> None:
    """API-AUDIO-TTS: the answer of ``message_id`` is read, not ``text``; the message must be the
    same end user's (API-COMMON-USER)."""
    await defaults(api)
    sent = await api.client.post(
        "/chat-messages", headers=api.auth("chat"),
        json={"query": "echo me back", "inputs": {}, "user": "u1", "response_mode": "blocking"},
    )
    assert sent.status_code == 200, sent.text
    message = sent.json()
    audio = await speak(api, "chat", {"message_id": message["message_id"], "text": "ignored", "user": "u1"})
    assert await hear(api, "chat", audio) == message["answer"]
    stranger = await api.client.post(
        "/text-to-audio", headers=api.auth("chat"), json={"message_id": message["message_id"], "user": "u2"}
    )
    assert stranger.status_code == 404 and stranger.json()["message"] == "Message Not Exists."
    unknown = await api.client.post(
        "/text-to-audio", headers=api.auth("chat"),
        json={"message_id": "5b0c6a43-6d1c-4b5e-9b1a-0d2f3e4c5a6b", "user": "u1"},
    )
    assert unknown.status_code == 404


async def test_text_to_audio_refusals(api: ServiceApi) -> None:
    """Nothing to say, the feature off, or no default TTS model: clear 400s."""
    nothing = await api.client.post("/text-to-audio", headers=api.auth("chat"), json={"user": "u1"})
    assert nothing.status_code == 400 and nothing.json()["code"] == "invalid_param"
    blank = await api.client.post("/text-to-audio", headers=api.auth("chat"), json={"text": "   ", "user": "u1"})
    assert blank.status_code == 400 and blank.json()["params"] == "text"
    no_model = await api.client.post("/text-to-audio", headers=api.auth("chat"), json={"text": "hi", "user": "u1"})
    assert no_model.status_code == 400 and no_model.json()["code"] == "provider_not_initialize"
    await defaults(api)
    off = await api.client.post("/text-to-audio", headers=api.auth("mute"), json={"text": "hi", "user": "u1"})
    assert off.status_code == 400 and off.json()["code"] == "invalid_param"
    assert "Text to speech is not enabled" in off.json()["message"]


async def test_a_failed_model_call_answers_with_its_provider_error(api: ServiceApi) -> None:
    """API-AUDIO-TTS / -STT: provider errors keep Dify's codes. Here the operator's model mapping
    sends the default models to a chat model, which the model manager refuses as a bad request."""
    await defaults(api)
    api.supervisor.models.mapping = ModelMapping({"fake:fake-tts": "fake:echo", "fake:fake-speech2text": "fake:echo"})
    spoken = await api.client.post("/text-to-audio", headers=api.auth("chat"), json={"text": "hi", "user": "u1"})
    assert spoken.status_code == 400, spoken.text
    assert spoken.json()["code"] == "completion_request_error"
    assert "echo" in spoken.json()["message"]
    heard = await api.client.post(
        "/audio-to-text", headers=api.auth("chat"), files={"file": ("a.wav", b"RIFF....WAVE", "audio/wav")}
    )
    assert heard.status_code == 400 and heard.json()["code"] == "completion_request_error"


async def test_audio_to_text_errors_have_their_documented_codes(api: ServiceApi) -> None:
    """API-AUDIO-STT errors: no_audio_uploaded (400), audio_too_large (413), unsupported_audio_type
    (415), provider_not_support_speech_to_text (400), and the feature switched off (invalid_param)."""
    auth = api.auth("chat")
    wav = b"RIFF\x00\x00\x00\x00WAVE"
    no_model = await api.client.post("/audio-to-text", headers=auth, files={"file": ("a.wav", wav, "audio/wav")})
    assert no_model.status_code == 400 and no_model.json()["code"] == "provider_not_support_speech_to_text"
    await defaults(api)
    missing = await api.client.post("/audio-to-text", headers=auth, data={"user": "u1"})
    assert missing.status_code == 400 and missing.json()["code"] == "no_audio_uploaded"
    empty = await api.client.post("/audio-to-text", headers=auth, files={"file": ("a.wav", b"", "audio/wav")})
    assert empty.status_code == 400 and empty.json()["code"] == "no_audio_uploaded"
    text = await api.client.post("/audio-to-text", headers=auth, files={"file": ("a.txt", b"words", "text/plain")})
    assert text.status_code == 415 and text.json()["code"] == "unsupported_audio_type"
    big = await api.client.post(
        "/audio-to-text", headers=auth, files={"file": ("long.mp3", b"\xff" * (30 * 1024 * 1024 + 1), "audio/mpeg")}
    )
    assert big.status_code == 413 and big.json()["code"] == "audio_too_large"
    off = await api.client.post("/audio-to-text", headers=api.auth("mute"), files={"file": ("a.wav", wav, "audio/wav")})
    assert off.status_code == 400 and off.json()["code"] == "invalid_param"


async def test_audio_formats_are_known_by_type_or_by_extension(api: ServiceApi) -> None:
    """API-AUDIO-STT: mp3 mp4 mpeg mpga m4a wav webm; a browser's ``audio/webm;codecs=opus`` and an
    untyped ``.m4a`` are audio too. Audio the fake model did not make is described, not refused."""
    await defaults(api)
    heard = await hear(api, "chat", b"\x1aE\xdf\xa3", name="rec.webm", mime="audio/webm;codecs=opus")
    assert heard.startswith("[audio: 4 bytes")
    assert (await hear(api, "chat", b"....", name="memo.m4a", mime="application/octet-stream")).startswith("[audio:")

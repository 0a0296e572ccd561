"""Audio: ``POST /audio-to-text`` and ``POST /text-to-audio`` (API-AUDIO-STT, API-AUDIO-TTS).

Both go through the workspace's default model of the type (``speech2text``, ``tts``), as Dify's do,
and both need the app's feature switched on (``speech_to_text``, ``text_to_speech``); Dify refuses a
switched-off feature with ``invalid_param``, and so do we. A failed model call answers with the
code a Dify client expects for its invoke error (``rate_limit_error``, ``provider_not_initialize``,
``completion_request_error`` ...).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import posixpath
from collections.abc import AsyncGenerator, AsyncIterator
from typing import NoReturn

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from treadle_sdk.errors import PluginError

from ....store import Message
from .. import errors
from ..requests import TextToAudioRequest
from ..state import ServiceApp, ServiceState
from .common import authenticated, json_body, respond
from .files import single_upload

__all__ = ["ROUTES"]

log = logging.getLogger(__name__)

#: The largest audio ``/audio-to-text`` takes (Dify's 30 MB).
AUDIO_LIMIT = 30 * 1024 * 1024
#: The audio formats ``/audio-to-text`` takes, by extension (API-AUDIO-STT).
AUDIO_EXTENSIONS = ("mp3", "mp4", "mpeg", "mpga", "m4a", "wav", "webm")
#: MIME types of those formats: Dify's ``audio/<extension>`` and the names browsers and tools send.
_AUDIO_MIME_TYPES = frozenset(
    {f"audio/{ext}" for ext in AUDIO_EXTENSIONS}
    | {"audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/x-m4a", "audio/mp4a-latm", "audio/x-mpeg",
       "audio/mpeg3", "audio/x-mpeg-3", "video/mp4", "video/webm", "video/mpeg"}
)
#: Types that say nothing of the format: the file name's extension decides then.
_GENERIC_MIME_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})

#: Invoke error types (``details["error_type"]`` of a failed model call) and what they answer.
_MODEL_ERRORS = {
    "InvokeRateLimitError": errors.RATE_LIMIT_ERROR,
    "QuotaExceededError": errors.PROVIDER_QUOTA_EXCEEDED,
    "InvokeQuotaExceededError": errors.PROVIDER_QUOTA_EXCEEDED,
    "InvokeAuthorizationError": errors.PROVIDER_NOT_INITIALIZE,
    "CredentialsValidateFailedError": errors.PROVIDER_NOT_INITIALIZE,
    "CredentialNotFound": errors.PROVIDER_NOT_INITIALIZE,
    "ModelCurrentlyNotSupportError": errors.MODEL_CURRENTLY_NOT_SUPPORT,
}


def _model_failed(exc: PluginError) -> NoReturn:
    """Answer a failed model call with the documented code of its invoke error."""
    error_type = str(exc.details.get("error_type") or "")
    known = _MODEL_ERRORS.get(error_type, errors.COMPLETION_REQUEST_ERROR)
    raise known.error(exc.message or known.message) from None


def _is_audio(mime_type: str, filename: str) -> bool:
    mime = mime_type.split(";", 1)[0].strip().lower()
    if mime in _AUDIO_MIME_TYPES:
        return True
    extension = posixpath.splitext(filename)[1].lstrip(".").lower()
    return mime in _GENERIC_MIME_TYPES and extension in AUDIO_EXTENSIONS


async def audio_to_text(request: Request) -> Response:
    """API-AUDIO-STT: the text of the uploaded audio, by the workspace's default speech-to-text model."""
    state, app = await authenticated(request)
    loaded = await state.load(app)
    if not loaded.app.features.speech_to_text:
        raise errors.INVALID_PARAM.error("Speech to text is not enabled: switch the app's speech_to_text feature on.")
    audio = await single_upload(
        request, missing=errors.NO_AUDIO_UPLOADED, unnamed=errors.NO_AUDIO_UPLOADED, too_large=errors.AUDIO_TOO_LARGE,
        max_bytes=AUDIO_LIMIT,
    )
    if not _is_audio(audio.content_type, audio.filename):
        raise errors.UNSUPPORTED_AUDIO_TYPE.error(
            f"{errors.UNSUPPORTED_AUDIO_TYPE.message} {audio.filename!r} was sent as "
            f"{audio.content_type or 'no type'!r}; accepted: {', '.join(AUDIO_EXTENSIONS)}."
        )
    if not audio.content:
        raise errors.NO_AUDIO_UPLOADED.error(f"The audio file {audio.filename!r} is empty.")
    await state.end_user(app, audio.user)
    with state.supervisor.kernel_client(tenant_id=app.tenant_id) as kernel:
        try:
            model = await kernel.adefault_model("speech2text")
            if model is None:
                raise errors.PROVIDER_NOT_SUPPORT_SPEECH_TO_TEXT.error(
                    "The workspace has no default speech-to-text model: set one in its model settings."
                )
            text = await kernel.ainvoke_speech2text(
                model[0], model[1], audio.content, filename=audio.filename or "audio.mp3"
            )
        except PluginError as exc:
            _model_failed(exc)
    return respond({"text": text})


async def _text_of_message(state: ServiceState, app: ServiceApp, end_user_id: str, message_id: str) -> str:
    """The answer of a message of this app and end user (API-COMMON-USER: others' are not found)."""
    async with state.db.session() as session:
        message = await session.scalar(
            select(Message).where(
                Message.id == message_id, Message.app_id == app.id, Message.end_user_id == end_user_id
            )
        )
    if message is None:
        raise errors.MESSAGE_NOT_EXISTS.error()
    if not message.answer.strip():
        raise errors.INVALID_PARAM.error(f"Message {message_id!r} has no answer to read aloud.", params="message_id")
    return message.answer


def _decoded(audio: str) -> bytes:
    try:
        return base64.b64decode(audio, validate=True)
    except (binascii.Error, ValueError):
        raise errors.COMPLETION_REQUEST_ERROR.error("The text-to-speech model sent audio that is not base64.") from None


async def _speech(
    state: ServiceState, tenant_id: str, model: tuple[str, str], text: str, voice: str
) -> AsyncGenerator[tuple[bytes, str], None]:
    """The audio of ``text``, piece by piece, each with the MIME type the model gives it."""
    with state.supervisor.kernel_client(tenant_id=tenant_id) as kernel:
        async for chunk in kernel.ainvoke_tts(model[0], model[1], text, voice=voice):
            if chunk.audio:
                yield _decoded(chunk.audio), chunk.mime_type


async def text_to_audio(request: Request) -> Response:
    """API-AUDIO-TTS: ``message_id``'s answer (or ``text``) read aloud by the workspace's default TTS
    model; the whole file, or its pieces as they come when ``streaming`` is true."""
    state, app = await authenticated(request)
    body = await json_body(request, TextToAudioRequest)
    loaded = await state.load(app)
    speech = loaded.app.features.text_to_speech
    if not speech.get("enabled"):
        raise errors.INVALID_PARAM.error("Text to speech is not enabled: switch the app's text_to_speech feature on.")
    end_user = await state.end_user(app, body.user)
    if body.message_id:
        text = await _text_of_message(state, app, end_user.id, body.message_id)
    else:
        text = (body.text or "").strip()
        if not text:
            raise errors.INVALID_PARAM.error("text is empty: give the text to read aloud (in the JSON body).",
                                             params="text")
    voice = body.voice or str(speech.get("voice") or "")
    with state.supervisor.kernel_client(tenant_id=app.tenant_id) as kernel:
        try:
            model = await kernel.adefault_model("tts")
        except PluginError as exc:
            _model_failed(exc)
    if model is None:
        raise errors.PROVIDER_NOT_INITIALIZE.error(
            "The workspace has no default text-to-speech model: set one in its model settings."
        )
    pieces = _speech(state, app.tenant_id, model, text.strip(), voice)
    try:
        first, mime_type = await anext(pieces, (b"", "audio/mpeg"))
        if not body.streaming:
            audio = [first]
            async for piece, _ in pieces:
                audio.append(piece)
            return Response(b"".join(audio), media_type=mime_type or "audio/mpeg")
    except PluginError as exc:
        await pieces.aclose()
        _model_failed(exc)

    async def rest() -> AsyncIterator[bytes]:
        async with contextlib.aclosing(pieces):
            if first:
                yield first
            try:
                async for piece, _ in pieces:
                    yield piece
            except PluginError:
                # The status line is sent already: the audio ends where the model stopped.
                log.warning("text to speech failed part way for app %s", app.id, exc_info=True)

    return StreamingResponse(rest(), media_type=mime_type or "audio/mpeg")


ROUTES = [
    Route("/audio-to-text", audio_to_text, methods=["POST"]),
    Route("/text-to-audio", text_to_audio, methods=["POST"]),
]

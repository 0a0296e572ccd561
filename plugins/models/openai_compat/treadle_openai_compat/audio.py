"""Requests of the audio and moderation endpoints: ``/audio/speech``, ``/audio/transcriptions`` and
``/moderations`` in OpenAI's wire format."""

from __future__ import annotations

import base64
import binascii
import io
import mimetypes
import wave
from typing import Any

from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.model_runtime import InvokeSpeech2TextArgs, InvokeTTSArgs

from .client import Files

__all__ = [
    "DEFAULT_FORMAT",
    "DEFAULT_VOICE",
    "MAX_CHARACTERS_PER_CHUNK",
    "MAX_CHUNKS",
    "audio_mime_type",
    "moderation_batches",
    "silence_wav",
    "speech_body",
    "transcription_form",
]

DEFAULT_VOICE = "alloy"
DEFAULT_FORMAT = "mp3"

#: The MIME types of the formats ``/audio/speech`` offers (the server's Content-Type wins when it sends one).
_AUDIO_MIME = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}

#: How moderation input is split: characters per input, inputs per request (OpenAI's limits, as Dify uses them).
MAX_CHARACTERS_PER_CHUNK = 2000
MAX_CHUNKS = 32


def speech_body(args: InvokeTTSArgs, model: str) -> dict[str, Any]:
    """The JSON body of ``POST /audio/speech``: the voice asked for, else the model credential
    ``default_voice``, else ``alloy``; the format asked for, else mp3."""
    if not args.content_text.strip():
        raise PluginInvalidArgument(
            "'content_text' is empty: there is nothing to speak", details={"field": "content_text"}
        )
    voice = args.voice or str(args.credentials.get("default_voice") or DEFAULT_VOICE)
    audio_format = args.format or DEFAULT_FORMAT
    return {"model": model, "input": args.content_text, "voice": voice, "response_format": audio_format}


def audio_mime_type(audio_format: str, content_type: str | None) -> str:
    """The MIME type of the audio the server sent: its Content-Type if that names audio, else the
    format's."""
    if content_type and content_type.split(";")[0].strip().startswith("audio/"):
        return content_type.split(";")[0].strip()
    return _AUDIO_MIME.get(audio_format, "application/octet-stream")


def transcription_form(args: InvokeSpeech2TextArgs, model: str) -> tuple[Files, dict[str, str]]:
    """The multipart form of ``POST /audio/transcriptions``: the file, and the model, answer format
    and (when given) language fields."""
    try:
        audio = base64.b64decode(args.audio, validate=True)
    except (binascii.Error, ValueError):
        raise PluginInvalidArgument("'audio' is not valid base64", details={"field": "audio"}) from None
    if not audio:
        raise PluginInvalidArgument("'audio' is empty: there is nothing to transcribe", details={"field": "audio"})
    mime = args.mime_type or mimetypes.guess_type(args.filename)[0] or "application/octet-stream"
    fields = {"model": model, "response_format": "json"}
    if args.language:
        fields["language"] = args.language
    return {"file": (args.filename, audio, mime)}, fields


def moderation_batches(text: str) -> list[list[str]]:
    """``text`` in pieces of at most :data:`MAX_CHARACTERS_PER_CHUNK` characters, grouped
    :data:`MAX_CHUNKS` to a request."""
    pieces = [text[i : i + MAX_CHARACTERS_PER_CHUNK] for i in range(0, len(text), MAX_CHARACTERS_PER_CHUNK)]
    return [pieces[i : i + MAX_CHUNKS] for i in range(0, len(pieces), MAX_CHUNKS)]


def silence_wav() -> bytes:
    """A tenth of a second of silence (16 kHz, 16-bit mono): what validating a speech2text model sends."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\0\0" * 1600)
    return out.getvalue()

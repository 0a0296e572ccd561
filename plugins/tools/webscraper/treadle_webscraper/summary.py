"""``generate_summary``: the page's text summarised by the workspace's default LLM model.

Long texts are cut at paragraph boundaries into pieces a model reads comfortably; each piece is
summarised, and summaries that together are still long are summarised once more.
"""

from __future__ import annotations

from treadle_sdk.context import CallContext
from treadle_sdk.errors import PluginFailed
from treadle_sdk.model_runtime import PromptMessage, PromptMessageRole

__all__ = ["CHUNK_CHARACTERS", "MAX_CHUNKS", "SUMMARY_PROMPT", "chunks", "summarise"]

#: Characters of page text per model call.
CHUNK_CHARACTERS = 8000
#: Pieces summarised at most; text past them is left out.
MAX_CHUNKS = 20

SUMMARY_PROMPT = (
    "You summarise web pages. Reproduce the main points of the text you are given in your own words, "
    "keeping its meaning, its key facts and figures, and its language. The text may be only part of a "
    "longer page. Answer with the summary alone."
)


def chunks(text: str, size: int = CHUNK_CHARACTERS) -> list[str]:
    """``text`` in pieces of at most ``size`` characters, cut between paragraphs where possible."""
    pieces: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        while len(paragraph) > size:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(paragraph[:size])
            paragraph = paragraph[size:]
        joined = f"{current}\n\n{paragraph}" if current else paragraph
        if len(joined) > size:
            pieces.append(current)
            current = paragraph
        else:
            current = joined
    if current.strip():
        pieces.append(current)
    return pieces


async def _ask(ctx: CallContext, provider: str, model: str, text: str) -> str:
    prompt = [
        PromptMessage(role=PromptMessageRole.SYSTEM, content=SUMMARY_PROMPT),
        PromptMessage(role=PromptMessageRole.USER, content=text),
    ]
    answer = [chunk.delta.message.content async for chunk in ctx.kernel.ainvoke_llm(provider, model, prompt)]
    return "".join(answer).strip()


async def summarise(ctx: CallContext, text: str) -> str:
    """A summary of ``text`` by the workspace's default LLM model (an empty text has an empty one)."""
    if not text.strip():
        return ""
    default = await ctx.kernel.adefault_model("llm")
    if default is None:
        raise PluginFailed(
            "generate_summary needs the workspace's default LLM model, and none is set",
            details={"parameter": "generate_summary"},
        )
    provider, model = default
    summaries = [await _ask(ctx, provider, model, piece) for piece in chunks(text)[:MAX_CHUNKS]]
    combined = "\n\n".join(s for s in summaries if s)
    if len(summaries) > 1 and len(combined) > CHUNK_CHARACTERS:
        combined = await _ask(ctx, provider, model, combined[: CHUNK_CHARACTERS * 2])
    return combined

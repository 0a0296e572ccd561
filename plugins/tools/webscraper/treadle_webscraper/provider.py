"""The ``webscraper`` tool provider and its ``webscraper`` tool (Dify's built-in names and parameters)."""

from __future__ import annotations

import asyncio
from typing import Any

from treadle_sdk.context import CallContext
from treadle_sdk.errors import PluginFailed
from treadle_sdk.extensions import Tool, ToolProvider
from treadle_sdk.schemas import ToolParameter, ToolParameterForm, ToolParameterType, ToolProviderSchema, ToolSchema
from treadle_sdk.ssrf import SSRFGuard
from treadle_sdk.tool_runtime import JsonMessage, TextMessage

from .extract import Page, extract_html, extract_text, page_summary
from .fetch import DEFAULT_USER_AGENT, FetchedPage, PageFetcher, ScraperLimits, normalise_url
from .summary import summarise

__all__ = ["WebScraperTool", "WebScraperToolProvider", "read_page", "render_page"]

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_TYPES = frozenset({"application/json", "application/xml", "application/javascript", "application/x-ndjson"})


def _looks_like_html(body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def read_page(fetched: FetchedPage, max_links: int) -> Page:
    """The readable content of a fetched page: HTML is extracted, text taken as it is; any other
    type is refused (the scraper reads web pages, not PDFs or images)."""
    kind, body = fetched.content_type, fetched.body
    head = body[:1024].lstrip()
    # XML (a feed sent as text/html, say) would be read as broken HTML: take it as text.
    xml = head.startswith(b"<?xml") and b"<html" not in body[:4096].lower()
    if (kind in _HTML_TYPES or (kind == "application/octet-stream" and _looks_like_html(body))) and not xml:
        if b"<" not in body:
            return extract_text(body, fetched.charset)
        return extract_html(body, fetched.final_url, charset=fetched.charset, max_links=max_links)
    if kind.startswith("text/") or kind in _TEXT_TYPES or kind.endswith(("+json", "+xml")):
        return extract_text(body, fetched.charset)
    raise PluginFailed(
        f"could not read {fetched.url[:200]}: it is {kind}, and the web scraper reads web pages and text",
        details={"url": fetched.url, "content_type": kind},
    )


def render_page(page: Page) -> str:
    """The text output, in the layout of Dify's web reader (so prompts written for it still fit)."""
    return (
        f"TITLE: {page.title}\n"
        f"AUTHORS: {page.author}\n"
        f"PUBLISH DATE: {page.published}\n"
        f"TOP_IMAGE_URL: {page.image}\n"
        f"TEXT:\n\n{page.text}"
    )


class WebScraperTool(Tool):
    """``webscraper``: fetch a page and read it: title, metadata, main text and links."""

    schema = ToolSchema(
        name="webscraper",
        label="Web Scraper",
        description="Fetch a web page and return its readable text.",
        llm_description="A tool for scraping webpages. Input should be a URL.",
        parameters=[
            ToolParameter(
                name="url",
                type=ToolParameterType.STRING,
                label="URL",
                required=True,
                human_description="The address of the page to read.",
                llm_description="url for scraping",
            ),
            ToolParameter(
                name="user_agent",
                type=ToolParameterType.STRING,
                label="User Agent",
                form=ToolParameterForm.FORM,
                default=DEFAULT_USER_AGENT,
                human_description="How the request introduces itself (the User-Agent header).",
            ),
            ToolParameter(
                name="generate_summary",
                type=ToolParameterType.BOOLEAN,
                label="Whether to generate summary",
                form=ToolParameterForm.FORM,
                default=False,
                human_description="Return a summary by the workspace's default LLM model instead of the page text.",
            ),
        ],
    )

    def __init__(self, fetcher: PageFetcher) -> None:
        self.fetcher = fetcher

    async def invoke(
        self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]
    ) -> list[TextMessage | JsonMessage]:
        url = normalise_url(parameters["url"])
        fetched = await self.fetcher.fetch(url, parameters["user_agent"])
        # Parsing a page of megabytes takes a while: not on the event loop.
        page = await asyncio.to_thread(read_page, fetched, self.fetcher.limits.max_links)
        details: dict[str, Any] = {
            "url": fetched.url,
            "final_url": fetched.final_url,
            "status_code": fetched.status_code,
            "content_type": fetched.content_type,
            **page_summary(page),
        }
        text = render_page(page)
        if parameters["generate_summary"]:
            text = details["summary"] = await summarise(ctx, page.text)
        return [TextMessage(text=text), JsonMessage(json_object=details)]


class WebScraperToolProvider(ToolProvider):
    """The ``webscraper`` provider. Pages are fetched through ``guard`` (by default one following the
    operator's ``TREADLE_SSRF_ALLOW``), within ``limits``."""

    schema = ToolProviderSchema(
        name="webscraper",
        author="treadle",
        label="Web Scraper",
        description="Read web pages: title, main text and links, optionally summarised.",
        tags=["productivity"],
    )

    def __init__(self, *, guard: SSRFGuard | None = None, limits: ScraperLimits | None = None) -> None:
        self.fetcher = PageFetcher(guard or SSRFGuard(), limits or ScraperLimits())
        self.tools = [WebScraperTool(self.fetcher)]

"""The web scraper: Dify's ``webscraper`` tool, fetching pages through the SDK's SSRF guard and
reading their title, main text and links with Beautiful Soup."""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import ToolProvider
from treadle_sdk.hookspecs import hookimpl

from .extract import Page, extract_html, extract_text
from .fetch import DEFAULT_USER_AGENT, FetchedPage, PageFetcher, ScraperLimits
from .provider import WebScraperTool, WebScraperToolProvider, read_page, render_page

__all__ = [
    "DEFAULT_USER_AGENT",
    "FetchedPage",
    "Page",
    "PageFetcher",
    "ScraperLimits",
    "WebScraperTool",
    "WebScraperToolProvider",
    "extract_html",
    "extract_text",
    "read_page",
    "register_tools",
    "render_page",
]


@hookimpl
def register_tools(register: Callable[[ToolProvider], None]) -> None:
    """Register the ``webscraper`` provider, guarded by the operator's ``TREADLE_SSRF_ALLOW``."""
    register(WebScraperToolProvider())

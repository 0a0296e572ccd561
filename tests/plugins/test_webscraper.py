"""The web scraper (treadle_webscraper): Dify's ``webscraper`` tool against a real local HTTP server,
behind the SSRF guard; through the real dispatcher and once through a plugin host process."""

from __future__ import annotations

import gzip
import importlib.metadata
import shutil
import tempfile
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import treadle_webscraper
from support.local_server import serving
from treadle.config import Settings
from treadle.plugins import PluginSupervisor
from treadle_sdk.errors import PluginFailed, PluginInvalidArgument, PluginPermissionDenied
from treadle_sdk.extensions import ToolProvider
from treadle_sdk.hookspecs import hookimpl
from treadle_sdk.ssrf import SSRFGuard
from treadle_sdk.testing import MemoryKernel, ainvoke, load
from treadle_sdk.tool_runtime import JsonMessage, TextMessage
from treadle_webscraper import DEFAULT_USER_AGENT, ScraperLimits, WebScraperToolProvider
from treadle_webscraper.fetch import normalise_url
from treadle_webscraper.summary import CHUNK_CHARACTERS, chunks

ARTICLE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Tides | The Coastal Gazette</title>
  <meta property="og:title" content="How tides work">
  <meta name="author" content="Ada Shore">
  <meta property="article:published_time" content="2024-05-01T08:00:00Z">
  <meta name="description" content="The moon, the sun and the sea.">
  <meta property="og:image" content="/img/tides.png">
  <style>body { color: red }</style>
  <script>var tracking = "should not appear";</script>
</head>
<body>
  <header class="site-header"><nav><a href="/">Home</a> <a href="/news#top">News</a></nav></header>
  <div class="cookie-banner">We use cookies. Accept?</div>
  <main>
    <article>
      <h1>How tides work</h1>
      <p>Tides are the rise and fall of sea levels, caused by the <a href="/moon">moon</a>'s gravity
         and, to a lesser degree, the sun's.</p>
      <h2>Spring and neap tides</h2>
      <p>When the sun and the moon line up, their pulls add up: the tides are higher than usual.</p>
      <ul><li>Spring tides: at new and full moon.</li><li>Neap tides: at the quarter moons.</li></ul>
      <table><tr><th>Place</th><th>Range</th></tr><tr><td>Bay of Fundy</td><td>16 m</td></tr></table>
      <div class="share-buttons">Share on social media</div>
      <p>Read more in <a href="https://example.org/ocean?x=1#part">the ocean primer</a> or
         <a href="javascript:void(0)">nowhere</a>.</p>
    </article>
    <aside class="sidebar">Most read: something else entirely</aside>
  </main>
  <footer>Copyright The Coastal Gazette</footer>
</body>
</html>
"""

PARAGRAPHS_ONLY = """<html><head><title>Notes</title></head><body>
<div id="top">Menu: one two three</div>
<div id="content"><p>{long}</p><p>Second paragraph of the notes.</p></div>
<div>Unrelated</div>
</body></html>
""".format(long="The main text of the notes page, long enough to be taken for the content. " * 4)

LATIN = "<html><head><title>Caf\xe9</title></head><body><p>Cr\xe8me br\xfbl\xe9e</p></body></html>"
META_CHARSET = (
    '<html><head><meta charset="iso-8859-1"><title>Na\xefve</title></head><body><p>\xe9t\xe9</p></body></html>'
)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        self.server.seen.append((parts.path, dict(self.headers.items())))
        if parts.path == "/redirect":
            self._send(302, b"", {"Location": query["to"]})
        elif parts.path == "/slow":
            time.sleep(float(query.get("delay", "1")))
            self._send(200, b"<p>late</p>", {"Content-Type": "text/html"})
        elif parts.path in self.server.pages:
            status, headers, body = self.server.pages[parts.path]
            self._send(status, body, headers)
        else:
            self._send(404, b"no such page", {"Content-Type": "text/plain"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pages: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that give up early (the timeout tests) are expected

    def serve(
        self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8", **headers: str
    ) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.pages[path] = (int(headers.pop("status", "200")), {"Content-Type": content_type, **headers}, data)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    with serving(_Server()) as httpd:
        yield httpd


def plugin_of(provider: ToolProvider) -> Any:
    class Plugin:
        @hookimpl
        def register_tools(self, register: Any) -> None:
            register(provider)

    return Plugin()


def local_scraper(limits: ScraperLimits | None = None) -> Any:
    """The tool with a guard that may reach 127.0.0.1 and nothing private besides (whatever the
    developer's TREADLE_SSRF_ALLOW says)."""
    return plugin_of(WebScraperToolProvider(guard=SSRFGuard(allow=["127.0.0.1"], environ={}), limits=limits))


async def scrape(url: str, plugin: Any = None, kernel: MemoryKernel | None = None, **parameters: Any) -> list[Any]:
    payload = {"tool": "webscraper", "parameters": {"url": url, **parameters}}
    return await ainvoke(
        plugin or local_scraper(), "tool_provider", "webscraper", "invoke_tool", payload, kernel=kernel
    )


# -- registration --------------------------------------------------------------------------------


def test_the_tool_has_difys_names_and_parameters() -> None:
    """PLUG-TOOL-SCHEMA: Dify's built-in ``webscraper`` provider and tool (corpus simple-kimi.yml)."""
    entry = load(treadle_webscraper).extensions.get("tool_provider", "webscraper")
    assert entry is not None
    [tool] = entry.schema["tools"]
    assert tool["name"] == "webscraper"
    assert {p["name"]: (p["type"], p["form"], p["required"], p["default"]) for p in tool["parameters"]} == {
        "url": ("string", "llm", True, None),
        "user_agent": ("string", "form", False, DEFAULT_USER_AGENT),
        "generate_summary": ("boolean", "form", False, False),
    }
    [entry_point] = [ep for ep in importlib.metadata.entry_points(group="treadle") if ep.name == "webscraper"]
    assert entry_point.load() is treadle_webscraper


# -- reading pages -------------------------------------------------------------------------------


async def test_an_article_is_read_into_metadata_main_text_and_links(server: _Server) -> None:
    """The corpus's configuration (simple-kimi.yml): a user agent, generate_summary null."""
    url = server.serve("/tides", ARTICLE)
    text, details = await scrape(url, user_agent="TreadleTest/1.0", generate_summary=None)
    assert server.seen[-1][1]["User-Agent"] == "TreadleTest/1.0"
    page = details.json_object
    assert (page["title"], page["author"], page["published"]) == ("How tides work", "Ada Shore", "2024-05-01T08:00:00Z")
    assert (page["description"], page["language"]) == ("The moon, the sun and the sea.", "en")
    assert page["image"] == server.url("/img/tides.png")
    assert (page["url"], page["final_url"], page["status_code"], page["content_type"]) == (url, url, 200, "text/html")
    assert page["text"] == (
        "# How tides work\n\n"
        "Tides are the rise and fall of sea levels, caused by the moon's gravity and, "
        "to a lesser degree, the sun's.\n\n"
        "## Spring and neap tides\n\n"
        "When the sun and the moon line up, their pulls add up: the tides are higher than usual.\n\n"
        "- Spring tides: at new and full moon.\n\n"
        "- Neap tides: at the quarter moons.\n\n"
        "Place | Range\n\n"
        "Bay of Fundy | 16 m\n\n"
        "Read more in the ocean primer or nowhere."
    )
    for furniture in ("cookies", "Share on", "Most read", "Copyright", "tracking", "color: red", "Home"):
        assert furniture not in page["text"]
    assert page["links"] == [
        {"text": "Home", "url": server.url("/")},
        {"text": "News", "url": server.url("/news")},
        {"text": "moon", "url": server.url("/moon")},
        {"text": "the ocean primer", "url": "https://example.org/ocean?x=1"},
    ]
    assert text == TextMessage(
        text="TITLE: How tides work\nAUTHORS: Ada Shore\nPUBLISH DATE: 2024-05-01T08:00:00Z\n"
        f"TOP_IMAGE_URL: {server.url('/img/tides.png')}\nTEXT:\n\n{page['text']}"
    )


async def test_without_an_article_the_paragraphs_decide_the_main_text(server: _Server) -> None:
    _, details = await scrape(server.serve("/notes", PARAGRAPHS_ONLY))
    page = details.json_object
    assert page["title"] == "Notes"
    assert page["text"].startswith("The main text of the notes page")
    assert page["text"].endswith("Second paragraph of the notes.")
    assert "Menu" not in page["text"] and "Unrelated" not in page["text"]


async def test_the_declared_or_meta_charset_decodes_the_page(server: _Server) -> None:
    latin = server.serve("/latin", LATIN.encode("latin-1"), "text/html; charset=ISO-8859-1")
    meta = server.serve("/meta", META_CHARSET.encode("latin-1"), "text/html")
    (_, first), (_, second) = await scrape(latin), await scrape(meta)
    assert (first.json_object["title"], first.json_object["text"]) == ("Café", "Crème brûlée")
    assert (second.json_object["title"], second.json_object["text"]) == ("Naïve", "été")


async def test_text_and_json_are_taken_as_they_are_and_other_types_refused(server: _Server) -> None:
    _, plain = await scrape(server.serve("/notes.txt", "line one\nline two\n", "text/plain"))
    assert plain.json_object["text"] == "line one\nline two"
    _, data = await scrape(server.serve("/data.json", '{"a": [1, 2]}', "application/json"))
    assert data.json_object["text"] == '{"a": [1, 2]}'
    _, feed = await scrape(server.serve("/feed", '<?xml version="1.0"?><rss><item>x</item></rss>', "text/html"))
    assert feed.json_object["text"].startswith("<?xml")
    url = server.serve("/report.pdf", b"%PDF-1.7 ...", "application/pdf")
    with pytest.raises(PluginFailed, match=r"it is application/pdf, and the web scraper reads web pages and text"):
        await scrape(url)


async def test_redirects_are_followed_and_the_final_address_kept(server: _Server) -> None:
    target = server.serve("/moved", ARTICLE)
    _, details = await scrape(server.url(f"/redirect?to={target}"))
    assert details.json_object["final_url"] == target
    assert details.json_object["title"] == "How tides work"


# -- failures ------------------------------------------------------------------------------------


async def test_an_error_status_is_a_failure_saying_so(server: _Server) -> None:
    with pytest.raises(PluginFailed, match=r"could not fetch .*/missing: the server answered 404 Not Found") as caught:
        await scrape(server.url("/missing"))
    assert caught.value.details["status_code"] == 404


async def test_pages_past_the_size_limit_are_refused(server: _Server) -> None:
    small = local_scraper(ScraperLimits(max_bytes=1000))
    with pytest.raises(PluginFailed, match=r"the page is 1\d{3} bytes, more than the 1000-byte limit"):
        await scrape(server.serve("/big", "<p>" + "x" * 1500 + "</p>"), small)
    bomb = gzip.compress(b"<p>" + b"0" * 200_000 + b"</p>")
    assert len(bomb) < 1000
    url = server.serve("/bomb", bomb, "text/html", **{"Content-Encoding": "gzip"})
    with pytest.raises(PluginFailed, match="the page is larger than the 1000-byte limit"):
        await scrape(url, small)


async def test_a_slow_page_times_out(server: _Server) -> None:
    quick = local_scraper(ScraperLimits(timeout=0.3))
    with pytest.raises(PluginFailed, match=r"no complete answer within 0\.3 s"):
        await scrape(server.url("/slow?delay=2"), quick)


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("http://10.1.2.3/admin", "refused: 10.1.2.3 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is a cloud metadata address"),
        ("http://metadata.google.internal/", "refused: metadata.google.internal is a cloud metadata host name"),
        ("file:///etc/passwd", "is not an http or https URL"),
    ],
)
async def test_private_destinations_are_refused_before_any_connection(url: str, refusal: str) -> None:
    """Security: the guard refuses these without resolving or connecting (only 127.0.0.1 is allowed)."""
    with pytest.raises(PluginPermissionDenied, match=refusal) as caught:
        await scrape(url)
    assert caught.value.details["parameter"] == "url"


async def test_a_redirect_to_a_private_address_is_refused(server: _Server) -> None:
    with pytest.raises(PluginPermissionDenied, match=r"refused: 10\.0\.0\.7 is a private address \(redirect from"):
        await scrape(server.url("/redirect?to=http://10.0.0.7/"))


async def test_the_registered_plugin_follows_the_operators_allow_list(
    server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without TREADLE_SSRF_ALLOW the local server (loopback) is refused; allow-listed, it is read."""
    url = server.serve("/allowed", ARTICLE)
    monkeypatch.setenv("TREADLE_SSRF_ALLOW", "")
    with pytest.raises(PluginPermissionDenied, match=r"parameter 'url': refused: 127\.0\.0\.1 is a loopback address"):
        await scrape(url, treadle_webscraper)
    monkeypatch.setenv("TREADLE_SSRF_ALLOW", "127.0.0.1")
    _, details = await scrape(url, treadle_webscraper)
    assert details.json_object["title"] == "How tides work"


def test_urls_without_a_scheme_get_https() -> None:
    assert normalise_url("  example.com/page ") == "https://example.com/page"
    assert normalise_url("//example.com") == "https://example.com"
    assert normalise_url("http://example.com") == "http://example.com"
    with pytest.raises(PluginInvalidArgument, match="parameter 'url' is required"):
        normalise_url("  ")


# -- generate_summary ----------------------------------------------------------------------------


def summarising_kernel(default: dict[str, str] | None, seen: list[dict[str, Any]]) -> MemoryKernel:
    """A kernel whose default LLM answers 'Summary N.' for the Nth call, recording each prompt."""
    import asyncio

    def default_model(payload: dict[str, Any]) -> list[Any]:
        assert payload == {"model_type": "llm"}
        return [default]

    def invoke_model(payload: dict[str, Any]) -> list[Any]:
        seen.append(payload)
        return [{"model": payload["model"], "delta": {"index": 0, "message": {"content": f"Summary {len(seen)}."}}}]

    handlers = {"default_model": default_model, "invoke_model": invoke_model}
    return MemoryKernel(asyncio.get_running_loop(), handlers)


async def test_generate_summary_asks_the_workspaces_default_model(server: _Server) -> None:
    """The text output is the summary alone (Dify's generate_summary); the json keeps the page too."""
    seen: list[dict[str, Any]] = []
    kernel = summarising_kernel({"provider": "openai", "model": "gpt-4o-mini"}, seen)
    text, details = await scrape(server.serve("/sum", ARTICLE), kernel=kernel, generate_summary=True)
    assert text == TextMessage(text="Summary 1.")
    assert details.json_object["summary"] == "Summary 1."
    [call] = seen
    assert (call["provider"], call["model"], call["model_type"]) == ("openai", "gpt-4o-mini", "llm")
    system, user = call["prompt_messages"]
    assert system["role"] == "system" and "summarise web pages" in system["content"]
    assert user["content"] == details.json_object["text"]


async def test_generate_summary_without_a_default_model_says_so(server: _Server) -> None:
    kernel = summarising_kernel(None, [])
    with pytest.raises(PluginFailed, match="generate_summary needs the workspace's default LLM model, and none is set"):
        await scrape(server.serve("/nosum", ARTICLE), kernel=kernel, generate_summary=True)


def test_long_texts_are_summarised_in_pieces_cut_between_paragraphs() -> None:
    paragraphs = [f"{i} " + "w" * 3000 for i in range(5)]
    pieces = chunks("\n\n".join(paragraphs))
    assert [len(p) for p in pieces] == [len(paragraphs[0]) * 2 + 2, len(paragraphs[0]) * 2 + 2, len(paragraphs[4])]
    assert "\n\n".join(pieces) == "\n\n".join(paragraphs)
    huge = chunks("x" * (CHUNK_CHARACTERS * 2 + 5))
    assert [len(p) for p in huge] == [CHUNK_CHARACTERS, CHUNK_CHARACTERS, 5]


# -- out of process ------------------------------------------------------------------------------


@pytest.fixture
def home() -> Iterator[Path]:
    """A data directory short enough for the host's socket path."""
    path = Path(tempfile.mkdtemp(prefix="trw-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_the_tool_runs_in_a_plugin_host_process(
    server: _Server, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PLUG-TYPE-TOOL: an async tool, out of process; the host inherits the operator's allow-list."""
    monkeypatch.setenv("TREADLE_SSRF_ALLOW", "127.0.0.1")
    url = server.serve("/hosted", ARTICLE)
    settings = Settings.load(home=home, plugins={"load": ["webscraper"]})
    async with PluginSupervisor(settings) as supervisor:
        payload = {"tool": "webscraper", "parameters": {"url": url}}
        text, details = await supervisor.call("tool_provider", "webscraper", "invoke_tool", payload)
    assert text.text.startswith("TITLE: How tides work\nAUTHORS: Ada Shore\n")
    assert isinstance(details, JsonMessage) and details.json_object["final_url"] == url

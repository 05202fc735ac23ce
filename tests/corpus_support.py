"""One run of our fetch -> parse -> normalize path over every file under ``../shared/data/feeds``.

The run is shared (cached per data directory) by the corpus tests: the robustness test
asserts on its per-file time and memory, the golden tests compare its articles with
the expected output of feedparser, feed-rs and rss-parser, and tests/ingest/test_corpus_identity.py
holds the identity of its articles to the committed digests. parse_feed runs as in production.

Which files go through :func:`monitor.ingest.fetch_feed` over a real loopback HTTP
server, and why not all of them: fetching costs about 1.2-2 ms per file, mostly in
httpx (all 4,400 files would add 5-9 s to a 3-4 s run). For an identity-encoded 200 response
``fetch_feed`` hands the parser the body byte for byte (checked for every fetched
file) plus the headers it kept, with Content-Location set to the document URL; caps,
compression and deadlines are the business of tests/ingest/test_fetch.py. So the files whose
result can depend on what fetching adds are fetched: every file feedparser's own suite
serves over HTTP (names starting with ``http``, and every file with ``Header:`` lines:
charsets, Content-Location, Content-Type, relative links against the document URL),
every feed of the golden corpora (feed-rs, rss-parser-js, JSON Feed examples), and a
deterministic 1-in-20 sample of the rest. Every other file is parsed from its bytes,
with no headers, exactly as feedparser's own suite reads the non-HTTP cases.
"""

from __future__ import annotations

import asyncio
import functools
import re
import sys
import threading
import time
import traceback
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote, unquote

from monitor.ingest import fetch_feed, parse_feed
from monitor.ingest.fetch import build_http_client
from monitor.model import FeedValidators, FetchStatus, ParseOutcome
from monitor.settings import Settings

#: When every corpus body counts as fetched (publication dates after it are dropped as broken).
FETCHED_AT = datetime(2026, 1, 15, 12, 0, tzinfo=UTC).timestamp()
#: Files under feeds/ that are notes about the corpus, not test input.
NOT_INPUT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
#: Golden corpora: every feed in them goes through fetch_feed.
FETCHED_PREFIXES = ("feed-rs/", "rss-parser-js/input/", "jsonfeed-spec/", "feedjira/")
SAMPLE_STRIDE = 20

# feedparser's suite serves a test file with the headers named in its leading comment.
_HEADER_LINE = re.compile(rb"^Header:\s*([A-Za-z0-9-]+):[ \t]*(.*?)\s*$", re.MULTILINE)
_STATUS_FILE = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass(frozen=True)
class CorpusFile:
    """One input file of the corpus."""

    #: Path relative to feeds/, with forward slashes (``feed-rs/atom/atom_spec_1.xml``).
    rel: str
    #: The file's bytes.
    body: bytes
    #: HTTP response headers the file asks to be served with (feedparser ``Header:`` lines).
    headers: dict[str, str]


@dataclass(frozen=True)
class FileRun:
    """What our path made of one corpus file, and what it cost."""

    file: CorpusFile
    #: The parse outcome (from the fetched body and headers when ``url`` is set).
    outcome: ParseOutcome
    #: The loopback URL the file was fetched from, or "" when it was parsed from its bytes.
    url: str
    #: The headers parse_feed was given (from the fetch, or the file's ``Header:`` lines).
    headers: dict[str, str]
    #: Wall-clock seconds parse_feed took.
    seconds: float
    #: Peak memory growth during parse_feed in bytes, or None when it was not measured.
    peak_bytes: int | None
    #: The exception parse_feed raised (it must never raise), as text, or "".
    crash: str = ""


@dataclass(frozen=True)
class CorpusRun:
    """The whole corpus run."""

    runs: dict[str, FileRun]
    #: Origin (``http://127.0.0.1:port``) the fetched files were served from.
    origin: str
    #: How memory was measured: "rss" (peak RSS, every file) or "tracemalloc" (sampled files).
    memory_method: str
    #: Wall-clock seconds of the whole run (fetching included).
    seconds: float


def corpus_files(feeds: Path) -> list[CorpusFile]:
    """Every input file under ``feeds``, sorted by path."""
    files = []
    for path in sorted(feeds.rglob("*")):
        if not path.is_file() or path.suffix.lower() in NOT_INPUT_SUFFIXES:
            continue
        if path.name.startswith("LICENSE"):
            continue
        body = path.read_bytes()
        files.append(CorpusFile(path.relative_to(feeds).as_posix(), body, header_lines(body)))
    return files


def header_lines(body: bytes) -> dict[str, str]:
    """The ``Header: Name: value`` lines of a feedparser test file's leading comment."""
    head = body[:2048]
    if b"Header:" not in head:
        return {}
    return {
        m.group(1).decode("ascii"): m.group(2).decode("latin-1")
        for m in _HEADER_LINE.finditer(head)
    }


def is_fetched(index: int, file: CorpusFile) -> bool:
    """Whether the corpus run fetches this file over HTTP (see the module docstring)."""
    if file.headers or file.rel.rsplit("/", 1)[-1].startswith("http"):
        return True  # feedparser's suite serves these over HTTP too (base URI, charset cases)
    return file.rel.startswith(FETCHED_PREFIXES) or index % SAMPLE_STRIDE == 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    files: ClassVar[dict[str, CorpusFile]] = {}

    def do_GET(self) -> None:
        file = self.files.get(unquote(self.path.lstrip("/")))
        if file is None:
            self.wfile.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return
        head = [b"HTTP/1.1 200 OK", b"Content-Length: %d" % len(file.body)]
        head += [f"{k}: {v}".encode("latin-1") for k, v in file.headers.items()]
        # One write: headers and body in separate segments meet Nagle and delayed ACKs.
        self.wfile.write(b"\r\n".join(head) + b"\r\n\r\n" + file.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def corpus_server(files: list[CorpusFile]) -> Iterator[str]:
    """Serve ``files`` at ``/<rel>`` on a loopback port; yields the origin."""
    handler = type("Handler", (_Handler,), {"files": {f.rel: f for f in files}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def url_for(origin: str, rel: str) -> str:
    return f"{origin}/{quote(rel)}"


Fetched = dict[str, tuple[bytes, dict[str, str]]]


async def _fetch_all(origin: str, files: list[CorpusFile]) -> Fetched:
    fetched: Fetched = {}
    async with build_http_client(Settings(_env_file=None)) as client:
        for file in files:
            outcome = await fetch_feed(
                client,
                file.rel,
                url_for(origin, file.rel),
                FeedValidators(),
                total_timeout=10,
                max_bytes=10 * 1024 * 1024,
            )
            assert outcome.status is FetchStatus.OK, (file.rel, outcome.error)
            assert outcome.body == file.body, file.rel  # fetch is byte-transparent
            fetched[file.rel] = (outcome.body, outcome.headers)
    return fetched


class PeakRss:
    """Peak resident memory of this process around a call (Linux: VmHWM, reset per call).

    It counts what C code allocates (expat, the JSON decoder) as well as Python objects,
    and costs ~30 us a call, where tracemalloc would make the corpus run six times slower.
    """

    @staticmethod
    def available() -> bool:
        try:
            _CLEAR_REFS.write_text("5")
            return PeakRss.read("VmHWM") > 0
        except OSError:
            return False

    @staticmethod
    def read(field: str) -> int:
        prefix = field.encode() + b":"
        with _STATUS_FILE.open("rb") as status:
            for line in status:
                if line.startswith(prefix):
                    return int(line.split()[1]) * 1024
        return 0

    def __enter__(self) -> PeakRss:
        _CLEAR_REFS.write_text("5")  # resets VmHWM to the current RSS
        self.before = self.read("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak = max(0, self.read("VmHWM") - self.before)


def _measure(
    file: CorpusFile, body: bytes, headers: dict[str, str], method: str, sampled: bool
) -> tuple[ParseOutcome, float, int | None]:
    if method == "rss":
        with PeakRss() as meter:
            started = time.perf_counter()
            outcome = parse_feed(file.rel, body, headers, fetched_at=FETCHED_AT)
            seconds = time.perf_counter() - started
        return outcome, seconds, meter.peak
    if sampled:
        tracemalloc.start()
        try:
            started = time.perf_counter()
            outcome = parse_feed(file.rel, body, headers, fetched_at=FETCHED_AT)
            seconds = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return outcome, seconds, peak
    started = time.perf_counter()
    outcome = parse_feed(file.rel, body, headers, fetched_at=FETCHED_AT)
    return outcome, time.perf_counter() - started, None


@functools.cache
def run_corpus(feeds: Path) -> CorpusRun:
    """Fetch (a sample), parse and normalize every corpus file, timing each and measuring memory."""
    started = time.perf_counter()
    files = corpus_files(feeds)
    to_fetch = [f for i, f in enumerate(files) if is_fetched(i, f)]
    with corpus_server(to_fetch) as origin:
        fetched = asyncio.run(_fetch_all(origin, to_fetch))
    method = "rss" if sys.platform == "linux" and PeakRss.available() else "tracemalloc"
    runs = {}
    for index, file in enumerate(files):
        body, headers = fetched.get(file.rel, (file.body, file.headers))
        sampled = file.rel in fetched or index % SAMPLE_STRIDE == 1
        url = url_for(origin, file.rel) if file.rel in fetched else ""
        try:
            outcome, seconds, peak = _measure(file, body, headers, method, sampled)
        except Exception as exc:  # recorded, so one test can list every file that crashes
            crash = "".join(traceback.format_exception_only(exc)).strip()
            runs[file.rel] = FileRun(file, ParseOutcome(file.rel), url, headers, 0, None, crash)
            continue
        runs[file.rel] = FileRun(file, outcome, url, headers, seconds, peak)
    return CorpusRun(runs, origin, method, time.perf_counter() - started)

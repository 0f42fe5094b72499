"""The built site, opened in a real headless browser (Debian's chromium): the diagrams render
and the capability matrix has a row per built-in model.

The site is the one ``scripts/check`` built (``IMAGEBRIDGE_DOCS_SITE``), else one built here.
It is served on 127.0.0.1 with a small probe script put first in every page's ``<head>``: it
opens the shadow roots mkdocs-material draws diagrams into (closed ones cannot be read) and,
once no diagram is left to draw, writes what it found on ``<body data-probe=...>``, which
``chromium --dump-dom`` prints. Screenshots of the matrix page and the architecture page (two
diagrams) go to ``_screenshots/`` in the site; their paths are printed.

Without chromium these tests skip; with ``IMAGEBRIDGE_REQUIRE_CHROMIUM=1`` (``.ci/run``, which
installs it with ``scripts/ensure-chromium``) they fail instead.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .test_diagrams import mermaid_blocks

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

#: Opens every shadow root, then reports the diagrams once none is left to draw (or at the end).
PROBE = """<script>
(() => {
  const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    return attach.call(this, Object.assign({}, init, { mode: "open" }));
  };
  const report = (final) => {
    const hosts = [...document.querySelectorAll("div.mermaid")].filter((e) => e.shadowRoot);
    const svgs = hosts.map((e) => e.shadowRoot.querySelector("svg")).filter(Boolean);
    const pending = document.querySelectorAll("pre.mermaid").length;
    if (!final && pending) return false;
    const errors = [...document.querySelectorAll("svg")].concat(svgs)
      .filter((s) => /Syntax error|Parse error|error in text/i.test(s.textContent))
      .map((s) => s.textContent.slice(0, 200));
    document.body.setAttribute("data-probe", JSON.stringify({
      pending, svgs: svgs.length,
      labels: svgs.map((s) => s.textContent.replace(/\\s+/g, " ").slice(0, 2000)),
      errors,
      mermaid: typeof mermaid !== "undefined",
      resources: performance.getEntriesByType("resource").map((r) => r.name),
    }));
    return true;
  };
  addEventListener("load", () => {
    let tries = 0;
    const tick = () => { if (!report(++tries > 100)) setTimeout(tick, 100); };
    setTimeout(tick, 100);
  });
})();
</script>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("IMAGEBRIDGE_REQUIRE_CHROMIUM") == "1":
            pytest.fail("chromium is required (IMAGEBRIDGE_REQUIRE_CHROMIUM=1) but not installed")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = os.environ.get("IMAGEBRIDGE_DOCS_SITE")
    if built:
        return Path(built)
    folder = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    mkdocs = Path(sys.executable).with_name("mkdocs")
    command = [str(mkdocs), "build", "--strict", "--site-dir", str(folder)]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    return folder


class _Handler(SimpleHTTPRequestHandler):
    """The site's files, with the probe first in every page's head."""

    def send_head(self) -> Any:
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if path.suffix != ".html" or not path.is_file():
            return super().send_head()
        body = path.read_bytes().replace(b"<head>", b"<head>" + PROBE.encode(), 1)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        import io

        return io.BytesIO(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def origin(site: Path) -> Iterator[str]:
    handler = functools.partial(_Handler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _browse(chromium: str, tmp: Path, *args: str) -> str:
    command = [
        chromium,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp}",
        "--virtual-time-budget=15000",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _probe(dom: str) -> dict[str, Any]:
    class Body(HTMLParser):
        found: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "body":
                self.found = dict(attrs).get("data-probe")

    parser = Body()
    parser.feed(dom)
    assert parser.found, "the probe never reported: the page did not finish loading"
    result: dict[str, Any] = json.loads(parser.found)
    return result


def _screenshot(chromium: str, tmp: Path, site: Path, url: str, name: str, size: str) -> Path:
    target = site / "_screenshots" / name
    target.parent.mkdir(exist_ok=True)
    _browse(chromium, tmp, f"--screenshot={target}", f"--window-size={size}", url)
    assert target.stat().st_size > 10_000, "an empty screenshot"
    print(f"screenshot: {target}")
    return target


def _only_local(probe: dict[str, Any], origin: str) -> None:
    foreign = [url for url in probe["resources"] if not url.startswith(origin)]
    assert not foreign, f"the page loaded from elsewhere: {foreign}"


@pytest.mark.parametrize(
    ("page", "source"),
    [
        ("concepts/architecture/", "docs/concepts/architecture.md"),
        ("concepts/reliability/", "docs/concepts/reliability.md"),
    ],
)
def test_the_diagrams_render(
    chromium: str, origin: str, site: Path, tmp_path: Path, page: str, source: str
) -> None:
    expected = len(mermaid_blocks((ROOT / source).read_text(encoding="utf-8")))
    assert expected
    probe = _probe(_browse(chromium, tmp_path, "--dump-dom", f"{origin}/{page}"))
    assert probe["mermaid"], "mermaid.js is not loaded (the vendored copy is missing)"
    assert probe["errors"] == []
    assert probe["pending"] == 0, "a diagram was left as text (mermaid failed on it)"
    assert probe["svgs"] == expected
    _only_local(probe, origin)
    if page.startswith("concepts/architecture"):
        _screenshot(chromium, tmp_path, site, f"{origin}/{page}", "architecture.png", "1280,2600")


class _Table(HTMLParser):
    """The rows of the first table in the page, as cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.tables = 0
        self.in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables += 1
        elif tag == "tbody" and self.tables == 1:
            self.in_body = True
        elif self.in_body and tag == "tr":
            self.rows.append([])
        elif self.in_body and tag == "td":
            self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self.in_body = False

    def handle_data(self, data: str) -> None:
        if self.in_body and self.rows and self.rows[-1]:
            self.rows[-1][-1] += data


def test_the_matrix_has_a_row_per_builtin_model(
    chromium: str, origin: str, site: Path, tmp_path: Path
) -> None:
    from imagebridge import default_registry

    from .test_matrix import builtin

    dom = _browse(chromium, tmp_path, "--dump-dom", f"{origin}/providers/matrix/")
    _only_local(_probe(dom), origin)
    table = _Table()
    table.feed(dom)
    shown = [" ".join(row[0].split()) for row in table.rows]
    registry = default_registry()
    expected = [f"{name} {model}" for name in builtin() for model in registry.adapters[name].models]
    assert shown == expected
    assert len({row[0] for row in table.rows}) == len(expected)
    _screenshot(chromium, tmp_path, site, f"{origin}/providers/matrix/", "matrix.png", "1600,1400")

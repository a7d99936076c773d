"""The browser client keeps one websocket module and one module of DOM helpers and charts.

The client class once existed twice (protocol.js and connection.js) and ``el``/``fmt``/the
histogram twice (neuron.js and game.js); this fails when a page grows its own copy again.
"""

from __future__ import annotations

import re
from pathlib import Path

JS = Path(__file__).resolve().parents[2] / "client" / "js"
PAGES = ("app.js", "host.js", "overlay.js", "neuron.js")


def _sources() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(JS.glob("*.js"))}


def test_one_websocket_client() -> None:
    opening = [name for name, src in _sources().items() if "new WebSocket(" in src]
    assert opening == ["connection.js"]
    classes = [name for name, src in _sources().items() if re.search(r"class \w*Connection\b", src)]
    assert classes == ["connection.js"]


def test_one_module_of_dom_helpers_and_charts() -> None:
    for helper in ("el", "fmt", "drawHistogram", "renderHistogram"):
        defined = [n for n, src in _sources().items() if re.search(rf"function {helper}\(", src)]
        assert defined in ([], ["dom.js"]), (helper, defined)
    assert re.search(r"function drawHistogram\(", _sources()["dom.js"])


def test_every_page_uses_the_shared_modules() -> None:
    sources = _sources()
    for page in PAGES:
        assert 'from "./dom.js"' in sources[page], page
    for page in ("app.js", "host.js", "overlay.js"):
        assert 'from "./connection.js"' in sources[page], page


def test_one_module_reads_the_public_api_for_the_reference_pages() -> None:
    """neurons.js (the index pages) once repeated neuron.js's getJSON, showError and the search
    that falls back to words; both now import them from reference.js."""
    sources = _sources()
    for helper in ("getJSON", "showError", "searchWithFallback"):
        defined = [n for n, src in sources.items() if re.search(rf"function {helper}\(", src)]
        assert defined == ["reference.js"], (helper, defined)
    for page in ("neuron.js", "neurons.js"):
        assert 'from "./reference.js"' in sources[page], page
        assert "fetch(" not in sources[page], page

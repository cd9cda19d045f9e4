"""The paper-table HTML page of each paper in headless Chromium: a screenshot shows the table and the radar, and
the page asks the network for nothing (checked in the HTML and in Chromium's own net log)."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from qa_eval.paper import PAPERS, write_paper_table
from qa_eval.paper.figure import PAPER_COLOUR
from qa_eval.paper.page import HEADER_BG, MEASURED_BG
from qa_eval.radar import PALETTE

CHROMIUM = next((p for n in ("chromium", "chromium-browser") if (p := shutil.which(n))), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless-browser check needs Chromium (Debian/Ubuntu: apt-get install chromium)")
WINDOW = "--window-size=1400,1800"


def chromium(page: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={tmp / 'profile'}",
           *extra, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def page_requests(page: Path, tmp: Path) -> list[str]:
    """URLs the page itself asked for: Chromium's net log, requests in the file:// page's network
    partition (the browser's own background traffic has other partitions). DNS is mapped to
    nowhere, so nothing leaves the machine."""
    log = tmp / "netlog.json"
    run = chromium(page, tmp, f"--log-net-log={log}", "--host-resolver-rules=MAP * ~NOTFOUND", "--dump-dom")
    assert log.is_file(), run.stderr[-3000:]
    text = log.read_text(encoding="utf-8")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:  # a log cut short at exit lacks its closing brackets
        doc = json.loads(text.rstrip().rstrip(",") + "]}")
    start = doc["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [e["params"]["url"] for e in doc["events"]
            if e["type"] == start and str(e["params"].get("network_isolation_key", "")).startswith("file://")]


class References(HTMLParser):
    """Every URL-bearing attribute and every tag that could load something."""

    LOADING_TAGS = {"script", "link", "iframe", "frame", "object", "embed", "base", "video", "audio", "source"}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []
        self.csp: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in self.LOADING_TAGS:
            self.tags.append(tag)
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp = a.get("content")
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "srcset", "action", "poster", "data")]


@pytest.fixture(scope="module", params=sorted(PAPERS))
def page(request, two_model_results, tmp_path_factory) -> Path:
    """The page of each paper's table (both have measured columns from `two_model_results`)."""
    out = tmp_path_factory.mktemp("html")
    write_paper_table(two_model_results, out, request.param)
    return out / "paper_table.html"


def test_the_html_references_nothing_outside_itself(page):
    text = page.read_text(encoding="utf-8")
    refs = References()
    refs.feed(text)
    assert refs.tags == []
    assert refs.urls and all(u.startswith("data:") for u in refs.urls), refs.urls
    assert refs.csp is not None and "default-src 'none'" in refs.csp
    assert "url(" not in text and "@import" not in text


def test_chromium_sees_no_request_from_the_page(page, tmp_path):
    control = tmp_path / "control.html"  # proves the check can fail on this Chromium
    control.write_text('<!DOCTYPE html><img src="http://example.invalid/x.png">', encoding="utf-8")
    assert page_requests(control, tmp_path / "c") == ["http://example.invalid/x.png"]
    assert page_requests(page, tmp_path / "p") == []


def test_screenshot_has_the_table_and_the_radar(page, tmp_path):
    shot = tmp_path / "shot.png"
    run = chromium(page, tmp_path, f"--screenshot={shot}", WINDOW)
    assert shot.is_file(), run.stderr[-3000:]
    rgb = imread(shot)[..., :3]

    def rows_of(colour: str) -> np.ndarray:
        """Pixel rows holding the colour (within 4/255 per channel)."""
        hit = np.abs(rgb - np.array(to_rgb(colour))).max(axis=2) <= 4 / 255
        return np.nonzero(hit.sum(axis=1) >= 3)[0]

    assert (rgb.min(axis=2) < 0.9).mean() > 0.05  # not blank
    header, measured = rows_of(HEADER_BG), rows_of(MEASURED_BG)
    paper_series, alpha = rows_of(PAPER_COLOUR), rows_of(PALETTE[0])
    assert len(header) > 50 and len(measured) > 300  # the table: its header and measured columns
    assert len(paper_series) > 100 and np.ptp(paper_series) > 300  # the radar: the paper's polygon
    assert len(alpha) > 3  # and alpha's points
    assert paper_series.min() > measured.max()  # the radar is drawn below the table

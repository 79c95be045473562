"""Every page of the built book, opened over file:// in Chromium with the network cut off.

For each page in the table of contents: its math is rendered by the vendored MathJax (no raw TeX
left, no MathJax error), every image has loaded and has an alt text, every widget the notebook
displays is rendered from the saved widget state, nothing scrolls sideways in a 1280 px wide
window (no code block, output, equation or table wider than its column, also with every fold
opened), the "next" link leads to the next page, and no request left file://.
Run after `make book` (`make test-browser`); the pages come from `_build/html`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

import booktoc

HTML = booktoc.ROOT / "_build" / "html"
ENTRIES = booktoc.entries()
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
REMOVED = {"remove-cell", "remove-output", "remove_cell", "remove_output"}
RAW_TEX = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\$\\[A-Za-z]")
OFFLINE_SCHEMES = ("file:", "data:", "blob:", "about:")
TIMEOUT_MS = 60_000  # generous: CI shares 2 cores
VIEWPORT = {"width": 1280, "height": 900}


def html_of(entry: str) -> Path:
    return HTML / (re.sub(r"\.(ipynb|md)$", "", entry) + ".html")


def expected_outputs(entry: str) -> tuple[int, int]:
    """(images, widget views) the notebook's stored outputs show; (0, 0) for a Markdown page."""
    path = booktoc.resolve(entry)
    if path is None or path.suffix != ".ipynb":
        return 0, 0
    nb = nbformat.read(path, as_version=4)
    images = widgets = 0
    for cell in nb.cells:
        if cell.cell_type != "code" or REMOVED & set(cell.metadata.get("tags", [])):
            continue
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data:
                widgets += 1
            elif any(m in data for m in IMAGE_MIMES):
                images += 1
    return images, widgets


@pytest.fixture(scope="module")
def offline_context(browser):
    """A browser context in which every http(s)/ws request is aborted (and still recorded)."""
    if not (HTML / "index.html").is_file():
        pytest.fail("no _build/html/index.html: run `make book` first")
    context = browser.new_context(viewport=VIEWPORT)
    context.route(re.compile(r"^(https?|wss?)://"), lambda route: route.abort())
    yield context
    context.close()


def open_page(context, url: str):
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    log = {"requests": [], "failed": []}
    page.on("request", lambda r: log["requests"].append(r.url))
    page.on("requestfailed", lambda r: log["failed"].append(f"{r.url} ({r.failure})"))
    page.goto(url, wait_until="load")
    return page, log


def assert_offline(log) -> None:
    online = [u for u in log["requests"] if not u.startswith(OFFLINE_SCHEMES)]
    assert not online, f"requests left file://: {online}"
    assert not log["failed"], f"requests failed (missing local files?): {log['failed']}"


def check_math(page) -> None:
    result = page.evaluate("""async () => {
        const math = Array.from(document.querySelectorAll('.math'));
        if (math.length) {
            if (!(window.MathJax && MathJax.startup)) {
                return {error: 'page has math but MathJax did not load'};
            }
            await MathJax.startup.promise;
        }
        const unrendered = math.filter(e => !e.querySelector('mjx-container'))
            .map(e => e.textContent.slice(0, 80));
        const errors = Array.from(document.querySelectorAll('mjx-merror'))
            .map(e => e.textContent.slice(0, 80));
        const body = document.querySelector('main') || document.body;
        const copy = body.cloneNode(true);
        copy.querySelectorAll('pre, code, script, style, mjx-container, textarea')
            .forEach(e => e.remove());
        return {n: math.length, unrendered, errors, text: copy.textContent};
    }""")
    assert "error" not in result, result.get("error")
    assert not result["unrendered"], f"math not rendered by MathJax: {result['unrendered'][:5]}"
    assert not result["errors"], f"MathJax errors: {result['errors'][:5]}"
    raw = [m.group(0) for m in RAW_TEX.finditer(result["text"])]
    assert not raw, f"raw TeX left in the page text: {raw[:5]}"


def check_images(page, expected: int) -> None:
    """Every image in the article (figures, not the theme's menus) loaded with a real size."""
    images = page.evaluate("""async () => {
        const imgs = Array.from(document.querySelectorAll('article img'));
        await Promise.all(imgs.map(img => {
            img.loading = 'eager';
            return img.decode().catch(() => null);
        }));
        return imgs.map(img => [img.naturalWidth, img.naturalHeight, img.getAttribute('src')]);
    }""")
    assert len(images) >= expected, (
        f"the notebook stores {expected} figure(s) but the page shows {len(images)} <img>")
    broken = [src for w, h, src in images if not (w > 0 and h > 0)]
    assert not broken, f"images did not load: {broken}"


def check_alt_text(page) -> None:
    """Every image in the article has an alt text of its own (not its file name, which is what
    Sphinx writes when a notebook figure has none: see CONTRIBUTING.md, "Figures")."""
    images = page.evaluate("""() => Array.from(document.querySelectorAll('article img'))
      .map(img => {
        const cell = img.closest('.cell');
        const code = cell ? (cell.querySelector('.cell_input pre') || {}).textContent || '' : '';
        return {alt: (img.getAttribute('alt') || '').trim(), src: img.getAttribute('src') || '',
                code: code.trim().split('\\n').slice(-3).join(' / ').slice(0, 120)};
    })""")
    bad = []
    for img in images:
        alt, src = img["alt"], img["src"]
        name = src.rsplit("/", 1)[-1]
        file_like = re.fullmatch(r"\S+\.(png|jpe?g|gif|svg|webp)", alt, re.I)
        if not alt or alt in (src, name) or file_like:
            bad.append(f"{name} (alt {alt!r}; cell ending: {img['code']!r})")
    assert not bad, (f"{len(bad)} figure(s) without alt text (set the cell's metadata "
                     f'"mystnb": {{"image": {{"alt": "..."}}}}, CONTRIBUTING.md): {bad}')


#: What may not be wider than its column: code blocks (cells, outputs, package source), display
#: math, tables. Each is measured after every fold of the page is opened.
WIDE = ("pre", 'mjx-container[display="true"]', "div.math", "div.pst-scrollable-table-container",
        "table", ".widget-subarea", "div.output")


def check_no_sideways_scroll(page) -> None:
    """Nothing scrolls sideways at the viewport's width: no element of ``WIDE`` is wider than the
    room it has (scrollWidth > clientWidth), and neither is the page itself. Folded content
    (hidden code cells, solutions) is opened first: a reader who unfolds it must not scroll."""
    result = page.evaluate("""async ([selectors]) => {
        if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
        document.querySelectorAll('details').forEach(d => { d.open = true; });
        document.querySelectorAll('.toggle-hidden')
            .forEach(e => e.classList.remove('toggle-hidden'));
        await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
        const art = document.querySelector('article') || document.body;
        const over = Array.from(art.querySelectorAll(selectors.join(',')))
            .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1);
        // report the innermost: a wide <pre> also widens the output around it
        const wide = over.filter(e => !over.some(o => o !== e && e.contains(o))).map(e => {
            const text = e.textContent.replace(/\\s+/g, ' ').trim().slice(0, 70);
            return `${e.tagName.toLowerCase()} ${e.scrollWidth} px in ${e.clientWidth} px: ${text}`;
        });
        const doc = document.documentElement;
        return {wide, doc: [doc.scrollWidth, doc.clientWidth]};
    }""", [list(WIDE)])
    width = VIEWPORT["width"]
    assert not result["wide"], (
        f"{len(result['wide'])} element(s) scroll sideways at {width} px (code lines at most 88 "
        f"characters, package lines 100, long equations broken): {result['wide'][:8]}")
    doc_scroll, doc_client = result["doc"]
    assert doc_scroll <= doc_client + 1, (
        f"the page scrolls sideways at {width} px: {doc_scroll} > {doc_client}")


def check_widgets(page, expected: int) -> None:
    views = page.locator(f'script[type="{WIDGET_VIEW}"]')
    assert views.count() == expected, (
        f"the notebook displays {expected} widget(s) but the page has {views.count()} widget views "
        "(saved widget state missing? run `make execute NB=...`)")
    if not expected:
        return
    try:
        page.wait_for_function(
            "n => document.querySelectorAll('.widget-subarea .jupyter-widgets').length >= n",
            arg=expected)
    except PlaywrightTimeout:
        pytest.fail(f"{expected} widget(s) expected, not rendered from the saved state "
                    f"within {TIMEOUT_MS} ms")
    boxes = page.evaluate("""() => Array.from(document.querySelectorAll('.widget-subarea'))
      .map(e => {
        const r = e.getBoundingClientRect();
        return [r.width, r.height, e.innerText.slice(0, 60)];
    })""")
    assert len(boxes) == expected
    assert all(w > 0 and h > 0 for w, h, _ in boxes), f"a widget rendered empty: {boxes}"


@pytest.mark.parametrize("index", range(len(ENTRIES)), ids=ENTRIES)
def test_page_renders_offline(offline_context, index):
    entry = ENTRIES[index]
    path = html_of(entry)
    assert path.is_file(), f"{path.relative_to(booktoc.ROOT)} was not built"
    page, log = open_page(offline_context, path.as_uri())
    try:
        images, widgets = expected_outputs(entry)
        check_math(page)
        check_images(page, images)
        check_alt_text(page)
        check_widgets(page, widgets)
        page.wait_for_timeout(500)  # let late requests (fonts, lazy assets) show up before checking
        assert_offline(log)

        # Navigation: "next" leads to the next page of the toc; the last page has none.
        nxt = page.locator("a.right-next")
        if index + 1 < len(ENTRIES):
            assert nxt.count() == 1, "no 'next' link"
            nxt.click()
            page.wait_for_load_state("load")
            assert Path(page.url.removeprefix("file://")) == html_of(ENTRIES[index + 1]), page.url
        else:
            assert nxt.count() == 0, "the last page links to a next page"
        assert_offline(log)
    finally:
        page.close()


@pytest.mark.parametrize("index", range(len(ENTRIES)), ids=ENTRIES)
def test_page_fits_its_width(offline_context, index):
    """A separate test from the one above, so a page that is too wide still has its other checks
    reported, and vice versa."""
    path = html_of(ENTRIES[index])
    assert path.is_file(), f"{path.relative_to(booktoc.ROOT)} was not built"
    page, _ = open_page(offline_context, path.as_uri())
    try:
        check_no_sideways_scroll(page)
    finally:
        page.close()


def test_index_opens_the_book(offline_context):
    """`_build/html/index.html` (what the README tells offline readers to open) leads to the
    first page."""
    page, log = open_page(offline_context, (HTML / "index.html").as_uri())
    try:
        page.wait_for_url(re.compile(re.escape(html_of(ENTRIES[0]).name) + "$"))
        assert json.dumps(page.title())  # a titled page, not an error page
        assert page.locator("main h1").count() >= 1
        assert_offline(log)
    finally:
        page.close()

"""The built documentation: reference pages, links, math, and the pages in a real browser.

The site is built once per session (`built_site`, tests/browser.py). The first tests read
its HTML; the browser tests open it from disk (`file://`) in headless Chromium with no
network, take a screenshot of the home page and of every tutorial page, and check what a
reader sees: math typeset, images loaded and readable at 1280 px, code not cut off.
Screenshots go to $MICROGRADX_SCREENSHOTS when set (CI keeps them), else to a temporary
folder; the path is printed.
"""

from __future__ import annotations

import html
import os
import re
import struct
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TUTORIAL = ["index.md", *(f"tutorial/{p.name}" for p in sorted((DOCS / "tutorial").glob("*.md")))]
OTHER_PAGES = [
    str(p.relative_to(DOCS))
    for folder in ("howto", "explanation")
    for p in sorted((DOCS / folder).glob("*.md"))
]

# -- the API reference -------------------------------------------------------------------

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const|term|ref):`?")
# modules whose docstrings still use Sphinx roles or bare doctest blocks; they belong to the
# engine, which this change does not touch. Converting one to the docstring convention
# (Google style, `Examples:` sections, Markdown backticks) turns its entry into an XPASS,
# which fails: then delete the entry. The list is meant to become empty.
NOT_YET_CONVERTED: set[str] = set()


def reference_modules() -> list[tuple[str, str]]:
    """(reference page, module) for every `::: module` of docs/reference/."""
    found = []
    for page in sorted((DOCS / "reference").glob("*.md")):
        for module in re.findall(r"^::: ([\w.]+)", page.read_text("utf-8"), re.M):
            found.append((f"reference/{page.stem}.html", module))
    return found


def module_sections(page_html: str) -> dict[str, str]:
    """The HTML of each module documented on a reference page, by module name."""
    starts = [
        (m.start(), m.group(1))
        for m in re.finditer(r'class="doc doc-object doc-module">\s*<a id="([\w.]+)"', page_html)
    ]
    ends = [s for s, _ in starts[1:]] + [len(page_html)]
    return {name: page_html[s:e] for (s, name), e in zip(starts, ends, strict=True)}


def prose(section: str) -> str:
    """The text of an HTML section outside code blocks, tags removed, entities decoded."""
    without_code = re.sub(r"<pre\b.*?</pre>", " ", section, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", without_code))


def _reference_params() -> list[Any]:
    return [
        pytest.param(
            page,
            module,
            id=module,
            marks=[
                pytest.mark.xfail(
                    reason=f"{module}: docstrings not yet converted (core module)", strict=True
                )
            ]
            if module in NOT_YET_CONVERTED
            else [],
        )
        for page, module in reference_modules()
    ]


@pytest.mark.parametrize(("page", "module"), _reference_params())
def test_reference_shows_examples_as_code_and_no_raw_roles(
    built_site: Path, page: str, module: str
) -> None:
    sections = module_sections((built_site / page).read_text("utf-8"))
    assert module in sections, f"{module} is not documented on {page}"
    text = prose(sections[module])
    assert ">>>" not in text, f"{module}: a >>> example is rendered as text, not as code"
    roles = sorted(set(ROLE.findall(text)))
    assert not roles, f"{module}: raw Sphinx roles in the rendered page: {roles}"


def test_a_docstring_example_becomes_a_highlighted_code_block(built_site: Path) -> None:
    section = module_sections((built_site / "reference/tools.html").read_text("utf-8"))[
        "microgradx.descent"
    ]
    blocks = re.findall(r'<div class="highlight"><pre>.*?</pre>', section, re.S)
    example = next(b for b in blocks if "gradient_descent" in b)
    assert '<span class="gp">&gt;&gt;&gt; </span>' in example  # the prompt, as code
    assert "(0.0, 1.2, 1.92, 2.352)" in html.unescape(re.sub(r"<[^>]+>", "", example))
    assert "<blockquote>" not in section


def test_the_reference_list_covers_the_modules_converted_here() -> None:
    documented = {module for _, module in reference_modules()}
    mine = {f"microgradx.{m}" for m in ("nn", "losses", "data", "train", "viz", "plot")}
    mine |= {"microgradx.descent", "microgradx.examples"}
    assert mine <= documented and not mine & NOT_YET_CONVERTED
    assert documented >= NOT_YET_CONVERTED


# -- the site on disk --------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is not None and (name, tag) in {
                ("href", "a"), ("href", "link"), ("src", "img"), ("src", "script"),
            }:  # fmt: skip
                self.links.append((tag, value))


def links(page: Path) -> list[tuple[str, str]]:
    parser = _Links()
    parser.feed(page.read_text("utf-8"))
    return parser.links


def test_every_link_of_the_built_site_opens_a_file_from_disk(built_site: Path) -> None:
    # 404.html is served by a web server for any missing path, so its links are absolute
    pages = sorted(p for p in built_site.rglob("*.html") if p.name != "404.html")
    assert len(pages) > 20
    broken = []
    for page in pages:
        for tag, link in links(page):
            parts = urlsplit(link)
            if parts.scheme in ("http", "https"):
                if tag != "a":  # a script, style sheet or image from the network
                    broken.append(f"{page.relative_to(built_site)}: loads {link}")
                continue
            if parts.scheme or not parts.path:  # mailto:, data:, or #anchor on the page
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if not target.is_file():  # a folder would show its listing from file://
                broken.append(f"{page.relative_to(built_site)}: {link}")
    assert broken == []


def test_math_is_typeset_at_build_time(built_site: Path) -> None:
    raw = []
    for page in sorted(built_site.rglob("*.html")):
        text = page.read_text("utf-8")
        if 'class="arithmatex"' in text or "mathjax" in text.lower():
            raw.append(str(page.relative_to(built_site)))
    assert raw == []
    derivative = (built_site / "tutorial/derivative.html").read_text("utf-8")
    assert derivative.count("<math") >= 10
    chain = (built_site / "tutorial/chain-rule.html").read_text("utf-8")
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in chain
    assert "<mfrac>" in chain


def test_the_math_hook_refuses_what_it_cannot_typeset() -> None:
    import importlib.util

    if importlib.util.find_spec("latex2mathml") is None:
        pytest.skip("docs test did not run: latex2mathml is not installed")
    spec = importlib.util.spec_from_file_location("math_hook", DOCS / "hooks" / "math.py")
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    out = hook.typeset('<p><span class="arithmatex">\\(x^2 &lt; 1\\)</span></p>')
    assert out.startswith('<p><math xmlns="http://www.w3.org/1998/Math/MathML"')
    assert "<msup><mi>x</mi><mn>2</mn></msup><mo>&#x0003C;</mo>" in out
    with pytest.raises(ValueError, match=r"page.md: cannot typeset 'x\^'"):
        hook.typeset('<div class="arithmatex">\\[x^\\]</div>', "page.md")
    with pytest.raises(ValueError, match=r"unknown command \\nosuchcommand"):
        hook.typeset('<span class="arithmatex">\\(\\nosuchcommand x\\)</span>', "page.md")


# -- the pages in headless Chromium --------------------------------------------------------


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("MICROGRADX_SCREENSHOTS")
    out = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    out.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {out}")
    return out


def png_dpi(path: Path) -> float | None:
    """The resolution recorded in a PNG's pHYs chunk (matplotlib writes it), in dots/inch."""
    data = path.read_bytes()
    at = data.find(b"pHYs")
    if at < 0:
        return None
    per_x, _, unit = struct.unpack(">IIB", data[at + 4 : at + 13])
    return per_x * 0.0254 if unit == 1 else None


def svg_smallest_text(path: Path) -> tuple[float, float]:
    """(width of the drawing in pt, the smallest font size in pt) of a Graphviz SVG."""
    root = ET.parse(path).getroot()
    width = float(root.get("width", "0pt").removesuffix("pt"))
    sizes = [float(t.get("font-size", "14")) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    return width, min(sizes)


# the smallest text a figure may show, in CSS px: matplotlib's 8 pt notes and tick labels
# need at least 72 shown px per figure inch; Graphviz's 11 pt boxes at least 10 px
MIN_PX_PER_INCH = 72.0
MIN_SVG_TEXT_PX = 10.0

PAGE_STATE = """
const imgs = [...document.querySelectorAll('article img')].map(i => ({
  src: i.getAttribute('src'), complete: i.complete, natural: i.naturalWidth,
  shown: i.getBoundingClientRect().width}));
const maths = [...document.querySelectorAll('article math')].map(m => {
  const r = m.getBoundingClientRect(); return [r.width, r.height]; });
const codes = [...document.querySelectorAll('article pre > code')].map(c => {
  const pre = c.parentElement;
  const button = pre.parentElement.querySelector('button.md-clipboard')
    || pre.querySelector('button.md-clipboard');
  const range = document.createRange(); range.selectNodeContents(c);
  const rects = [...range.getClientRects()].filter(r => r.width > 0);
  let covered = false;
  if (button) { const b = button.getBoundingClientRect();
    covered = rects.some(r => r.right > b.left && r.left < b.right
                              && r.bottom > b.top && r.top < b.bottom); }
  return {first: c.innerText.split('\\n')[0], overflow: c.scrollWidth - c.clientWidth,
          covered: covered};
});
return {title: document.title, h1: (document.querySelector('article h1') || {}).innerText,
        text: document.querySelector('article').innerText, imgs, maths, codes,
        height: document.documentElement.scrollHeight};
"""


def open_page(browser: WebDriver, site: Path, page: str) -> dict[str, Any]:
    browser.set_window_size(1280, 900)
    browser.get((site / page).as_uri())
    browser.execute_script(  # wait until every image has loaded or failed
        "await Promise.all([...document.images].map(i => i.decode().catch(() => null)));"
    )
    state: dict[str, Any] = browser.execute_script(PAGE_STATE)
    return state


def html_name(md: str) -> str:
    return md.removesuffix(".md") + ".html"


# figures known to be too small to read as shown, with what must change (none today: keep
# the mechanism, so that a figure drawn elsewhere can be listed while it is being fixed)
KNOWN_UNREADABLE: dict[str, str] = {}


def readable(img: dict[str, Any], source: Path) -> str | None:
    """Why an image is too small to read as shown (None when it is readable)."""
    if img["shown"] >= img["natural"] - 1:
        return None  # shown at its own size or larger
    if source.suffix == ".png":
        dpi = png_dpi(source)
        if not dpi:
            return f"{source.name}: no resolution recorded"
        px_per_inch = img["shown"] / (img["natural"] / dpi)
        if px_per_inch < MIN_PX_PER_INCH:
            return (
                f"{img['src']} is shrunk to {img['shown']:.0f} px wide, "
                f"{px_per_inch:.0f} px per inch of figure: its small text is unreadable"
            )
    elif source.suffix == ".svg":
        width_pt, font_pt = svg_smallest_text(source)
        px = font_pt * img["shown"] / width_pt
        if px < MIN_SVG_TEXT_PX:
            return f"{img['src']} text is {px:.1f} px high"
    return None


def check_images_and_math(state: dict[str, Any], built_site: Path, page: str) -> None:
    """Every image loaded and is shown large enough to read; all math is typeset."""
    for img in state["imgs"]:  # every image loaded, and is shown large enough to read
        assert img["complete"] and img["natural"] > 0, f"{page}: {img['src']} did not load"
        source = (built_site / html_name(page)).parent / unquote(img["src"])
        if source.name not in KNOWN_UNREADABLE:
            problem = readable(img, source)
            assert problem is None, f"{page}: {problem}"

    # math typeset: laid out boxes, and no TeX left as text
    assert all(w > 0 and h > 0 for w, h in state["maths"]), f"{page}: an empty formula"
    for tex in ("\\frac", "\\partial", "\\hat", "$$", "\\("):
        assert tex not in state["text"], f"{page}: raw TeX {tex!r} shows"
    built = (built_site / html_name(page)).read_text("utf-8")
    assert len(state["maths"]) == built.count("<math "), f"{page}: a formula is missing"


@pytest.mark.parametrize("page", TUTORIAL, ids=TUTORIAL)
def test_page_in_the_browser(
    browser: WebDriver, built_site: Path, screenshots: Path, page: str
) -> None:
    state = open_page(browser, built_site, html_name(page))
    # a screenshot of the whole page, at the 1280 px width the checks below assume
    browser.set_window_size(1280, min(int(state["height"]), 8000))
    browser.save_screenshot(str(screenshots / (html_name(page).replace("/", "_") + ".png")))
    browser.set_window_size(1280, 900)
    assert state["h1"], f"{page}: no heading; the page did not load"

    check_images_and_math(state, built_site, page)

    for code in state["codes"]:  # no line runs out of its box or under the copy button
        assert code["overflow"] <= 0, f"{page}: code cut off at the right: {code['first']!r}"
        assert not code["covered"], f"{page}: the copy button covers {code['first']!r}"


@pytest.mark.parametrize("page", OTHER_PAGES, ids=OTHER_PAGES)
def test_other_pages_images_and_math_in_the_browser(
    browser: WebDriver, built_site: Path, page: str
) -> None:
    state = open_page(browser, built_site, html_name(page))
    assert state["h1"], f"{page}: no heading; the page did not load"
    check_images_and_math(state, built_site, page)


def test_the_benchmark_chart_is_readable_where_it_is_shown(
    browser: WebDriver, built_site: Path
) -> None:
    state = open_page(browser, built_site, "explanation/performance.html")
    img = next(i for i in state["imgs"] if i["src"].endswith("benchmark.png"))
    source = (built_site / "explanation" / unquote(img["src"])).resolve()
    assert readable(img, source) is None


def test_navigation_from_disk_opens_pages_not_folders(browser: WebDriver, built_site: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.get((built_site / "index.html").as_uri())
    link = browser.find_element(By.LINK_TEXT, "1. The derivative")
    link.click()
    assert browser.current_url.endswith("/tutorial/derivative.html")
    assert browser.find_element(By.CSS_SELECTOR, "article h1").text.startswith("1. The derivative")
    # and back to Home through the navigation, still a page
    browser.find_element(By.LINK_TEXT, "Home").click()
    assert browser.current_url.endswith("/index.html")
    assert "Index of" not in browser.title

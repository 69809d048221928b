"""render_steps: the frames, read back from the SVG, the GIF's pixels and the page in a
real browser (headless Chromium, network off), clicked through step by step and back.

The browser tests use the `browser` fixture (tests/browser.py): without Chromium, its
driver or Selenium they are skipped and say so; `.ci/run` makes them run.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from PIL import Image

from microgradx import Value, backward_steps, no_grad, render_steps
from microgradx.examples import expression, neuron
from microgradx.viz.steps import (
    MAX_NODES,
    STYLES,
    Lesson,
    frame_svgs,
    lesson,
    notebook_html,
    written_frames,
)

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

SVG = "{http://www.w3.org/2000/svg}"
RED = STYLES["current"]["polygon"]["stroke"]


def reused() -> Value:
    a = Value(1.0, label="a")
    b = a + a
    b.label = "b"
    c = b + b
    c.label = "c"
    return c


def expected_states(made: Lesson) -> list[dict[str, Any]]:
    """What each frame should show: its texts, exact numbers and highlights, added up."""
    texts: dict[str, str] = {}
    values: dict[str, str] = {}
    states = []
    for f in made.frames:
        texts.update(f.texts)
        for node, (what, value) in f.values.items():
            values[f"{node}-{what}"] = value
        states.append({"texts": dict(texts), "values": dict(values), "styles": dict(f.styles)})
    return states


def svg_state(svg: str) -> dict[str, Any]:
    """The texts (by id), the highlighted elements and the caption of one SVG frame."""
    tree = ET.fromstring(svg)
    texts = {t.get("id"): t.text for t in tree.iter(f"{SVG}text") if t.get("id")}
    red = sorted(
        g.get("id", "")
        for g in tree.iter(f"{SVG}g")
        if g.get("class") in ("node", "edge")
        and any(e.get("stroke") == RED for e in g.iter() if e.tag != f"{SVG}text")
    )
    caption = next(g for g in tree.iter(f"{SVG}g") if g.get("id") == "caption")
    return {
        "texts": texts,
        "red": red,
        "caption": [t.text for t in caption.iter(f"{SVG}text")],
        "size": (tree.get("width"), tree.get("height")),
        "shapes": [e.get("points") for e in tree.iter(f"{SVG}polygon")],
    }


# -- the frames ----------------------------------------------------------------------------


def test_the_frames_of_the_lesson_graph() -> None:
    loss, _ = expression()
    made = lesson(backward_steps(loss))
    kinds = [f.kind for f in made.frames]
    assert kinds == ["start"] + ["forward"] * 3 + ["seed"] + ["backward"] * 6 + ["done"]
    assert [f.text for f in made.frames[1:4]] == [
        "e = a * b = 2.0 * -3.0 = -6.0",
        "d = e + c = -6.0 + 10.0 = 4.0",
        "L = d * f = 4.0 * -2.0 = -8.0",
    ]
    assert made.frames[4].text == "L.grad = 1.0  (dL/dL = 1)"
    backward = made.frames[5:11]
    assert [f.text for f in backward] == [s.text for s in backward_steps(loss)]
    assert backward[4].title == "Backward pass, step 5 of 6: e passes its gradient to a"
    assert made.frames[-1].text == (
        "gradients: L 1.0, d -2.0, e -2.0, a 6.0, b -4.0, c -2.0, f 4.0"
    )
    assert [name for _, name in made.nodes] == ["a", "b", "e", "c", "d", "f", "L"]


def test_svg_frames_show_the_numbers_so_far_and_highlight_the_step(tmp_path: Path) -> None:
    loss, nodes = expression()
    folder = render_steps(loss, tmp_path / "frames")
    made = lesson(backward_steps(loss))
    files = written_frames(folder)
    assert [p.name for p in files] == [f"frame-{i:03d}.svg" for i in range(12)]
    states = [svg_state(p.read_text("utf-8")) for p in files]
    ids = dict((name, nid) for nid, name in made.nodes)
    for state, want, frame in zip(states, expected_states(made), made.frames, strict=True):
        for key, text in want["texts"].items():
            assert state["texts"][key] == text
        words = " ".join(state["caption"]).split()  # the caption, wrapped to the width
        assert words == " ".join([frame.title, frame.text, frame.note]).split()
        assert state["size"] == states[0]["size"]  # every frame the same size
        assert state["shapes"] == states[0]["shapes"]  # and nothing moves
    # before anything: the leaves' data, every other number unknown
    first = states[0]["texts"]
    assert first[f"{ids['a']}-data"] == "data 2.0000" and first[f"{ids['e']}-data"] == "data ?"
    assert first[f"{ids['a']}-grad"] == "grad ?"
    # the step "e passes its gradient to a": e and its op red, the edge from a red
    step = states[9]
    assert step["caption"][1] == "a.grad += dL/da = b * e.grad = -3.0 * -2.0 = 6.0"
    e = ids["e"].removeprefix("n")
    assert step["red"] == sorted([f"n{e}", f"o{e}", f"e{e}-0", f"e{e}-out"])
    assert step["texts"][f"{ids['a']}-grad"] == "grad 6.0000"
    assert step["texts"][f"{ids['b']}-grad"] == "grad ?"  # b's turn comes next
    # the last frame: every gradient, as backward() gives them
    last = states[-1]["texts"]
    for name, v in nodes.items():
        assert last[f"{ids[name]}-grad"] == f"grad {v.grad:.4f}"


def test_a_re_used_nodes_frames_show_its_gradient_growing(tmp_path: Path) -> None:
    c = reused()
    made = lesson(backward_steps(c), forward=False)
    a_id = next(nid for nid, name in made.nodes if name == "a")
    shown = []
    for svg in frame_svgs(made):
        shown.append(svg_state(svg)["texts"][f"{a_id}-grad"])
    assert shown == ["grad ?"] * 4 + ["grad 2.0000", "grad 4.0000", "grad 4.0000"]
    assert made.frames[5].note == "a is used more than once: its shares add up (2.0 + 2.0 = 4.0)"
    naive = lesson(backward_steps(c, naive=True), forward=False)
    assert naive.frames[-1].text == "the naive replay got these gradients wrong: a"
    assert naive.frames[-1].note == "backward() gives c 1.0, b 2.0, a 4.0"
    assert "wrong: b passes on its gradient again" in naive.frames[6].note


def test_the_gif_has_every_frame_and_its_pixels_show_the_highlight(tmp_path: Path) -> None:
    loss, _ = expression()
    path = render_steps(loss, tmp_path / "steps.gif", seconds=0.5)
    made = lesson(backward_steps(loss))
    svgs = frame_svgs(made)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == len(made.frames) == 12
        width, height = (float(x) for x in ET.fromstring(svgs[0]).get("viewBox").split()[2:])
        assert gif.size == (math.ceil(width * 4 / 3), math.ceil(height * 4 / 3))
        # a point inside the root's box, left of its label: SVG points to pixels
        root = ET.fromstring(svgs[0])
        shift = next(g for g in root.iter(f"{SVG}g") if g.get("id") == "graph0")
        dx, dy = (float(v) for v in re.findall(r"[-\d.]+", shift.get("transform", ""))[-2:])
        box = next(g for g in root.iter(f"{SVG}g") if g.get("id") == "n6")
        polygon = box.find(f"{SVG}polygon")
        assert polygon is not None
        xs = [float(v) for v in re.findall(r"-?[\d.]+", polygon.get("points", ""))]
        x = (min(xs[::2]) + 3 + dx) * 4 / 3
        y = ((min(xs[1::2]) + max(xs[1::2])) / 2 + dy) * 4 / 3
        durations, pixels = [], []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
            pixels.append(gif.convert("RGB").getpixel((round(x), round(y))))
    assert durations == [500] * 11 + [1500]

    def near(rgb: tuple[int, int, int], hex_color: str) -> bool:
        want = tuple(int(hex_color[k : k + 2], 16) for k in (1, 3, 5))
        return all(abs(a - b) <= 24 for a, b in zip(rgb, want, strict=True))

    assert near(pixels[0], "#fde68a")  # L is the yellow output box
    assert near(pixels[4], STYLES["current"]["polygon"]["fill"])  # the seed: L passes on
    assert near(pixels[6], STYLES["current"]["polygon"]["fill"])  # L's second share
    assert near(pixels[7], "#fde68a")  # then d passes on: L is yellow again


def test_the_page_is_one_self_contained_file(tmp_path: Path) -> None:
    loss, _ = expression()
    path = render_steps(loss, tmp_path / "steps.html")
    page = path.read_text("utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"\b(src|href)\s*=", page)  # nothing loaded, no link
    for url in re.findall(r"https?://[^\s\"'<>]+", page):
        assert url.startswith(("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"))
    data = json.loads(
        re.search(r'<script type="application/json" id="lesson">(.*?)</script>', page, re.S)[1]
    )
    assert len(data["frames"]) == 12 and data["styles"] == STYLES
    assert data["frames"][9]["text"] == "a.grad += dL/da = b * e.grad = -3.0 * -2.0 = 6.0"
    assert page.count("<svg") == 1


def test_labels_that_look_like_markup_stay_text(tmp_path: Path) -> None:
    x = Value(2.0, label="</script><b>x</b>")
    y = x * x
    y.label = "y & z"
    page = render_steps(y, tmp_path / "odd.html").read_text("utf-8")
    assert "</script><b>" not in page
    assert "&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;" in page  # in the drawing and the table
    data = re.search(r'id="lesson">(.*?)</script>', page, re.S)[1]
    assert "\\u003c/script\\u003e" in data


# -- bad input ------------------------------------------------------------------------------


def test_bad_input_writes_nothing(tmp_path: Path) -> None:
    loss, _ = expression()
    with pytest.raises(ValueError, match=r"must end in \.html .* or \.gif .* or name a folder"):
        render_steps(loss, tmp_path / "steps.png")
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        render_steps(loss, tmp_path / "missing" / "steps.html")
    with pytest.raises(FileNotFoundError):
        render_steps(loss, tmp_path / "missing" / "frames")
    with pytest.raises(TypeError, match=r"expected a Value .* got str"):
        render_steps("L", tmp_path / "steps.html")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path must be a str or a path, got int"):
        render_steps(loss, 3)  # type: ignore[arg-type]
    with no_grad():
        flat = Value(2.0) * Value(3.0)
    with pytest.raises(RuntimeError, match=r"made under no_grad\(\)"):
        render_steps(flat, tmp_path / "steps.html")
    with pytest.raises(ValueError, match="rankdir must be"):
        render_steps(loss, tmp_path / "steps.gif", rankdir="XY")
    with pytest.raises(ValueError, match="seconds must be between"):
        render_steps(loss, tmp_path / "frames", seconds=0)
    with pytest.raises(TypeError, match="forward must be True or False"):
        render_steps(loss, tmp_path / "frames", forward="no")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="max_nodes must be an int, got str"):
        render_steps(loss, tmp_path / "steps.html", max_nodes="9")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"fmt '\.4z' is not a valid float format"):
        render_steps(loss, tmp_path / "steps.html", fmt=".4z")
    assert list(tmp_path.iterdir()) == []


def test_a_graph_too_large_is_refused_with_what_to_do_instead(tmp_path: Path) -> None:
    x = Value(0.5, label="x")
    y = x
    for _ in range(MAX_NODES):
        y = y * 0.9 + x
    with pytest.raises(ValueError, match=r"more than a step-by-step picture draws \(max_nodes="):
        render_steps(y, tmp_path / "big.html")
    assert list(tmp_path.iterdir()) == []
    message = notebook_html(backward_steps(y))  # Jupyter shows the message, not an error
    assert message.startswith("<p>") and "draw_dot(root, max_nodes=...)" in message
    small = Value(0.5)
    z = small * small
    assert render_steps(z, tmp_path / "small", max_nodes=2).is_dir() is True


def test_stale_frames_are_removed_and_other_files_kept(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "frame-099.svg").write_text("old")
    (folder / "notes.txt").write_text("mine")
    loss, _ = expression()
    render_steps(loss, folder, forward=False)
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"frame-{i:03d}.svg" for i in range(9)] + ["notes.txt"]


# -- in the browser ---------------------------------------------------------------------

READ = """
const cells = {};
for (const td of document.querySelectorAll('#values td[data-cell]')) {
  cells[td.dataset.cell] = td.textContent;
}
const texts = {};
for (const t of document.querySelectorAll('#graph svg text[id]')) texts[t.id] = t.textContent;
const red = [...document.querySelectorAll('#graph svg g.node, #graph svg g.edge')].filter(g =>
  [...g.querySelectorAll('polygon, ellipse, path, polyline')].some(
    e => e.getAttribute('stroke') === arguments[0])).map(g => g.id).sort();
const b = id => document.getElementById(id);
return {frame: Number(document.body.dataset.frame), kind: document.body.dataset.kind,
        title: b('title').textContent, text: b('text').textContent, note: b('note').textContent,
        counter: b('counter').textContent, cells, texts, red,
        back: b('back').disabled, next: b('next').disabled, play: b('play').textContent,
        resources: performance.getEntriesByType('resource').map(e => e.name)};
"""


def offline(browser: WebDriver, off: bool) -> None:
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": off, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )


@pytest.fixture
def no_network(browser: WebDriver) -> Any:
    offline(browser, True)
    try:
        yield browser
    finally:
        offline(browser, False)


def read(browser: WebDriver) -> dict[str, Any]:
    state: dict[str, Any] = browser.execute_script(READ, RED)
    return state


def click(browser: WebDriver, button: str) -> dict[str, Any]:
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, button).click()
    return read(browser)


def red_of(styles: dict[str, str]) -> list[str]:
    """The elements a frame draws in red: the current node, its op and the edges."""
    return sorted(k for k, kind in styles.items() if kind in ("current", "edge"))


def screenshot(browser: WebDriver, name: str) -> None:
    folder = os.environ.get("MICROGRADX_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(folder) / name))


def click_through(browser: WebDriver, made: Lesson) -> list[dict[str, Any]]:
    """Every frame by the Next button, each checked against what it should show."""
    seen = [read(browser)]
    for _ in made.frames[1:]:
        seen.append(click(browser, "next"))
    wanted = expected_states(made)
    for i, (state, want, frame) in enumerate(zip(seen, wanted, made.frames, strict=True)):
        assert state["frame"] == i and state["kind"] == frame.kind
        assert (state["title"], state["text"], state["note"]) == (frame.title, frame.text,
                                                                  frame.note)  # fmt: skip
        assert state["counter"] == f"frame {i + 1} of {len(made.frames)}"
        for key, text in want["texts"].items():
            assert state["texts"][key] == text, (i, key)
        for key, value in state["cells"].items():  # the table: exact numbers, or ?
            assert value == want["values"].get(key, "?"), (i, key)
        assert state["red"] == red_of(want["styles"]), i
        assert state["back"] == (i == 0) and state["next"] == (i == len(made.frames) - 1)
        assert state["resources"] == []  # nothing was fetched
    return seen


def test_the_page_in_a_browser_click_through_every_step_and_back(
    no_network: WebDriver, tmp_path: Path
) -> None:
    browser = no_network
    loss, nodes = expression()
    path = render_steps(loss, tmp_path / "steps.html", seconds=0.05)
    made = lesson(backward_steps(loss))
    browser.get(path.as_uri())
    seen = click_through(browser, made)
    screenshot(browser, "steps_expression.png")
    # the gradients the page shows at the end are backward()'s, exactly
    last = seen[-1]
    ids = {name: nid for nid, name in made.nodes}
    for name, v in nodes.items():
        assert float(last["cells"][f"{ids[name]}-grad"]) == v.grad
        assert float(last["cells"][f"{ids[name]}-data"]) == v.data
        assert last["texts"][f"{ids[name]}-grad"] == f"grad {v.grad:.4f}"
    # back, step by step: every earlier state returns
    for i in range(len(seen) - 2, -1, -1):
        state = click(browser, "back")
        assert {k: state[k] for k in ("frame", "texts", "cells", "red", "text")} == {
            k: seen[i][k] for k in ("frame", "texts", "cells", "red", "text")
        }
    assert click(browser, "last")["frame"] == len(seen) - 1
    assert click(browser, "first")["texts"] == seen[0]["texts"]


def test_the_page_plays_and_answers_the_keyboard(no_network: WebDriver, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser = no_network
    o, nodes = neuron()
    path = render_steps(o, tmp_path / "neuron.html", seconds=0.05, stack=True)
    made = lesson(backward_steps(o), stack=True)
    browser.get(path.as_uri())
    assert click(browser, "play")["play"].endswith("Pause")
    WebDriverWait(browser, 30).until(
        lambda d: (
            d.execute_script("return document.body.dataset.frame") == str(len(made.frames) - 1)
        )
    )
    state = read(browser)
    assert state["kind"] == "done" and state["play"].endswith("Play")  # it stopped at the end
    ids = {name: nid for nid, name in made.nodes}
    for name, v in nodes.items():
        assert float(state["cells"][f"{ids[name]}-grad"]) == v.grad
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.HOME)
    assert read(browser)["frame"] == 0
    body.send_keys(Keys.ARROW_RIGHT)
    body.send_keys(Keys.ARROW_RIGHT)
    assert read(browser)["frame"] == 2
    body.send_keys(Keys.ARROW_LEFT)
    assert read(browser)["frame"] == 1
    body.send_keys(Keys.END)
    assert read(browser)["frame"] == len(made.frames) - 1


def test_the_naive_page_in_a_browser_shows_where_it_goes_wrong(
    no_network: WebDriver, tmp_path: Path
) -> None:
    browser = no_network
    c = reused()
    path = render_steps(c, tmp_path / "naive.html", naive=True)
    made = lesson(backward_steps(c, naive=True))
    browser.get(path.as_uri())
    seen = click_through(browser, made)
    a = next(nid for nid, name in made.nodes if name == "a")
    assert seen[-1]["cells"][f"{a}-grad"] == "8.0"
    assert "wrong: b passes on its gradient again" in seen[-3]["note"]
    assert seen[-1]["note"] == "backward() gives c 1.0, b 2.0, a 4.0"


def test_the_jupyter_display_works_inside_its_frame(no_network: WebDriver, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    browser = no_network
    loss, _ = expression()
    steps = backward_steps(loss)
    shown = steps._repr_html_()
    srcdoc = html.unescape(re.search(r'srcdoc="(.*?)"', shown, re.S)[1])
    assert srcdoc == steps.html()
    notebook = tmp_path / "notebook.html"
    notebook.write_text(f"<!DOCTYPE html><html><body><p>cell output:</p>{shown}</body></html>")
    browser.get(notebook.as_uri())
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    try:
        for _ in range(9):
            state = click(browser, "next")
        assert state["text"] == "a.grad += dL/da = b * e.grad = -3.0 * -2.0 = 6.0"
    finally:
        browser.switch_to.default_content()


# -- the docs' own pictures -------------------------------------------------------------

DOCS_IMG = Path(__file__).resolve().parent.parent / "docs" / "img" / "backprop_steps"


def page_frames(path: Path) -> list[dict[str, Any]]:
    text = path.read_text("utf-8")
    found = re.search(r'<script type="application/json" id="lesson">(.*?)</script>', text, re.S)
    assert found is not None
    frames: list[dict[str, Any]] = json.loads(found[1])["frames"]
    return frames


def test_the_docs_frames_show_the_lessons_steps() -> None:
    loss, _ = expression()
    made = lesson(backward_steps(loss), forward=False, stack=True)
    files = written_frames(DOCS_IMG / "expression")
    assert len(files) == len(made.frames) == 9
    for path, want, frame in zip(files, expected_states(made), made.frames, strict=True):
        state = svg_state(path.read_text("utf-8"))
        assert {k: state["texts"][k] for k in want["texts"]} == want["texts"], path.name
        assert (
            " ".join(state["caption"]).split()
            == " ".join([frame.title, frame.text, frame.note]).split()
        )
        assert state["red"] == red_of(want["styles"])
    assert svg_state(files[6].read_text("utf-8"))["caption"][1] == (
        "a.grad += dL/da = b * e.grad = -3.0 * -2.0 = 6.0"
    )


def test_the_docs_pages_and_gif_are_the_lessons() -> None:
    loss, _ = expression()
    o, _ = neuron()
    for name, root, naive in (("expression", loss, False), ("neuron", o, False),
                              ("naive", reused(), True)):  # fmt: skip
        made = lesson(backward_steps(root, naive=naive), stack=True)
        shown = page_frames(DOCS_IMG / f"{name}.html")
        assert [(f["title"], f["text"], f["note"]) for f in shown] == [
            (f.title, f.text, f.note) for f in made.frames
        ], name
    with Image.open(DOCS_IMG / "neuron.gif") as gif:
        assert gif.n_frames == len(lesson(backward_steps(o), forward=False).frames) == 12

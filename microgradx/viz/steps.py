"""Backpropagation step by step as pictures: an interactive page, a GIF, or SVG frames.

`render_steps(root, path)` draws the graph once (the boxes of `draw_dot`) and then one
frame per step: the forward pass computing each node's data, the seed, and every
chain-rule step of `backward_steps(root)`, with the node passing its gradient on and
the input receiving it highlighted, the gradients known so far filled in, and the step's
arithmetic written under the graph. The path's suffix picks the output:

* `.html`: one self-contained page (the SVG and the script inline, nothing loaded from the
  network, works opened from disk) with buttons to step forward and back and to play;
* `.gif`: the same frames as an animation (needs Pillow);
* a folder (a path without a suffix, or an existing folder): one `.svg` per frame.

Every frame is the same drawing with some texts and colours changed, so nothing moves
from one frame to the next; the page's script makes the same changes the SVG frames
have.
"""

from __future__ import annotations

import copy
import html
import io
import itertools
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checks import to_count, to_flag, to_format, to_real
from ..engine import Value
from ..steps import DRAWING, BackwardSteps, Step, _build, wrong
from .diagram import CONST_COLOR, OP_STYLE, new_diagram, record, record_text, value_style
from .graph import Drawn
from .renderer import run

__all__ = [
    "MAX_FRAMES",
    "MAX_NODES",
    "STYLES",
    "Frame",
    "Lesson",
    "frame_svgs",
    "gif_bytes",
    "lesson",
    "notebook_html",
    "page",
    "page_html",
    "rasterize",
    "render_steps",
    "written_frames",
]

#: the most Values a step-by-step picture draws unless told otherwise
MAX_NODES = 100
#: the most frames a picture has (the naive replay can take many steps)
MAX_FRAMES = 1000

_SVG = "http://www.w3.org/2000/svg"
ET.register_namespace("", _SVG)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
_NS = f"{{{_SVG}}}"

_RED = "#dc2626"
_AMBER = "#d97706"
#: how each kind of highlight changes the elements it applies to, by tag
STYLES: dict[str, dict[str, dict[str, str]]] = {
    # the node passing its gradient on (backward) or being computed (forward)
    "current": {
        "polygon": {"stroke": _RED, "stroke-width": "2.5", "fill": "#fee2e2"},
        "polyline": {"stroke": _RED},
        "ellipse": {"stroke": _RED, "stroke-width": "2.5", "fill": "#fee2e2"},
    },
    # the input receiving its share (backward), the inputs read (forward)
    "target": {
        "polygon": {"stroke": _AMBER, "stroke-width": "2.5", "fill": "#fef3c7"},
        "polyline": {"stroke": _AMBER},
    },
    "edge": {
        "path": {"stroke": _RED, "stroke-width": "2.5"},
        "polygon": {"fill": _RED, "stroke": _RED},
    },
    # the number that just changed
    "changed": {"text": {"font-weight": "bold", "fill": "#b91c1c"}},
}
_UNKNOWN = "?"


# -- the frames --------------------------------------------------------------------------


@dataclass
class Frame:
    """One picture of the sequence: what changed, what is highlighted, what it says.

    Attributes:
        kind: `"start"`, `"forward"`, `"seed"`, `"backward"` or `"done"`.
        title: what the frame shows, such as `"Backward step 3 of 6: d = e + c"`.
        text: the step's arithmetic, as `explain` writes it.
        note: a remark (a node used twice, the naive replay going wrong), or `""`.
        texts: the drawing's texts this frame changes, by element id (the changes add
            up from the first frame on).
        values: the exact numbers this frame sets, by node id: `{"n3": ["grad", "6.0"]}`.
        styles: the highlights of this frame, element id -> a key of `STYLES`.
    """

    kind: str
    title: str
    text: str
    note: str = ""
    texts: dict[str, str] = field(default_factory=dict)
    values: dict[str, list[str]] = field(default_factory=dict)
    styles: dict[str, str] = field(default_factory=dict)


@dataclass
class Lesson:
    """A graph drawn once and the frames of its passes, ready to render.

    Attributes:
        steps: the backward steps shown.
        svg: the drawing (an SVG document) with the final numbers in place.
        frames: the frames in order.
        nodes: each drawn node that gets a gradient: (element id, name), forward order.
        width: the drawing's width, in points.
        height: its height, in points.
    """

    steps: BackwardSteps
    svg: str
    frames: list[Frame]
    nodes: list[tuple[str, str]]
    width: float
    height: float


def lesson(
    steps: BackwardSteps,
    *,
    forward: bool = True,
    rankdir: str = "LR",
    stack: bool = False,
    fmt: str = ".4f",
    max_nodes: int = MAX_NODES,
    where: str = "render_steps()",
) -> Lesson:
    """The drawing and the frames for `steps` (what every output of `render_steps` shows).

    Raises:
        ValueError: the graph has more than `max_nodes` Values or the steps more than
            `MAX_FRAMES` frames (the message says what to do instead).
    """
    forward = to_flag(forward, f"{where}: forward")
    stack = to_flag(stack, f"{where}: stack")
    fmt = to_format(fmt, where)
    max_nodes = to_count(max_nodes, f"{where}: max_nodes")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"{where}: rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
    drawn = Drawn()
    order = drawn.order([steps.root])
    if len(order) > max_nodes:
        raise ValueError(
            f"{where}: the graph has {len(order):,} Values, more than a step-by-step "
            f"picture draws (max_nodes={max_nodes}); pass a larger max_nodes=, read the "
            "steps as text with explain(), or draw a summary with draw_dot(root, max_nodes=...)"
        )
    frames_needed = len(steps.steps) + 3 + (len(order) if forward else 0)
    if frames_needed > MAX_FRAMES:
        raise ValueError(
            f"{where}: {len(steps.steps):,} steps make more than {MAX_FRAMES:,} frames; "
            "read them as text with explain()"
        )
    return _Builder(steps, drawn, order, forward, rankdir, stack, fmt).build()


class _Builder:
    def __init__(
        self,
        steps: BackwardSteps,
        drawn: Drawn,
        order: list[Value],
        forward: bool,
        rankdir: str,
        stack: bool,
        fmt: str,
    ) -> None:
        self.steps = steps
        self.drawn = drawn
        self.order = order
        self.forward = forward
        self.rankdir = rankdir
        self.stack = stack
        self.fmt = fmt
        self.ids = {id(v): i for i, v in enumerate(order)}

    def node_id(self, v: Value) -> str:
        return f"n{self.ids[id(v)]}"

    def number(self, x: float) -> str:
        return format(x, self.fmt)

    def build(self) -> Lesson:
        steps = self.steps
        grads = {self.node_id(steps.root): [1.0]}
        for s in steps.steps:
            grads.setdefault(self.node_id(s.input), []).append(s.after)
        svg, size = self._draw(grads)
        frames = self._frames()
        nodes = [(self.node_id(v), steps.name(v)) for v in self.order if v.requires_grad]
        return Lesson(steps, svg, frames, nodes, *size)

    # the drawing: draw_dot's boxes, with ids on every element a frame changes
    def _draw(self, grads: dict[str, list[float]]) -> tuple[str, tuple[float, float]]:
        root = self.steps.root
        dot = new_diagram("svg", self.rankdir)
        fields: dict[str, list[str]] = {}
        for v in self.order:
            i = self.ids[id(v)]
            name = f"n{i}"
            texts = [(f"{name}-label", v.label)] if v.label else []
            kind = "data" if v.requires_grad or v.label else "const"
            texts.append((f"{name}-data", f"{kind} {self.number(v.data)}"))
            if v.requires_grad:
                # sized for the widest number the frames will write there
                widest = max([self.number(g) for g in grads.get(name, [])] + ["0"], key=_width)
                texts.append((f"{name}-grad", f"grad {widest}"))
            fields[name] = [t for t, _ in texts]
            label = record([record_text(t) for _, t in texts], not self.stack, self.rankdir)
            style = value_style(v, v is root, False)
            dot.node(f"v{i}", label, id=name, **style)
            inputs = self.drawn.inputs(v)
            if inputs:
                dot.node(f"v{i}_op", v._op, id=f"o{i}", **OP_STYLE)
                for k, x in enumerate(inputs):
                    edge = {} if x.requires_grad else {"style": "dashed", "color": CONST_COLOR}
                    dot.edge(f"v{self.ids[id(x)]}", f"v{i}_op", id=f"e{i}-{k}", **edge)
                dot.edge(f"v{i}_op", f"v{i}", id=f"e{i}-out")
        tree = ET.fromstring(run(dot.source, "svg"))
        for g in tree.iter(f"{_NS}g"):
            names = fields.get(g.get("id", ""))
            if names is None:
                continue
            found = g.findall(f"{_NS}text")
            if len(found) != len(names):  # pragma: no cover - a renderer splitting a field
                raise RuntimeError(f"unexpected drawing of node {g.get('id')}: {len(found)} texts")
            for t, name in zip(found, names, strict=True):
                t.set("id", name)
        width, height = _size(tree)
        return ET.tostring(tree, encoding="unicode"), (width, height)

    def _frames(self) -> list[Frame]:
        steps, graph = self.steps, self.steps._graph
        nid = self.node_id
        ops = [v for v in self.order if v.inputs and v.requires_grad]
        start = Frame("start", "", "")
        for v in self.order:
            if v.requires_grad:
                start.texts[f"{nid(v)}-grad"] = f"grad {_UNKNOWN}"
                if self.forward and v.inputs:
                    start.texts[f"{nid(v)}-data"] = f"data {_UNKNOWN}"
                else:
                    start.values[nid(v)] = ["data", repr(v.data)]
        root = graph.name(steps.root)
        frames = [start]
        if self.forward:
            leaves = [graph.name(v) for v in self.order if v.requires_grad and not v.inputs]
            start.title = "The graph before the forward pass"
            start.text = f"given: {', '.join(leaves)}; every other value is computed from them"
            for k, f in enumerate(steps.forward(), 1):
                v = f.node
                frame = Frame("forward", f"Forward pass, step {k} of {len(ops)}", f.text)
                frame.texts[f"{nid(v)}-data"] = f"data {self.number(v.data)}"
                frame.values[nid(v)] = ["data", repr(v.data)]
                self._highlight_forward(frame, v)
                frames.append(frame)
        else:
            start.title = "The graph after the forward pass"
            start.text = "every value is known; no gradient yet"
        kind = "naive replay" if steps.naive else "backward pass"
        seed = Frame(
            "seed",
            f"The {kind} starts: the seed",
            f"{graph.atom(steps.root)}.grad = 1.0  (d{root}/d{root} = 1)",
        )
        seed.texts[f"{nid(steps.root)}-grad"] = f"grad {self.number(1.0)}"
        seed.values[nid(steps.root)] = ["grad", repr(1.0)]
        seed.styles[nid(steps.root)] = "current"
        seed.styles[f"{nid(steps.root)}-grad"] = "changed"
        frames.append(seed)
        uses: dict[int, int] = {}
        total = len(steps.steps)
        for k, s in enumerate(steps.steps, 1):
            frames.append(self._backward_frame(k, total, s, uses, kind))
        frames.append(self._done())
        return frames

    def _highlight_forward(self, frame: Frame, v: Value) -> None:
        i = self.ids[id(v)]
        frame.styles[f"n{i}"] = "current"
        frame.styles[f"o{i}"] = "current"
        frame.styles[f"n{i}-data"] = "changed"
        frame.styles[f"e{i}-out"] = "edge"
        for k, x in enumerate(self.drawn.inputs(v)):
            frame.styles[f"e{i}-{k}"] = "edge"
            frame.styles[f"n{self.ids[id(x)]}"] = "target"

    def _backward_frame(
        self, k: int, total: int, s: Step, uses: dict[int, int], kind: str
    ) -> Frame:
        graph = self.steps._graph
        node, inp = s.node, s.input
        title = (
            f"{kind[0].upper()}{kind[1:]}, step {k} of {total}: "
            f"{graph.name(node)} passes its gradient to {graph.name(inp)}"
        )
        notes = []
        count = uses.get(id(inp), 0)
        uses[id(inp)] = count + 1
        if count:
            notes.append(
                f"{graph.name(inp)} is used more than once: its shares add up "
                f"({graph.num(s.before)} + {graph.num(s.contribution)} = {graph.num(s.after)})"
            )
        if s.note:
            notes.append(s.note)
        frame = Frame("backward", title, s.text, "; ".join(notes))
        n, i = self.node_id(inp), self.ids[id(node)]
        frame.texts[f"{n}-grad"] = f"grad {self.number(s.after)}"
        frame.values[n] = ["grad", repr(s.after)]
        frame.styles[f"n{i}"] = "current"
        frame.styles[f"o{i}"] = "current"
        frame.styles[n] = "target"
        frame.styles[f"{n}-grad"] = "changed"
        frame.styles[f"e{i}-{'xy'.index(s.which)}"] = "edge"
        frame.styles[f"e{i}-out"] = "edge"
        return frame

    def _done(self) -> Frame:
        steps, graph = self.steps, self.steps._graph
        nodes = [v for v in graph.backward if v in steps.gradients]
        if steps.naive:
            bad = [graph.name(v) for v in nodes if wrong(steps.gradients[v], steps._correct[v])]
            text = (
                "the naive replay got these gradients wrong: " + ", ".join(bad)
                if bad
                else "here the naive replay happens to give the right gradients"
            )
            right = ", ".join(f"{graph.name(v)} {graph.num(steps._correct[v])}" for v in nodes)
            return Frame("done", "Done: the naive replay's gradients", text,
                         f"backward() gives {right}")  # fmt: skip
        shown = ", ".join(f"{graph.name(v)} {graph.num(steps.gradients[v])}" for v in nodes)
        return Frame(
            "done",
            "Done: every gradient is complete",
            f"gradients: {shown}",
            "these are the numbers backward() adds to each .grad",
        )


def _size(tree: ET.Element) -> tuple[float, float]:
    view = [float(x) for x in tree.get("viewBox", "0 0 0 0").split()]
    return view[2], view[3]


# Helvetica's advance widths (per 1000 em) of the printable ASCII characters, for sizing
# and wrapping text the way Graphviz measures it
_HELVETICA = dict(
    zip(
        " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
        "abcdefghijklmnopqrstuvwxyz{|}~",
        [278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278]
        + [556] * 10
        + [278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278]
        + [500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667]
        + [611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222]
        + [222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500]
        + [500, 334, 260, 334, 584],
        strict=True,
    )
)


def _width(text: str, size: float = 1.0) -> float:
    """The width of `text` in Helvetica at font size `size` (points)."""
    return sum(_HELVETICA.get(c, 600) for c in text) * size / 1000


def _wrap(text: str, width: float, size: float) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if line and _width(candidate, size) > width:
            lines.append(line)
            line = "    " + word
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines


# -- SVG frames ---------------------------------------------------------------------------

_TITLE_SIZE = 13.0
_TEXT_SIZE = 12.0
_LINE = 17.0
_MARGIN = 8.0


def _caption(frame: Frame, width: float) -> list[tuple[str, float, str]]:
    """The caption's lines as (text, font size, weight), wrapped to `width`."""
    lines = [(t, _TITLE_SIZE, "bold") for t in _wrap(frame.title, width, _TITLE_SIZE)]
    lines += [(t, _TEXT_SIZE, "normal") for t in _wrap(frame.text, width, _TEXT_SIZE)]
    if frame.note:
        lines += [(t, _TEXT_SIZE, "italic") for t in _wrap(frame.note, width, _TEXT_SIZE)]
    return lines


def frame_svgs(lesson: Lesson) -> list[str]:
    """Every frame as an SVG document, the step's arithmetic written under the graph.

    All frames have the same size: the drawing's, with room for the longest caption.
    """
    width = max(lesson.width, 320.0)
    wrap = width - 2 * _MARGIN
    captions = [_caption(f, wrap) for f in lesson.frames]
    rows = max(len(c) for c in captions)
    height = lesson.height + _MARGIN + rows * _LINE + _MARGIN
    base = ET.fromstring(lesson.svg)
    texts: dict[str, str] = {}
    out = []
    for frame, caption in zip(lesson.frames, captions, strict=True):
        texts.update(frame.texts)
        tree = copy.deepcopy(base)
        _apply(tree, texts, frame.styles)
        tree.set("width", f"{width:g}pt")
        tree.set("height", f"{height:g}pt")
        tree.set("viewBox", f"0.00 0.00 {width:.2f} {height:.2f}")
        background = ET.Element(f"{_NS}rect", x="0", y="0", width=f"{width:.2f}",
                                height=f"{height:.2f}", fill="white")  # fmt: skip
        tree.insert(0, background)
        group = ET.SubElement(tree, f"{_NS}g", id="caption")
        y = lesson.height + _MARGIN
        for text, size, weight in caption:
            y += _LINE
            attrs = {
                "x": f"{_MARGIN:g}",
                "y": f"{y - 4:.2f}",
                "font-family": "Helvetica,sans-Serif",
                "font-size": f"{size:.2f}",
                "fill": "#111827" if weight != "italic" else "#374151",
            }
            if weight == "bold":
                attrs["font-weight"] = "bold"
            elif weight == "italic":
                attrs["font-style"] = "italic"
            ET.SubElement(group, f"{_NS}text", attrs).text = text
        out.append(ET.tostring(tree, encoding="unicode"))
    return out


def _apply(tree: ET.Element, texts: dict[str, str], styles: dict[str, str]) -> None:
    """Change the drawing as the page's script does: texts, then highlights."""
    by_id = {e.get("id"): e for e in tree.iter() if e.get("id")}
    for key, text in texts.items():
        by_id[key].text = text
    for key, kind in styles.items():
        element = by_id[key]
        for e in element.iter():
            for attr, value in STYLES[kind].get(e.tag.removeprefix(_NS), {}).items():
                e.set(attr, value)


# -- GIF ----------------------------------------------------------------------------------


def _pillow() -> Any:
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError as e:
        raise ImportError(
            'writing a GIF needs Pillow: pip install pillow  (or pip install "microgradx[plot]")'
        ) from e
    try:
        ImageFont.load_default(size=12)
    except (TypeError, ImportError) as e:  # Pillow < 10.1, or built without FreeType
        raise ImportError(
            "writing a GIF needs Pillow 10.1 or newer with FreeType (its scalable font)"
        ) from e
    return Image, ImageDraw, ImageFont


_SCALE = 96 / 72  # points to pixels, as a browser shows the SVG
_SUPERSAMPLE = 2


def rasterize(svg: str) -> Any:
    """A Graphviz SVG (the subset `render_steps` frames use) drawn with Pillow, as an RGB image.

    Polygons, polylines, ellipses, cubic paths and text are drawn at twice the size
    and scaled down, which smooths their edges.
    """
    image_mod, draw_mod, font_mod = _pillow()
    tree = ET.fromstring(svg)
    width, height = _size(tree)
    k = _SCALE * _SUPERSAMPLE
    image = image_mod.new("RGB", (math.ceil(width * k), math.ceil(height * k)), "white")
    painter = _Painter(draw_mod.Draw(image), font_mod, k)
    painter.walk(tree, (0.0, 0.0))
    size = (math.ceil(width * _SCALE), math.ceil(height * _SCALE))
    return image.resize(size, image_mod.Resampling.LANCZOS)


_NUMBERS = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


class _Painter:
    def __init__(self, draw: Any, fonts: Any, k: float) -> None:
        self.draw = draw
        self.fonts = fonts
        self.k = k
        self._font_cache: dict[int, Any] = {}

    def font(self, size: float) -> Any:
        px = max(1, round(size * self.k))
        if px not in self._font_cache:
            self._font_cache[px] = self.fonts.load_default(size=px)
        return self._font_cache[px]

    def walk(self, e: ET.Element, offset: tuple[float, float]) -> None:
        transform = e.get("transform", "")
        m = re.search(r"translate\(([-\d.]+)[ ,]+([-\d.]+)\)", transform)
        if m:
            offset = (offset[0] + float(m[1]), offset[1] + float(m[2]))
        tag = e.tag.removeprefix(_NS)
        handler = getattr(self, f"_{tag}", None)
        if handler is not None:
            handler(e, offset)
        for child in e:
            self.walk(child, offset)

    def point(self, x: float, y: float, offset: tuple[float, float]) -> tuple[float, float]:
        return ((x + offset[0]) * self.k, (y + offset[1]) * self.k)

    def points(self, text: str, offset: tuple[float, float]) -> list[tuple[float, float]]:
        xs = [float(n) for n in _NUMBERS.findall(text)]
        return [self.point(x, y, offset) for x, y in zip(xs[::2], xs[1::2], strict=True)]

    @staticmethod
    def color(value: str | None) -> str | None:
        return None if value in (None, "none", "transparent") else value

    def stroke(self, e: ET.Element) -> tuple[str | None, int]:
        width = float(e.get("stroke-width", "1"))
        return self.color(e.get("stroke", "black")), max(1, round(width * self.k))

    def line(self, pts: list[tuple[float, float]], e: ET.Element) -> None:
        color, width = self.stroke(e)
        if color is None or len(pts) < 2:
            return
        dashes = e.get("stroke-dasharray")
        if not dashes:
            self.draw.line(pts, fill=color, width=width, joint="curve")
            return
        on, off = (float(d) * self.k for d in dashes.split(",")[:2])
        for a, b in itertools.pairwise(pts):  # dash each segment
            length = math.dist(a, b)
            t = 0.0
            while t < length:
                u = min(t + on, length)
                p = (a[0] + (b[0] - a[0]) * t / length, a[1] + (b[1] - a[1]) * t / length)
                q = (a[0] + (b[0] - a[0]) * u / length, a[1] + (b[1] - a[1]) * u / length)
                self.draw.line([p, q], fill=color, width=width)
                t = u + off

    def _rect(self, e: ET.Element, offset: tuple[float, float]) -> None:
        x, y = float(e.get("x", "0")), float(e.get("y", "0"))
        w, h = float(e.get("width", "0")), float(e.get("height", "0"))
        fill = self.color(e.get("fill", "black"))
        if fill is not None:
            self.draw.rectangle([self.point(x, y, offset), self.point(x + w, y + h, offset)],
                                fill=fill)  # fmt: skip

    def _polygon(self, e: ET.Element, offset: tuple[float, float]) -> None:
        pts = self.points(e.get("points", ""), offset)
        fill = self.color(e.get("fill", "black"))
        if fill is not None and len(pts) >= 3:
            self.draw.polygon(pts, fill=fill)
        self.line([*pts, pts[0]] if pts else pts, e)

    def _polyline(self, e: ET.Element, offset: tuple[float, float]) -> None:
        self.line(self.points(e.get("points", ""), offset), e)

    def _ellipse(self, e: ET.Element, offset: tuple[float, float]) -> None:
        cx, cy = self.point(float(e.get("cx", "0")), float(e.get("cy", "0")), offset)
        rx, ry = float(e.get("rx", "0")) * self.k, float(e.get("ry", "0")) * self.k
        color, width = self.stroke(e)
        self.draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry],
                          fill=self.color(e.get("fill", "black")), outline=color,
                          width=width if color else 0)  # fmt: skip

    def _path(self, e: ET.Element, offset: tuple[float, float]) -> None:
        # Graphviz writes an edge as "M x,y C x1,y1 x2,y2 x3,y3 ..." (cubic Béziers)
        pts = self.points(e.get("d", ""), offset)
        if not pts:
            return
        curve = [pts[0]]
        for i in range(1, len(pts) - 2, 3):
            p0, p1, p2, p3 = curve[-1], pts[i], pts[i + 1], pts[i + 2]
            for step in range(1, 17):
                t = step / 16
                s = 1 - t
                curve.append(
                    (
                        s**3 * p0[0] + 3 * s * s * t * p1[0] + 3 * s * t * t * p2[0] + t**3 * p3[0],
                        s**3 * p0[1] + 3 * s * s * t * p1[1] + 3 * s * t * t * p2[1] + t**3 * p3[1],
                    )
                )
        self.line(curve, e)

    def _text(self, e: ET.Element, offset: tuple[float, float]) -> None:
        text = e.text or ""
        if not text:
            return
        x, y = self.point(float(e.get("x", "0")), float(e.get("y", "0")), offset)
        font = self.font(float(e.get("font-size", "14")))
        anchor = {"middle": "ms", "end": "rs"}.get(e.get("text-anchor", ""), "ls")
        bold = e.get("font-weight") == "bold"
        fill = self.color(e.get("fill", "black")) or "black"
        self.draw.text((x, y), text, font=font, fill=fill, anchor=anchor,
                       stroke_width=1 if bold else 0, stroke_fill=fill)  # fmt: skip


def gif_bytes(lesson: Lesson, seconds: float = 1.0) -> bytes:
    """The frames as an animated GIF (the last frame shown three times as long)."""
    image_mod, _, _ = _pillow()
    images = [rasterize(s) for s in frame_svgs(lesson)]
    # one palette for every frame (so colours do not flicker), from a sample of them
    sample = [*images[:: max(1, len(images) // 8)], images[-1]]
    width, height = images[0].size
    mosaic = image_mod.new("RGB", (width, height * len(sample)), "white")
    for i, im in enumerate(sample):
        mosaic.paste(im, (0, height * i))
    palette = mosaic.quantize(colors=64, method=image_mod.Quantize.MEDIANCUT)
    images = [im.quantize(palette=palette, dither=image_mod.Dither.NONE) for im in images]
    out = io.BytesIO()
    ms = round(seconds * 1000)
    durations = [ms] * (len(images) - 1) + [3 * ms]
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:],
                   duration=durations, loop=0)  # fmt: skip
    return out.getvalue()


# -- the HTML page ----------------------------------------------------------------------

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; margin: 1rem 1.5rem; color: #111827; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
p.intro { margin: 0 0 .6rem; color: #374151; max-width: 60rem; }
main { display: flex; flex-wrap: wrap; gap: .4rem 1.5rem; align-items: flex-start; }
#graph { flex: 0 1 auto; max-width: 100%; }
#graph svg { display: block; max-width: 100%; height: auto; }
#panel { flex: 1 1 28rem; min-width: 20rem; }
#controls { display: flex; gap: .4rem; align-items: center; flex-wrap: wrap; margin: .6rem 0; }
#controls button { font-size: 1rem; padding: .25rem .7rem; cursor: pointer; }
#controls input[type=range] { flex: 1; min-width: 10rem; }
#counter { font-variant-numeric: tabular-nums; min-width: 9rem; }
#title { font-weight: bold; margin: .3rem 0; }
#text { font-family: Menlo, Consolas, monospace; font-size: .95rem; background: #f3f4f6;
        padding: .4rem .6rem; border-radius: 4px; white-space: pre-wrap; margin: .2rem 0; }
#note { color: #92400e; margin: .3rem 0; min-height: 1.2em; }
table { border-collapse: collapse; margin-top: .6rem; font-size: .9rem; }
th, td { border: 1px solid #d1d5db; padding: .15rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.changed { background: #fee2e2; font-weight: bold; }
.legend { font-size: .85rem; color: #4b5563; margin-top: .6rem; }
.swatch { display: inline-block; width: .8rem; height: .8rem; vertical-align: middle;
          border: 2px solid; margin: 0 .2rem 0 .6rem; }
</style>
</head>
<body>
<h1>__HEADING__</h1>
<p class="intro">__INTRO__</p>
<main>
<div id="graph">__SVG__</div>
<div id="panel">
<div id="controls">
<button id="first" title="first frame (Home)">&laquo; First</button>
<button id="back" title="one step back (left arrow)">&#x25C0; Back</button>
<button id="play" title="play / pause (space)">&#x25B6; Play</button>
<button id="next" title="one step forward (right arrow)">Next &#x25B6;</button>
<button id="last" title="last frame (End)">Last &raquo;</button>
<input id="slider" type="range" min="0" max="0" value="0" aria-label="frame">
<span id="counter"></span>
</div>
<div id="title"></div>
<div id="text"></div>
<div id="note"></div>
<table id="values"><thead><tr><th>node</th><th>data</th><th>grad</th></tr></thead>
<tbody>__ROWS__</tbody></table>
<p class="legend">
<span class="swatch" style="border-color:#dc2626;background:#fee2e2"></span>the node
passing its gradient on (or being computed)
<span class="swatch" style="border-color:#d97706;background:#fef3c7"></span>the input it
passes a share to (or reads)
<span style="color:#b91c1c;font-weight:bold;margin-left:.6rem">bold red</span>: the
number that just changed; ? not known yet
</p>
</div>
</main>
<script type="application/json" id="lesson">__DATA__</script>
<script>
"use strict";
(function () {
  const lesson = JSON.parse(document.getElementById("lesson").textContent);
  const frames = lesson.frames;
  const byId = (id) => document.getElementById(id);
  const svg = document.querySelector("#graph svg");
  // the drawing's own texts and colours, to go back to before each frame is shown
  const saved = [];
  for (const e of svg.querySelectorAll("[id]")) {
    for (const d of [e, ...e.querySelectorAll("*")]) {
      const attrs = {};
      for (const name of ["fill", "stroke", "stroke-width", "font-weight"]) {
        attrs[name] = d.getAttribute(name);
      }
      saved.push([d, attrs, d.tagName === "text" ? d.textContent : null]);
    }
  }
  const slider = byId("slider");
  slider.max = String(frames.length - 1);
  let current = 0;
  let timer = null;

  function restore() {
    for (const [d, attrs, text] of saved) {
      for (const [name, value] of Object.entries(attrs)) {
        if (value === null) d.removeAttribute(name); else d.setAttribute(name, value);
      }
      if (text !== null) d.textContent = text;
    }
  }

  function style(e, kind) {
    const rules = lesson.styles[kind];
    for (const d of [e, ...e.querySelectorAll("*")]) {
      const set = rules[d.tagName.toLowerCase()];
      if (set) for (const [name, value] of Object.entries(set)) d.setAttribute(name, value);
    }
  }

  function show(i) {
    current = Math.max(0, Math.min(frames.length - 1, i));
    restore();
    const texts = {};
    const values = {};
    for (let k = 0; k <= current; k++) {
      Object.assign(texts, frames[k].texts);
      for (const [node, [what, value]] of Object.entries(frames[k].values)) {
        values[node + "-" + what] = value;
      }
    }
    for (const [id, text] of Object.entries(texts)) byId(id).textContent = text;
    const frame = frames[current];
    for (const [id, kind] of Object.entries(frame.styles)) style(byId(id), kind);
    for (const cell of document.querySelectorAll("#values td[data-cell]")) {
      const key = cell.dataset.cell;
      cell.textContent = key in values ? values[key] : "?";
      const [node, what] = key.split("-");
      const fresh = frame.values[node];
      cell.classList.toggle("changed", !!fresh && fresh[0] === what);
    }
    byId("title").textContent = frame.title;
    byId("text").textContent = frame.text;
    byId("note").textContent = frame.note;
    byId("counter").textContent = "frame " + (current + 1) + " of " + frames.length;
    slider.value = String(current);
    byId("first").disabled = byId("back").disabled = current === 0;
    byId("next").disabled = byId("last").disabled = current === frames.length - 1;
    document.body.dataset.frame = String(current);
    document.body.dataset.kind = frame.kind;
  }

  function pause() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    byId("play").textContent = "\\u25B6 Play";
  }

  function play() {
    if (timer !== null) { pause(); return; }
    if (current === frames.length - 1) show(0);
    byId("play").textContent = "\\u23F8 Pause";
    timer = setInterval(() => {
      if (current >= frames.length - 1) pause(); else show(current + 1);
    }, lesson.milliseconds);
  }

  byId("first").addEventListener("click", () => { pause(); show(0); });
  byId("back").addEventListener("click", () => { pause(); show(current - 1); });
  byId("next").addEventListener("click", () => { pause(); show(current + 1); });
  byId("last").addEventListener("click", () => { pause(); show(frames.length - 1); });
  byId("play").addEventListener("click", play);
  slider.addEventListener("input", () => { pause(); show(Number(slider.value)); });
  document.addEventListener("keydown", (event) => {
    const keys = {ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0,
                  End: frames.length - 1};
    if (event.key in keys) { pause(); show(keys[event.key]); event.preventDefault(); }
    else if (event.key === " ") { play(); event.preventDefault(); }
  });
  show(0);
})();
</script>
</body>
</html>
"""


def _json_for_html(data: object) -> str:
    # inside <script>: nothing that could close the element or start markup
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(lesson: Lesson, seconds: float = 1.0) -> str:
    """The self-contained HTML page of a lesson (inline SVG, script and data)."""
    steps = lesson.steps
    graph = steps._graph
    root = graph.name(steps.root)
    kind = "the naive replay of backward()" if steps.naive else "backward()"
    n_forward = sum(f.kind == "forward" for f in lesson.frames)
    heading = f"Backpropagation step by step: {root} = {graph.num(steps.root.data)}"
    if steps.naive:
        heading = f"The naive recursion step by step: {root} = {graph.num(steps.root.data)}"
    intro = (
        (f"The forward pass computes each value in {n_forward} steps; then " if n_forward
         else "Every value is known; ")
        + f"{kind} passes gradients back from {root} in {len(steps.steps)} steps, "
        "each one the local derivative (from the op's rule) times the gradient arriving. "
        "Use the buttons, the slider or the arrow keys."
    )  # fmt: skip
    rows = "".join(
        f'<tr><td>{html.escape(name)}</td><td data-cell="{nid}-data"></td>'
        f'<td data-cell="{nid}-grad"></td></tr>'
        for nid, name in lesson.nodes
    )
    data = {
        "frames": [
            {
                "kind": f.kind,
                "title": f.title,
                "text": f.text,
                "note": f.note,
                "texts": f.texts,
                "values": f.values,
                "styles": f.styles,
            }
            for f in lesson.frames
        ],
        "styles": STYLES,
        "milliseconds": round(seconds * 1000),
    }
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", lesson.svg)
    replacements = {
        "__TITLE__": html.escape(heading),
        "__HEADING__": html.escape(heading),
        "__INTRO__": html.escape(intro),
        "__SVG__": svg,
        "__ROWS__": rows,
        "__DATA__": _json_for_html(data),
    }
    return re.sub("|".join(replacements), lambda m: replacements[m[0]], _PAGE)


def page_html(steps: BackwardSteps, *, seconds: float = 1.0, **options: Any) -> str:
    """The interactive page of `steps` as a string (`options` as for `render_steps`)."""
    seconds = _check_seconds(seconds, "page_html()")
    return page(lesson(steps, where="page_html()", **options), seconds)


def notebook_html(steps: BackwardSteps) -> str:
    """The page for Jupyter: inside an iframe, so that its script and style stay its own."""
    try:
        made = lesson(steps, where="backward_steps()")
    except ValueError as e:
        return f"<p>{html.escape(str(e))}</p>"
    height = round(min(made.height * _SCALE, 600)) + 420
    return (
        f'<iframe srcdoc="{html.escape(page(made), quote=True)}" '
        f'style="width: 100%; height: {height}px; border: 0"></iframe>'
    )


def _check_seconds(seconds: object, where: str) -> float:
    seconds = to_real(seconds, f"{where}: seconds")
    if not 0.05 <= seconds <= 60:  # nan fails too
        raise ValueError(f"{where}: seconds must be between 0.05 and 60, got {seconds!r}")
    return seconds


# -- writing ------------------------------------------------------------------------------

_FRAME_NAME = re.compile(r"frame-\d{3,}\.svg")


def _target(path: object) -> tuple[Path, str]:
    """Where to write and what: `"html"`, `"gif"` or `"folder"`; refused before any work."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"render_steps(): path must be a str or a path, got {type(path).__name__}")
    target = Path(path)
    if target.is_dir():
        return target, "folder"
    suffix = target.suffix.lower()
    kinds = {".html": "html", ".htm": "html", ".gif": "gif", "": "folder"}
    if suffix not in kinds:
        raise ValueError(
            f"render_steps(): cannot write {target.name!r}: the path must end in .html "
            "(an interactive page) or .gif (an animation), or name a folder (one .svg per "
            f"frame); {suffix!r} is none of these"
        )
    if not target.parent.is_dir():
        raise FileNotFoundError(
            f"render_steps(): the folder {str(target.parent)!r} does not exist; create it first"
        )
    return target, kinds[suffix]


def render_steps(
    root: Value,
    path: str | os.PathLike[str],
    *,
    naive: bool = False,
    forward: bool = True,
    rankdir: str = "LR",
    stack: bool = False,
    fmt: str = ".4f",
    seconds: float = 1.0,
    max_nodes: int = MAX_NODES,
) -> Path:
    """Draw backpropagation from `root` step by step; the path's suffix picks the output.

    * `.html`: an interactive page, one self-contained file (the graph, buttons to step
      forward and back and to play, the current node and edge highlighted, the values
      and gradients known so far, and the step's arithmetic under the graph);
    * `.gif`: the same frames as an animation (needs Pillow);
    * a folder (a path with no suffix, or an existing folder): one SVG per frame,
      `frame-000.svg`, `frame-001.svg`, ... (older frames of that name are removed).

    The frames are: the graph before the forward pass, one per op computing its data
    (unless `forward=False`), the seed, one per step of `backward_steps(root)`, and the
    gradients at the end. Nothing is written if anything is wrong.

    Args:
        root: the output Value.
        path: where to write.
        naive: show the naive recursion's steps instead (see `explain`).
        forward: include the forward pass.
        rankdir: layout direction, as for `draw_dot` (`"LR"`, `"TB"`, ...).
        stack: stack each box's fields, as for `draw_dot`.
        fmt: how the boxes write numbers (the captions write them exactly).
        seconds: time per frame when playing (the GIF, and the page's Play button).
        max_nodes: refuse graphs with more Values than this.

    Returns:
        The path written (the folder, for SVG frames).

    Raises:
        TypeError: `root` is not a Value, or `path` not a path.
        RuntimeError: `root` has no graph (made under `no_grad()`).
        ValueError: an unknown suffix, or a graph too large to draw.
        FileNotFoundError: the folder to write in does not exist.

    Examples:
        >>> import tempfile, pathlib
        >>> from microgradx import Value, render_steps
        >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
        >>> out = pathlib.Path(tempfile.mkdtemp())
        >>> render_steps(a * b, out / "steps.html").name
        'steps.html'
    """
    target, kind = _target(path)
    naive = to_flag(naive, "render_steps(naive=...)")
    seconds = _check_seconds(seconds, "render_steps()")
    steps = _build(root, naive, None, "render_steps()")
    made = lesson(steps, forward=forward, rankdir=rankdir, stack=stack, fmt=fmt,
                  max_nodes=max_nodes)  # fmt: skip
    if kind == "html":
        target.write_text(page(made, seconds), encoding="utf-8")
    elif kind == "gif":
        target.write_bytes(gif_bytes(made, seconds))
    else:
        svgs = frame_svgs(made)
        target.mkdir(exist_ok=True)
        names = [f"frame-{i:03d}.svg" for i in range(len(svgs))]
        for old in target.iterdir():
            if _FRAME_NAME.fullmatch(old.name) and old.name not in names:
                old.unlink()
        for name, svg in zip(names, svgs, strict=True):
            (target / name).write_text(svg, encoding="utf-8")
    return target


def written_frames(folder: str | os.PathLike[str]) -> Sequence[Path]:
    """The frames `render_steps` wrote into `folder`, in order."""
    return sorted(p for p in Path(folder).iterdir() if _FRAME_NAME.fullmatch(p.name))


DRAWING.update(page=page_html, notebook=notebook_html)

"""Writing diagrams: `render` to an SVG or PNG file, `to_svg` to SVG text.

Both take what `draw_dot` returns (any `graphviz.Digraph` works) or a Value, which is
drawn first, and render with the program `find_renderer` names.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..engine import Value
from .diagram import draw_dot
from .renderer import RendererNotFound, check_format, run

__all__ = ["SOURCE_FORMATS", "render", "save", "to_svg"]

#: formats written without any renderer: the DOT source itself
SOURCE_FORMATS = ("dot", "gv")

# Graphviz's output formats that are file suffixes too: such a suffix names the format
_KNOWN_SUFFIXES = {
    "bmp", "canon", "dot", "eps", "fig", "gd", "gd2", "gif", "gv", "ico", "imap", "jpe",
    "jpeg", "jpg", "json", "pdf", "pic", "plain", "png", "pov", "ps", "psd", "sgi", "svg",
    "svgz", "tga", "tif", "tiff", "vml", "vrml", "wbmp", "webp", "xdot",
}  # fmt: skip


def _source_of(diagram: object, where: str) -> str:
    if isinstance(diagram, Value):
        return str(draw_dot(diagram).source)
    source = getattr(diagram, "source", None)
    if not isinstance(source, str):
        raise TypeError(
            f"{where}: expected a diagram from draw_dot() (a graphviz.Digraph) or a Value, "
            f"got {type(diagram).__name__}"
        )
    return source


def to_svg(diagram: object) -> str:
    """The diagram (or a Value's diagram) as an SVG document, with any available renderer."""
    return run(_source_of(diagram, "to_svg()"), "svg").decode("utf-8")


def render(diagram: object, path: str | os.PathLike[str], format: str | None = None) -> Path:
    """Write a diagram to `path` as SVG or PNG and return the path written.

    `diagram` is what `draw_dot` returns (any `graphviz.Digraph` works) or a
    Value, which is drawn first. `format` defaults to the path's suffix (`.svg`,
    `.png`), else to the svg or png format the diagram was made with
    (`draw_dot(v, format="png")`), else `"svg"`; a path without such a suffix gets one
    (`lesson.v2` becomes `lesson.v2.svg`). Uses the system Graphviz `dot` when
    installed, else `graphviz-pure`. When neither exists the DOT source is
    written next to `path` (suffix `.dot`) and `RendererNotFound` says what to
    install.
    """
    source = _source_of(diagram, "render()")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"render(): path must be a str or a path, got {type(path).__name__}")
    target = Path(path)
    suffix = target.suffix.lstrip(".").lower()
    if format is None:
        own = getattr(diagram, "format", None)
        # a plain graphviz.Digraph says "pdf" by default: only svg and png count as chosen
        format = suffix if suffix in _KNOWN_SUFFIXES else own if own in ("svg", "png") else "svg"
    format = check_format(format, "render()").lower()
    if suffix != format:
        if suffix in _KNOWN_SUFFIXES:
            raise ValueError(
                f"render(): the path ends in .{suffix} but format is {format!r}; make them agree"
            )
        target = target.with_name(f"{target.name}.{format}")
    target.parent.mkdir(parents=True, exist_ok=True)
    if format in SOURCE_FORMATS:
        target.write_text(source, encoding="utf-8")
        return target
    try:
        data = run(source, format)
    except RendererNotFound as e:
        fallback = target.with_suffix(".dot")
        fallback.write_text(source, encoding="utf-8")
        raise RendererNotFound(f"{e}. The DOT source was written to {fallback}") from None
    target.write_bytes(data)
    return target


#: the same as `render` (`microgradx.save` is the checkpoint function, not this)
save = render

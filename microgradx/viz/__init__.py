"""Diagrams and text traces of a computation graph.

`draw_dot` turns a graph into a `graphviz.Digraph` (one box per Value, one small
circle per op); `render` writes it as SVG or PNG. Rendering uses the system Graphviz
`dot` when it is installed and otherwise the self-contained `graphviz-pure` executable
(`pip install graphviz-pure`, included in `microgradx[viz]`), so diagrams work on a fresh
machine. `trace` prints the same graph as text, for terminals and logs.

One module per job:

* `graph`: the nodes a picture shows, in order (`topological`, `path_between`);
* `diagram`: `draw_dot`, the boxes and circles;
* `digraph`: `Diagram`, the `graphviz.Digraph` subclass that `draw_dot` returns;
* `renderer`: finding and running `dot` or `graphviz-pure` (`find_renderer`);
* `rendering`: `render` and `to_svg`;
* `text`: `trace`;
* `steps`: `render_steps`, backpropagation step by step as a page, a GIF or frames.
"""

from typing import TYPE_CHECKING

from .diagram import draw_dot
from .graph import path_between, topological
from .renderer import INSTALL_HINT as INSTALL_HINT  # for messages of one's own (demos)
from .renderer import RendererNotFound, RenderError, find_renderer
from .rendering import render, save, to_svg
from .text import trace

__all__ = [
    "RenderError",
    "RendererNotFound",
    "draw_dot",
    "find_renderer",
    "path_between",
    "render",
    "save",
    "to_svg",
    "topological",
    "trace",
]

if TYPE_CHECKING:
    from .digraph import Diagram as Diagram
else:
    # `Diagram` subclasses `graphviz.Digraph`, so defining it imports graphviz: it is
    # defined when first asked for, and `import microgradx` works without graphviz (it is
    # left out of `__all__` so that `from microgradx.viz import *` does too). Type checkers
    # read the import above instead, so they see no attribute the module does not have.
    def __getattr__(name: str) -> type:
        if name == "Diagram":
            from .digraph import Diagram

            return Diagram
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

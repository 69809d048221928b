"""`Diagram`: the `graphviz.Digraph` that `draw_dot` returns, renderable without Graphviz.

The one module that imports the `graphviz` package (the extra `microgradx[viz]`): the rest
of microgradx imports it on the first diagram, so `import microgradx` works without it.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import graphviz  # type: ignore[import-untyped]
except ImportError as e:
    raise ImportError(
        'drawing a graph needs the graphviz package: pip install "microgradx[viz]"',
        name="graphviz",
    ) from e

# `_renderer`: the methods take graphviz's parameter `renderer`, which would shadow it
from . import renderer as _renderer

__all__ = ["Diagram"]


class Diagram(graphviz.Digraph):  # type: ignore[misc]
    """A `graphviz.Digraph` that renders without the system Graphviz.

    `pipe` (and so the SVG shown by Jupyter) and the `render` method fall back to
    `graphviz-pure` when `dot` is not installed; everything else is `graphviz.Digraph`.
    """

    def pipe(
        self,
        format: str | None = None,
        renderer: str | None = None,
        formatter: str | None = None,
        neato_no_op: bool | int | None = None,
        quiet: bool = False,
        *,
        engine: str | None = None,
        encoding: str | None = None,
    ) -> bytes | str:
        """The diagram rendered in `format` (bytes, or str when `encoding` is given)."""
        if (
            _renderer.system_dot()
            or renderer
            or formatter
            or neato_no_op
            or engine not in (None, "dot")
        ):
            result: bytes | str = super().pipe(
                format, renderer, formatter, neato_no_op, quiet, engine=engine, encoding=encoding
            )
            return result
        data = _renderer.run(self.source, format or self.format)
        return data.decode(encoding) if encoding else data

    def render(
        self,
        filename: str | os.PathLike[str] | None = None,
        directory: str | os.PathLike[str] | None = None,
        view: bool = False,
        cleanup: bool = False,
        format: str | None = None,
        renderer: str | None = None,
        formatter: str | None = None,
        neato_no_op: bool | int | None = None,
        quiet: bool = False,
        quiet_view: bool = False,
        *,
        outfile: str | os.PathLike[str] | None = None,
        engine: str | None = None,
        raise_if_result_exists: bool = False,
        overwrite_source: bool = False,
    ) -> str:
        """Like `graphviz.Digraph.render` (writes the source, then `source.FORMAT`).

        Without the system Graphviz this renders with `graphviz-pure` (`view=True` and
        the renderer/formatter/engine options still need the system Graphviz).
        """
        if (
            _renderer.system_dot()
            or view
            or renderer
            or formatter
            or neato_no_op
            or engine not in (None, "dot")
        ):
            result = super().render(
                filename, directory, view, cleanup, format, renderer, formatter, neato_no_op,
                quiet, quiet_view, outfile=outfile, engine=engine,
                raise_if_result_exists=raise_if_result_exists, overwrite_source=overwrite_source,
            )  # fmt: skip
            return str(result)
        fmt = format or (Path(outfile).suffix.lstrip(".") if outfile else "") or self.format
        if filename is None and outfile is not None:
            filename = Path(outfile).with_suffix(".gv")
        source_path = Path(self.save(filename, directory=directory))
        out = Path(outfile) if outfile is not None else Path(f"{source_path}.{fmt}")
        if raise_if_result_exists and out.exists():
            raise FileExistsError(f"output file exists: {out}")
        out.write_bytes(_renderer.run(self.source, fmt))
        if cleanup:
            source_path.unlink()
        return str(out)

    def _repr_svg_(self) -> str:
        return _renderer.run(self.source, "svg").decode("utf-8")

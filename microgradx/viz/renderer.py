"""The renderer: the program that turns DOT source into SVG or PNG, found and run.

The system Graphviz `dot` is used when it is installed, and otherwise the self-contained
`graphviz-pure` executable (`pip install graphviz-pure`, included in `microgradx[viz]`), so
diagrams work on a fresh machine. Nothing here needs the `graphviz` Python package.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = [
    "INSTALL_HINT",
    "RenderError",
    "RendererNotFound",
    "check_format",
    "find_renderer",
    "run",
    "system_dot",
]

#: what to install when no renderer is found
INSTALL_HINT = (
    'pip install graphviz-pure  (or pip install "microgradx[viz]"), '
    "or install the system Graphviz package that provides `dot`"
)
_FORMAT = re.compile(r"[A-Za-z0-9_.:-]+")


class RendererNotFound(RuntimeError):  # noqa: N818 - reads as a sentence at the raise site
    """Neither the system Graphviz `dot` nor `graphviz-pure` could be found."""


class RenderError(RuntimeError):
    """The renderer ran but failed (its error output is in the message)."""


def check_format(format: object, where: str) -> str:
    """`format` if it can name a Graphviz output format (`"svg"`, `"png"`), else `ValueError`."""
    if not isinstance(format, str) or not _FORMAT.fullmatch(format):
        raise ValueError(f"{where}: format must be a name such as 'svg' or 'png', got {format!r}")
    return format


def system_dot() -> str | None:
    """Path of the system Graphviz `dot`, or None."""
    return shutil.which("dot")


def _graphviz_pure() -> str | None:
    found = shutil.which("graphviz-pure")
    if found:
        return found
    # installed in a virtual environment that is not on PATH: look next to the interpreter
    suffix = ".exe" if os.name == "nt" else ""
    for folder in {
        Path(sys.executable).parent,
        Path(sys.prefix) / "bin",
        Path(sys.prefix) / "Scripts",
    }:
        candidate = folder / f"graphviz-pure{suffix}"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def find_renderer() -> str | None:
    """Path of the program that renders diagrams: system `dot`, else `graphviz-pure`."""
    return system_dot() or _graphviz_pure()


def run(source: str, format: str) -> bytes:
    """DOT `source` rendered as `format` by the program `find_renderer` names.

    Raises:
        RendererNotFound: there is no renderer (the message says what to install).
        RenderError: the renderer failed, or wrote nothing.
    """
    program = find_renderer()
    if program is None:
        raise RendererNotFound(
            f"cannot render {format}: no Graphviz renderer found (neither `dot` nor "
            f"`graphviz-pure`). Install one: {INSTALL_HINT}"
        )
    done = subprocess.run(
        [program, f"-T{format}"], input=source.encode("utf-8"), capture_output=True, check=False
    )
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise RenderError(f"{Path(program).name} -T{format} failed: {message or 'no output'}")
    return done.stdout

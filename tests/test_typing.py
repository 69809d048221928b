"""Type checkers see the real API: every operator and method is declared, nothing else.

Runs `mypy --strict` (a development tool, in the `dev` extra) on small programs. Without
mypy the tests are skipped with a reason; `.ci/run` installs it and sets
MICROGRADX_REQUIRE_TYPING=1, which turns the skip into a failure.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def mypy(tmp_path: Path, code: str) -> tuple[int, str]:
    if importlib.util.find_spec("mypy") is None:
        if os.environ.get("MICROGRADX_REQUIRE_TYPING"):
            pytest.fail("mypy is not installed (pip install -e '.[dev]')")
        pytest.skip("mypy is not installed: pip install -e '.[dev]' to run the typing tests")
    program = tmp_path / "program.py"
    program.write_text(textwrap.dedent(code))
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(program)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    return out.returncode, out.stdout


def test_the_public_api_type_checks(tmp_path: Path) -> None:
    code, output = mypy(
        tmp_path,
        """
        from microgradx import Value, defprim, grad

        a, b = Value(2.0), Value(-3.0)
        c: Value = (a * b + 2.0 * a - a / 3 + a**2 + 2**a).tanh().relu().exp()
        d: Value = abs(-c).sigmoid().log().sqrt().sin().cos().sign()
        d.backward()
        g: list[Value] = grad(c, [a, b])
        softplus = defprim("softplus", "log1p(exp(x))", "g * sigmoid(x)")
        e = softplus(a)  # a user op, through the Primitive it returns
        print(g, e, a.grad, a.data, a.label)
        """,
    )
    assert code == 0, output


def test_a_misspelt_method_is_an_error(tmp_path: Path) -> None:
    code, output = mypy(
        tmp_path,
        """
        from microgradx import Value

        Value(1.0).exq()
        print(Value(1.0).dat)
        """,
    )
    assert code == 1
    assert '"Value" has no attribute "exq"' in output
    assert '"Value" has no attribute "dat"' in output

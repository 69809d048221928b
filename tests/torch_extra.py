"""PyTorch for the tests of the optional extra `microgradx[torch]`.

A test that needs torch calls `torch_or_skip()` (or uses a fixture that does). Without
torch the test is skipped with a reason that says it did not run and what to install;
`.ci/run` installs the CPU build and sets MICROGRADX_REQUIRE_TORCH=1, which turns that skip
into a failure, so in CI these tests always run.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

#: the environment variable that makes a missing torch fail the tests instead of skipping
REQUIRE = "MICROGRADX_REQUIRE_TORCH"
INSTALL = 'pip install -e ".[torch]" (the CPU build, torch==2.13.0); .ci/run installs it'


def missing() -> str | None:
    """Why torch cannot be used here (None when it can)."""
    try:
        importlib.import_module("torch")
    except ImportError as error:
        return f"PyTorch is not installed ({error})"
    return None


def torch_or_skip() -> ModuleType:
    """The `torch` module; or skip the calling test (fail it when REQUIRE is set)."""
    reason = missing()
    if reason:
        message = f"torch test did not run: {reason}; install with {INSTALL}"
        if os.environ.get(REQUIRE):  # set by .ci/run: there the tests must run
            pytest.fail(message)
        pytest.skip(message)
    return importlib.import_module("torch")

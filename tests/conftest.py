"""Shared pytest set-up: a Hypothesis profile sized for CI, a headless matplotlib, and
every test's own ops taken back when it ends."""

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from microgradx.primitive import REGISTRY

os.environ.setdefault("MPLBACKEND", "Agg")

settings.register_profile(
    "default",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# the headless browser and the built docs site, for any test that asks for them
pytest_plugins = ["browser"]


@pytest.fixture(autouse=True)
def _registry_as_it_was() -> Iterator[None]:
    """Every op a test registers (`defprim`) is taken back when the test ends, so that no
    test runs with another test's ops, and the registry holds what it held before."""
    before = list(REGISTRY.by_name)
    with REGISTRY.scope():
        yield
    assert list(REGISTRY.by_name) == before

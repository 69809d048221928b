"""Headless Chromium for the tests, driven by Selenium, with the network closed.

Use the `browser` fixture (registered in conftest.py) in a test of any HTML page:

    def test_page(browser: WebDriver, tmp_path: Path) -> None:
        browser.get((tmp_path / "page.html").as_uri())

When Chromium, its driver or Selenium is missing the test is skipped with a reason that
says what to install; `.ci/run` installs all three and sets MICROGRADX_REQUIRE_BROWSER=1,
which turns that skip into a failure, so in CI these tests always run.
`built_site` builds the MkDocs site once per test session for the tests that read it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = ("/usr/bin/chromedriver", "chromedriver")
INSTALL = (
    "apt-get install -y chromium chromium-driver && pip install selenium "
    '(or pip install -e ".[test]"); .ci/run installs them'
)
# Chromium with no network stalls on its background services unless they are all off
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)
WIDTH, HEIGHT = 1280, 900


def _which(names: tuple[str, ...]) -> str | None:
    for name in names:
        found = name if os.path.isabs(name) and os.access(name, os.X_OK) else shutil.which(name)
        if found:
            return found
    return None


def missing() -> str | None:
    """Why the browser cannot start here (None when it can)."""
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed"
    if _which(CHROMIUM) is None:
        return "Chromium is not installed"
    if _which(CHROMEDRIVER) is None:
        return "chromedriver is not installed"
    return None


def start(width: int = WIDTH, height: int = HEIGHT) -> tuple[WebDriver, str]:
    """A headless Chromium window of the given size, and its fresh profile folder."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(_which(CHROMIUM))
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    service = Service(executable_path=str(_which(CHROMEDRIVER)))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    return driver, profile


@pytest.fixture(scope="session")
def browser() -> Iterator[WebDriver]:
    """One headless Chromium (1280 x 900) for the whole session; skipped if not installed."""
    reason = missing()
    if reason:
        message = f"browser test did not run: {reason}; install with {INSTALL}"
        if os.environ.get("MICROGRADX_REQUIRE_BROWSER"):  # set by .ci/run: it must run there
            pytest.fail(message)
        pytest.skip(message)
    driver, profile = start()
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def mkdocs_missing() -> str | None:
    """Why the docs cannot be built here (None when they can)."""
    for module in ("mkdocs", "material", "mkdocstrings", "latex2mathml"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[docs]')"
    return None


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documentation built once per session with `mkdocs build --strict`."""
    reason = mkdocs_missing()
    if reason:
        if os.environ.get("MICROGRADX_REQUIRE_BROWSER"):
            pytest.fail(f"docs test did not run: {reason}")
        pytest.skip(f"docs test did not run: {reason}")
    out = tmp_path_factory.mktemp("site")
    env: dict[str, Any] = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out

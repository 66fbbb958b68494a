"""Headless Chromium driven over the W3C WebDriver protocol (Debian ``chromium`` and
``chromium-driver``), with nothing but the standard library: start ``chromedriver`` on a
free loopback port, open one session, run scripts in the page, take screenshots."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .servers import free_loopback_ports

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
)


def chromium_binaries() -> tuple[str, str] | None:
    """(chromium, chromedriver) when both are installed, else None."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


class Browser:
    def __init__(self, base: str, session: str) -> None:
        self.base = base
        self.session = session

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}/session/{self.session}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"webdriver {method} {path}: {exc.read().decode(errors='replace')[:500]}") from None

    def get(self, url: str) -> None:
        self._call("POST", "/url", {"url": url})

    def run(self, script: str, *args: Any) -> Any:
        """The value of ``script`` (a function body, ``return ...``) in the page."""
        return self._call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self._call("GET", "/screenshot")))

    def until(self, script: str, what: str, timeout: float = 30.0) -> Any:
        """Poll ``script`` until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.run(script)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting in the browser for {what}")
            time.sleep(0.1)


@contextmanager
def browser() -> Iterator[Browser]:
    binaries = chromium_binaries()
    if binaries is None:
        raise RuntimeError("chromium and chromedriver are not installed (scripts/setup.sh installs them)")
    chromium, chromedriver = binaries
    (port,) = free_loopback_ports(1)
    with tempfile.TemporaryDirectory(prefix="mpf-chromium-") as profile:
        driver = subprocess.Popen([chromedriver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(base + "/status", timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline or driver.poll() is not None:
                        raise RuntimeError("chromedriver did not start") from None
                    time.sleep(0.05)
            capabilities = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
                "binary": chromium, "args": [*CHROMIUM_ARGS, f"--user-data-dir={profile}"]}}}}
            request = urllib.request.Request(base + "/session", data=json.dumps(capabilities).encode(), method="POST",
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as response:
                session = json.loads(response.read())["value"]["sessionId"]
            b = Browser(base, session)
            try:
                yield b
            finally:
                try:
                    urllib.request.urlopen(urllib.request.Request(f"{base}/session/{session}", method="DELETE"), timeout=30).close()
                except OSError:
                    pass
        finally:
            driver.terminate()
            try:
                driver.wait(10)
            except subprocess.TimeoutExpired:
                driver.kill()
                driver.wait()

"""Open a page in a real headless Chromium and read what a person would see, with the standard library.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
JSON messages ending in NUL on file descriptors 3 and 4), so no WebDriver or Playwright is
needed, only Debian's ``chromium`` package (``apt-get install chromium``; ``.ci/run``
installs it). The browser gets no network: every host name resolves to nothing.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
    "--disable-default-apps", "--host-resolver-rules=MAP * ~NOTFOUND", "--remote-debugging-pipe",
)


def find_browser() -> str | None:
    """The first Chromium on PATH, or None."""
    return next((path for path in map(shutil.which, CANDIDATES) if path), None)


class Browser:
    """One headless Chromium; ``inspect(path, expression)`` loads a file and evaluates JavaScript in it."""

    def __init__(self, executable: str, timeout_s: float = 90.0) -> None:
        self.timeout_s = timeout_s
        self._profile = tempfile.mkdtemp(prefix="drift-chromium-")
        to_browser, self._out = os.pipe()
        self._in, from_browser = os.pipe()

        def wire() -> None:  # the protocol's fixed descriptors: 3 = commands in, 4 = replies out
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser, from_browser)]
            os.dup2(high[0], 3)  # dup2 leaves the copy inheritable, so it survives exec
            os.dup2(high[1], 4)

        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire, close_fds=False,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._send("Browser.close")
            self.proc.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired, TimeoutError):
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self._out)
            os.close(self._in)
            shutil.rmtree(self._profile, ignore_errors=True)

    def inspect(self, path: Path, expression: str) -> Any:
        """Load ``path`` in a new tab, wait for its load event, return ``expression``'s (awaited) value."""
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self._call("Page.enable", session=session)
        self._call("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
        self._wait_event("Page.loadEventFired", session)
        reply = self._call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True}, session=session)
        if "exceptionDetails" in reply:
            raise AssertionError(f"the page's script failed: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    # -- the protocol ------------------------------------------------------------------------------
    def _send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict:
        wanted = self._send(method, params, session)
        while True:
            message = self._read()
            if message.get("id") == wanted:
                if "error" in message:
                    raise AssertionError(f"{method} failed: {message['error']}")
                return message.get("result", {})

    def _wait_event(self, method: str, session: str) -> None:
        while True:
            message = self._read()
            if message.get("method") == method and message.get("sessionId") == session:
                return

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_s
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError(f"Chromium did not answer within {self.timeout_s:.0f} s")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise OSError(f"Chromium closed the pipe (exit code {self.proc.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

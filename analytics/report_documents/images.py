"""Static images of the report's charts: plotly figures drawn to PNG by kaleido in a local Chromium, offline.

kaleido (>= 1.0) drives a Chrome or Chromium it finds: ``BROWSER_PATH`` where set, else Debian's
``/usr/bin/chromium``, else a chromium or chrome on PATH. It loads plotly.js from the plotly package
and, with MathJax off, nothing from the network. All charts of a document are drawn in one browser
session (the browser's start is most of the time).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from pathlib import Path
from typing import Any, Sequence

import plotly.graph_objects as go

DEBIAN_CHROMIUM = "/usr/bin/chromium"
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
SCALE = 2  # pixels per CSS pixel: sharp in print
TIMEOUT = 90  # seconds for one image


class ChartRenderError(RuntimeError):
    """The charts cannot be drawn as images here (no browser for kaleido, or it failed)."""


def browser_path() -> str | None:
    """The Chrome or Chromium kaleido will use, or None when there is none."""
    if os.environ.get("BROWSER_PATH"):
        return os.environ["BROWSER_PATH"]
    if Path(DEBIAN_CHROMIUM).exists():
        return DEBIAN_CHROMIUM
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def missing() -> str | None:
    """Why charts cannot be drawn here, or None."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return "the kaleido package is not installed (pip install 'kaleido>=1,<2')"
    if browser_path() is None:
        return (
            f"no Chromium to draw the charts with: install Debian's chromium ({DEBIAN_CHROMIUM}: apt-get install "
            "chromium) or set BROWSER_PATH to a Chrome or Chromium"
        )
    return None


async def _draw(specs: Sequence[dict[str, Any]], path: str) -> list[bytes]:
    import kaleido

    async with kaleido.Kaleido(n=1, timeout=TIMEOUT, mathjax=False, path=path) as k:
        return [await k.calc_fig(spec["fig"], opts=spec["opts"]) for spec in specs]


def _in_thread(specs: Sequence[dict[str, Any]], path: str) -> list[bytes]:
    """Run the drawing in its own thread and event loop: callers may have a loop running (Streamlit, Jupyter)."""
    out: dict[str, Any] = {}

    def work() -> None:
        try:
            out["images"] = asyncio.run(_draw(specs, path))
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread below
            out["error"] = err

    t = threading.Thread(target=work, name="report-charts", daemon=True)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["images"]


# a fresh browser per attempt; kaleido 1.x sometimes calls into its page before the page's script
# has loaded ("kaleido_scopes is not defined") when the machine is busy
RENDER_ATTEMPTS = 3


def png_images(figs: Sequence[go.Figure], width: int) -> list[bytes]:
    """Each figure as PNG bytes, ``width`` CSS pixels wide at its own layout height (× SCALE)."""
    why = missing()
    if why:
        raise ChartRenderError(f"The report's charts cannot be drawn as images: {why}.")
    if not figs:
        return []
    specs = [
        {
            "fig": f.to_dict(),
            "opts": {"format": "png", "width": width, "height": f.layout.height or 400, "scale": SCALE},
        }
        for f in figs
    ]
    last: Exception | None = None
    for _ in range(RENDER_ATTEMPTS):
        try:
            return _in_thread(specs, browser_path() or DEBIAN_CHROMIUM)
        except ChartRenderError:
            raise
        except Exception as err:  # kaleido's and choreographer's errors have no common base
            last = err  # on a busy machine kaleido's page can be used before its script loaded: try again
    raise ChartRenderError(
        f"The report's charts could not be drawn with {browser_path()}: {type(last).__name__}: {last}"
    ) from last

"""What a sign-in on this machine tells the person and takes from them: the address to open
(and the browser opened when one can be), a redirect pasted from another machine, a QR code
for a device code."""

from __future__ import annotations

import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .loopback import LoopbackRedirect

__all__ = ["Printer", "accept_pasted", "show_qr", "show_url"]


@dataclass
class Printer:
    """Where a flow talks to the person: ``say`` for messages (stderr), ``ask`` for input."""

    say: Callable[[str], None]
    ask: Callable[[str], str]
    open_browser: bool = True
    #: Reads one pasted line (``""`` at the end of input); set for a headless sign-in.
    read_line: Callable[[], str] | None = None


def show_url(printer: Printer, url: str) -> None:
    printer.say("Open this address in a browser to sign in (it opens by itself if it can):")
    printer.say(f"  {url}")
    if printer.open_browser:
        try:
            webbrowser.open(url)
        except Exception:
            printer.say("(no browser could be opened; use the address above)")


def accept_pasted(redirect: LoopbackRedirect[Any], printer: Printer) -> None:
    """A headless sign-in (as gcloud and the GitHub CLI offer): the browser runs on another
    machine, its redirect to this machine's loopback address fails to load, and the person
    pastes the address it shows; it is checked like a redirect that arrives (state, iss, …).
    A line is read in a daemon thread while the loopback server keeps waiting too."""
    read = printer.read_line
    assert read is not None
    printer.say(
        "If the browser runs on another machine, its last page will not load: paste its "
        "address here and press Enter."
    )

    def listen() -> None:
        while True:
            try:
                line = read()
            except (OSError, ValueError):
                return
            if not line:
                return
            if not line.strip():
                continue
            reason = redirect.offer(line)
            if reason is None:
                return
            printer.say(f"That is not the address of this sign-in: {reason}")

    threading.Thread(target=listen, name="oauthkit-paste", daemon=True).start()


def show_qr(text: str, printer: Printer) -> None:
    try:
        import io

        import segno
    except ImportError:
        return
    buffer = io.StringIO()
    segno.make(text, error="l").terminal(out=buffer, compact=True)
    printer.say(buffer.getvalue().rstrip("\n"))

"""Text the command shows a person: what a server or a store supplied is made inert first
(DESIGN rule 10). Control characters — C0 (ESC starts every terminal escape: colours, titles,
OSC 52 clipboard writes, hyperlinks), DEL and C1 — and the Unicode bidirectional overrides
that reorder what is seen are written as visible escapes (``\\x1b``, ``\\u202e``); rich
markup is never interpreted in such text."""

from __future__ import annotations

import re

__all__ = ["inert"]

#: Control and bidi characters, less tab and newline (kept in text of several lines).
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE_RE = re.compile(f"[{_UNSAFE}]")
_UNSAFE_LINE_RE = re.compile(f"[\t\n{_UNSAFE}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control and bidi character escaped; newlines and tabs are kept
    unless ``one_line`` (a table cell, a value inside a sentence)."""
    return (_UNSAFE_LINE_RE if one_line else _UNSAFE_RE).sub(_escape, text)

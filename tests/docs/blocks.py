"""The fenced code blocks of the README and the documentation, and what the tests do with each.

A block's language says how it is checked:

* ``python``: run, in order, in one namespace per page (a page reads as one script);
* ``sh``: run with ``bash -euo pipefail`` in the page's folder, in order with the Python
  blocks;
* ``toml``: read by the command's configuration loader, every provider resolved;
* ``text``: an output listing, compared when it follows a run block (see ``output``).

An HTML comment on the line before a block (invisible on GitHub and on the site) changes that:

* ``<!-- not run: WHY -->``: the block is not run; WHY must say why;
* ``<!-- excerpt: PATH -->``: the block is an excerpt of PATH (a file that other tests run):
  each of its non-blank lines must appear in PATH, in the same order;
* ``<!-- background: HOST:PORT -->``: a ``sh`` block that starts a server with ``&``; the page
  goes on once HOST:PORT accepts connections, and the server is stopped after the page;
* ``<!-- user -->``: a ``sh`` block that asks a person to open an address (a device-flow
  prompt): the real-browser user ``$BROWSER`` opens the first ``(or open URL)`` it prints;
* pages that run ``oauthkit sandbox --port 8600`` run it on a free port that the test
  chooses: ``8600`` in their blocks stands for that port;
* ``<!-- output -->`` before a ``text`` block: the output of the run block just above must
  match it line by line, ``…`` standing for any text within a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

RUN = {"python", "sh"}
CHECKED = RUN | {"toml"}
LISTINGS = {"text", "json", "http", "ini"}
MARKERS = ("not run", "excerpt", "background", "output", "user")

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_MARKER = re.compile(r"^<!--\s*(?P<kind>[a-z ]+?)\s*(?::\s*(?P<value>.*?))?\s*-->$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the first line of code (1-based)
    language: str
    code: str
    marker: str | None = None
    value: str = ""

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def pages() -> list[Path]:
    """The README and every Markdown page of the docs site."""
    found = [ROOT / "README.md"]
    for path in sorted(DOCS.rglob("*.md")):
        if "_build" not in path.relative_to(DOCS).parts:
            found.append(path)
    return found


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page``; MyST directives (```{name}) are not code."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        fence, info = match["fence"], match["info"].strip()
        end = index + 1
        while end < len(lines) and not (
            lines[end].startswith(fence[0] * len(fence)) and not lines[end].strip(fence[0])
        ):
            end += 1
        if end == len(lines):
            raise ValueError(f"{page}:{index + 1}: unclosed code fence")
        language = info.split()[0] if info else ""
        if not language.startswith("{"):
            marker, value = _marker_before(lines, index)
            code = "\n".join(lines[index + 1 : end]) + "\n"
            found.append(Block(page, index + 2, language, code, marker, value))
        index = end + 1
    return found


def _marker_before(lines: list[str], index: int) -> tuple[str | None, str]:
    before = index - 1
    while before >= 0 and not lines[before].strip():
        before -= 1
    if before < 0:
        return None, ""
    match = _MARKER.match(lines[before].strip())
    if match is None or match["kind"] not in MARKERS:
        return None, ""
    return match["kind"], (match["value"] or "").strip()


def matches_output(expected: str, actual: str) -> bool:
    """``actual`` equals ``expected`` line by line, ``…`` matching any run of characters."""
    want = expected.rstrip("\n").splitlines()
    got = actual.rstrip("\n").splitlines()
    if len(want) != len(got):
        return False
    for pattern, line in zip(want, got, strict=True):
        regex = ".*".join(re.escape(part) for part in pattern.rstrip().split("…"))
        if re.fullmatch(regex, line.rstrip()) is None:
            return False
    return True

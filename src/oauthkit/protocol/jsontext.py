"""Reading JSON that a server sent (RFC 8259), refusing what a hostile server could abuse.

Every JSON body oauthkit reads from the network goes through :func:`loads`, which adds to the
standard decoder:

- a length cap (:data:`MAX_TEXT`), so the work is bounded before it starts;
- at most :data:`MAX_DEPTH` levels of nesting: a deeply nested body would exhaust the
  interpreter's recursion limit in the decoder or in whoever walks the value afterwards;
- no repeated member name: RFC 8259 §4 leaves the meaning of a repeated name to the
  implementation, so a token response with two ``access_token`` members (or an ID token with
  two ``exp`` claims, RFC 7519 §4) is ambiguous and refused, as the form decoder refuses a
  repeated parameter;
- no ``NaN`` or ``Infinity`` (not JSON at all), no number with more than
  :data:`MAX_NUMBER_DIGITS` digits, and no float that overflows to infinity.

The standard decoder runs in linear time; every check here is a single pass.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_NUMBER_DIGITS", "MAX_TEXT", "JSONTextError", "loads"]

#: The longest JSON text read (bytes or characters): 1 MiB, the drivers' body limit.
MAX_TEXT = 1024 * 1024
#: The deepest nesting of arrays and objects accepted.
MAX_DEPTH = 32
#: The most digits a JSON number may have (a 64-bit integer has 20).
MAX_NUMBER_DIGITS = 40


class JSONTextError(ValueError):
    """The text is not JSON that oauthkit accepts; the message says why (never the text)."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise JSONTextError(f"the member name {name[:40]!r} is repeated")
            seen.add(name)
    return result


def _constant(name: str) -> Any:
    raise JSONTextError(f"{name} is not a JSON number")


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise JSONTextError(f"a number has {len(text)} digits (at most {MAX_NUMBER_DIGITS})")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS + 8:
        raise JSONTextError(f"a number is {len(text)} characters long")
    value = float(text)
    if not math.isfinite(value):
        raise JSONTextError("a number overflows a float")
    return value


def _check_depth(value: Any) -> None:
    """Breadth-first, without recursion: one visit per container."""
    level = [value]
    for _ in range(MAX_DEPTH):
        nested: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                nested.extend(v for v in item.values() if isinstance(v, dict | list))
            elif isinstance(item, list):
                nested.extend(v for v in item if isinstance(v, dict | list))
        if not nested:
            return
        level = nested
    raise JSONTextError(f"the JSON nests deeper than {MAX_DEPTH} levels")


def loads(text: bytes | str) -> Any:
    """Decode ``text`` as JSON under the rules above, or raise :class:`JSONTextError`."""
    if len(text) > MAX_TEXT:
        raise JSONTextError(f"the JSON text is longer than {MAX_TEXT} bytes")
    try:
        value = json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_constant=_constant,
            parse_int=_integer,
            parse_float=_float,
        )
    except JSONTextError:
        raise
    except RecursionError:
        raise JSONTextError(f"the JSON nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise JSONTextError(f"not JSON: {type(exc).__name__}") from None
    _check_depth(value)
    return value

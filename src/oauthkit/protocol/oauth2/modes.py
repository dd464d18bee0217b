"""The response modes of an authorization response whose answer is a JWT (JARM §2.3): a leaf,
so that the profile rules (:mod:`.fapi`) and JARM itself (:mod:`.jarm`) both read it."""

from __future__ import annotations

from typing import Final

__all__ = ["JWT_RESPONSE_MODES", "is_jwt_response_mode"]

#: JARM §2.3: the response modes whose answer is a JWT.
JWT_RESPONSE_MODES: Final = ("jwt", "query.jwt", "fragment.jwt", "form_post.jwt")


def is_jwt_response_mode(mode: str | None) -> bool:
    """Whether ``mode`` is one of JARM's response modes."""
    return mode in JWT_RESPONSE_MODES

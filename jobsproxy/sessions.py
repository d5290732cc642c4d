"""Tokens as the traffic shows them: handed out by login or renewal, ended by logout.

A token a login or a renewal handed out must work until it expires or is logged out; a token
logged out must not work any more. Both are judged only by answers that passed through the proxy.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from jobsproxy.tracker import Verdict
from verdicts import checks

TOKEN_WORKS = "handed_out_token_works"
KEPT = 10_000  # tokens remembered; the oldest are forgotten first
UNAUTHORIZED = 401


class Sessions:
    """The tokens handed out and those logged out, judged at every use."""

    def __init__(self) -> None:
        self.handed_out: dict[str, tuple[str, float | None]] = {}  # token -> (the check it falls under, expiry)
        self.ended: dict[str, str] = {}  # token -> the logout that ended it

    def hand_out(self, token: str, *, renewed: bool) -> None:
        """A login (or, `renewed`, a renewal) answered this token."""
        self.handed_out[token] = (checks.RENEWED_TOKEN_WORKS if renewed else TOKEN_WORKS, expiry(token))
        self.ended.pop(token, None)
        _bound(self.handed_out)

    def end(self, token: str, call: str) -> None:
        """A logout answered its success for this token."""
        self.ended[token] = call
        _bound(self.ended)

    def forget(self) -> None:
        """Forget every token (a change outside the contract, such as a reset, may have revived them)."""
        self.handed_out.clear()
        self.ended.clear()

    def judge(self, token: str, operation: str, status: int) -> Verdict | None:
        """A use of `token` by an operation that needs one, answered `status`; None when nothing is known."""
        if token in self.ended:
            problems = (
                []
                if not 200 <= status < 300
                else [
                    f"Received {status} for {operation} with a token after {self.ended[token]} / Documented: {UNAUTHORIZED}"
                ]
            )
            return Verdict(checks.LOGOUT_ENDS_SESSION, operation, problems)
        if token not in self.handed_out:
            return None
        check, expires = self.handed_out[token]
        if expires is not None and expires <= time.time():
            return None
        how = "a renewal" if check == checks.RENEWED_TOKEN_WORKS else "a login"
        problems = (
            []
            if status != UNAUTHORIZED
            else [
                f"Received {status} for {operation} with a token {how} handed out, neither expired nor logged out / Documented: accepted"
            ]
        )
        return Verdict(check, operation, problems)


def expiry(token: str) -> float | None:
    """The `exp` of a JWT, in seconds since the epoch; None for a token that is no JWT or has none."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def _bound(tokens: dict[str, Any]) -> None:
    while len(tokens) > KEPT:
        del tokens[next(iter(tokens))]

"""JWTs as the spec's bearer scheme describes them: what a good one holds, and forgeries a server must refuse.

The spec says its bearer tokens are JWTs (`bearerFormat: JWT`): a token the deployment hands out
must then be one, naming the user (`sub`) and expiring (`exp`, RFC 7519); and a token the
deployment did not sign as it signs its own (unsigned, signed with another key, expired, of a
user it does not know) must be refused like any invalid token.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
import warnings
from typing import Any

import jwt

DEVELOPMENT_SECRET = "secret"  # Nick's development signing secret; the documented token is signed with it
FORMAT = "JWT"  # the `bearerFormat` that makes these checks apply
LIFETIME = 3600  # seconds a forged token claims to be valid for
Claims = dict[str, Any]


def bearer_format(resolved: dict[str, Any]) -> str | None:
    """The `bearerFormat` of the spec's HTTP bearer scheme, if it has one."""
    schemes = resolved.get("components", {}).get("securitySchemes", {})
    for scheme in schemes.values():
        if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
            found = scheme.get("bearerFormat")
            return str(found) if found is not None else None
    return None


def says_jwt(resolved: dict[str, Any]) -> bool:
    """Whether the spec's bearer tokens are JWTs, so that these checks apply."""
    return str(bearer_format(resolved)).lower() == FORMAT.lower()


NOT_JWT = f"the spec's bearer scheme does not say its tokens are {FORMAT}s (bearerFormat)"


def _segment(text: str) -> Any:
    padded = text + "=" * (-len(text) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def decoded(token: str) -> tuple[Claims, Claims] | None:
    """A JWT's header and claims, unverified; None when the token is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return None
    try:
        header, claims = _segment(parts[0]), _segment(parts[1])
    except (ValueError, binascii.Error, UnicodeError):
        return None
    return (header, claims) if isinstance(header, dict) and isinstance(claims, dict) else None


def token_problems(token: str, login: str, lives: int | None = None) -> list[str]:
    """What makes a token handed out to `login` no JWT that names its user and expires (after `lives` seconds, when
    the spec says how long tokens live)."""
    found = decoded(token)
    if found is None:
        return ["Received a token that is not a JWT (header.claims.signature) / Documented: a JWT (bearerFormat)"]
    header, claims = found
    problems = []
    if str(header.get("alg", "")).lower() in ("", "none") or not token.split(".")[2]:
        problems.append(f"Received an unsigned token (alg {header.get('alg')!r}) / Documented: a signed JWT")
    if claims.get("sub") != login:
        problems.append(f"Received `sub` {claims.get('sub')!r} / Documented: the login, {login!r}")
    expires, issued = claims.get("exp"), claims.get("iat")
    if not isinstance(expires, int | float) or isinstance(expires, bool) or expires <= time.time():
        problems.append(f"Received `exp` {expires!r} / Documented: a time in the future (tokens expire)")
    if not isinstance(issued, int | float) or isinstance(issued, bool):
        problems.append(f"Received `iat` {issued!r} / Documented: the time the token was issued")
    elif lives is not None and isinstance(expires, int | float) and expires - issued != lives:
        problems.append(f"Received a token valid {expires - issued:g} s (exp - iat) / Documented: {lives} s")
    return problems


def _claims_like(token: str | None, login: str) -> Claims:
    """The claims of the deployment's own token, or plausible ones for `login`."""
    found = decoded(token) if token else None
    now = int(time.time())
    base = found[1] if found else {"sub": login, "iat": now}
    return {**base, "iat": now, "exp": now + LIFETIME}


def sign(claims: Claims, key: str = DEVELOPMENT_SECRET) -> str:
    """`claims` as an HS256 JWT signed with `key` (Nick's development secret by default)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short key is the point of a development secret
        return jwt.encode(claims, key, algorithm="HS256")


def forgeries(token: str | None, login: str) -> dict[str, str]:
    """Tokens no deployment may accept, whatever its key: unsigned, and signed with another key."""
    claims = _claims_like(token, login)
    unsigned = jwt.encode(claims, None, algorithm="none")
    return {
        "an unsigned token (alg none)": unsigned,
        "a token signed with another key": sign(claims, secrets.token_hex(16)),
    }


def signs_with(token: str | None, secret: str) -> bool:
    """Whether the deployment signs its tokens with `secret` (the suite can then sign tokens as it does)."""
    found = decoded(token) if token else None
    if found is None or found[0].get("alg") != "HS256":
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            jwt.decode(token, secret, algorithms=["HS256"], options={"verify_exp": False})  # type: ignore[arg-type]
    except jwt.PyJWTError:
        return False
    return True


def expired(token: str | None, login: str, secret: str) -> str:
    """A token like the deployment's own, signed with its key, that expired a minute ago."""
    now = int(time.time())
    return sign({**_claims_like(token, login), "iat": now - LIFETIME, "exp": now - 60}, secret)


def of_unknown_user(token: str | None, login: str, secret: str) -> str:
    """A token like the deployment's own, signed with its key, for a user it does not know."""
    nobody = f"jobs-conformance-{secrets.token_hex(4)}"
    return sign({**_claims_like(token, login), "sub": nobody}, secret)


def never_issued(token: str | None, login: str, secret: str) -> str:
    """A token like the deployment's own, for the same user, signed with its key and unexpired, that it never issued
    (its `iat` a minute earlier, so no same-second token of the deployment's is this one)."""
    now = int(time.time())
    return sign({**_claims_like(token, login), "iat": now - 60, "exp": now + LIFETIME}, secret)


def lifetime(resolved: dict[str, Any]) -> int | None:
    """How long the spec's bearer tokens live, in seconds (`x-token-lifetime` on its scheme), if it says."""
    schemes = resolved.get("components", {}).get("securitySchemes", {})
    for scheme in schemes.values():
        value = scheme.get("x-token-lifetime") if str(scheme.get("scheme", "")).lower() == "bearer" else None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None

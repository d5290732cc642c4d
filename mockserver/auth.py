"""Users and HS256 tokens as Nick issues them; verification is cached, expiry and revocation are not.

A logged-out token is remembered by what it is, not by its text: its `jti` (every token the mock
issues has one), or for a token without one (the documented token) a digest of its decoded
segments. PyJWT accepts several texts for one token (padding, characters base64 ignores); all of
them are the same token, so all of them stay logged out.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import jwt
import orjson
from jwt.utils import base64url_decode

from mockserver.errors import Forbidden, Unauthorized
from mockserver.http import dump

TOKEN_LIFETIME = 12 * 3600  # Nick's default `expiresIn: '12h'`
CACHE_SIZE = 4096
PRUNE_FLOOR = 1024  # revocations kept before the first sweep for expired ones
MAX_REVOKED = 100_000  # beyond this, the revocations of the longest-lived tokens are forgotten first (see prune)
LEGACY = "text-sha256:"  # a revocation read from a version-1 state file: the SHA-256 of the token's text
OWN_CLAIMS = frozenset({"sub", "fullname", "iat", "exp", "jti"})  # what `issue` writes
HEADER = dump({"alg": "HS256", "typ": "JWT"})  # the JOSE header of every token the mock issues, as PyJWT writes it
BLOCK = 64  # SHA-256's block size: an HMAC key is padded to it, or hashed first when longer (RFC 2104)
INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))  # translation tables: every byte of the key XOR the pad
OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))
FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
TO_URLSAFE = bytes.maketrans(b"+/", b"-_")


@dataclass(frozen=True)
class User:
    """A user who can log in; `manage_jobs` decides between 200s and 403s on the jobs API."""

    login: str
    password: str
    fullname: str
    manage_jobs: bool

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> User:
        """A user from `{login, password, fullname?, manageJobs?}`."""
        login, password = data.get("login"), data.get("password")
        if not isinstance(login, str) or not login or not isinstance(password, str) or not password:
            raise ValueError(f"a user needs a non-empty login and password: {dict(data)!r}")
        fullname, manage_jobs = data.get("fullname", login.title()), data.get("manageJobs", False)
        if not isinstance(manage_jobs, bool):  # "false" is a non-empty string: it must not grant anything
            raise ValueError(f"manageJobs must be true or false, got {manage_jobs!r}")
        return cls(login, password, str(fullname), manage_jobs)


DEFAULT_USERS = (
    User("admin", "admin", "Admin", manage_jobs=True),
    User("editor", "editor", "Editor", manage_jobs=False),
)


class Identity(NamedTuple):
    """Who a verified token speaks for (a named tuple: one is made for every new token)."""

    user: User
    key: str  # what the token is, for revocation: see `revocation_key`
    expires: float | None


class Authenticator:
    """Issues, verifies, renews and revokes tokens for a fixed set of users."""

    def __init__(self, users: Iterable[User], *, secret: str) -> None:
        self.users = {user.login: user for user in users}
        self.secret = secret
        self.revoked: dict[str, float | None] = {}  # revocation key -> when its token expires (None: never)
        self.revision = 0  # grows with every revocation, for savers
        self._legacy = False  # whether `revoked` holds keys of a version-1 state file
        self._prune_at = PRUNE_FLOOR
        self._verified: OrderedDict[str, Identity] = OrderedDict()
        key = secret.encode()
        key = (hashlib.sha256(key).digest() if len(key) > BLOCK else key).ljust(BLOCK, b"\0")
        # HMAC-SHA256 with the key set up once: each signature copies these two hashes, already fed their pads.
        self._inner = hashlib.sha256(key.translate(INNER_PAD))
        self._outer = hashlib.sha256(key.translate(OUTER_PAD))
        self._head = base64url_encode(HEADER) + b"."
        self._head_text = self._head[:-1].decode()

    def login(self, login: str, password: str) -> str | None:
        """A new token for these credentials, or None when they are wrong."""
        user = self.users.get(login)
        if user is None or user.password != password:
            return None
        return self.issue(user)

    def find(self, login: str | None, manage_jobs: bool | None) -> User | None:
        """The first user with this login (when given) who may or may not manage jobs (when given)."""
        for user in self.users.values():
            if login in (None, user.login) and manage_jobs in (None, user.manage_jobs):
                return user
        return None

    def issue(self, user: User) -> str:
        """A token for `user`, valid for Nick's token lifetime: an HS256 JWT that PyJWT (or any library) verifies.

        Signed here rather than by `jwt.encode`, which checks the key anew on every call (is it PEM,
        SSH, DER, a JWK?): a third of the time of a login, for a key that never changes.
        """
        now = int(time.time())
        claims = {
            "sub": user.login,
            "fullname": user.fullname,
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
            "jti": secrets.token_hex(16),  # two logins in one second still get distinct tokens
        }
        signing_input = self._head + base64url_encode(dump(claims))
        return (signing_input + b"." + base64url_encode(self._sign(signing_input))).decode()

    def _sign(self, signing_input: bytes) -> bytes:
        """The HS256 signature of `signing_input`: HMAC as RFC 2104 defines it, from the hashes the key set up.

        `hmac.HMAC.copy` does the same in Python-level steps, and `hmac.digest` sets the key up anew on
        every call: both take about twice as long.
        """
        inner = self._inner.copy()
        inner.update(signing_input)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def identify(self, authorization: str | None, *, remember: bool = True) -> Identity:
        """The identity behind an `Authorization` header, or Unauthorized saying why.

        A verified token is remembered (`remember`), so that its next request skips the signature;
        a token about to be logged out need not push a live one out of that cache.
        """
        if not authorization:
            raise Unauthorized("no Authorization header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("not a Bearer token")
        token = token.strip()
        if not token.isascii():  # a JWT is base64url and dots; bytes that are not UTF-8 arrive as lone surrogates
            raise Unauthorized("invalid token: not ASCII")
        identity = self._verified.get(token) or self._verify(token, remember)
        if identity.key in self.revoked or (self._legacy and LEGACY + digest(token) in self.revoked):
            raise Unauthorized("token logged out")
        if identity.expires is not None and identity.expires <= time.time():
            raise Unauthorized("token expired")
        return identity

    def authorize_jobs(self, authorization: str | None) -> Identity:
        """The identity of a caller who may manage jobs: Unauthorized or Forbidden otherwise."""
        identity = self.identify(authorization)
        if not identity.user.manage_jobs:
            raise Forbidden(f"{identity.user.login} may not manage jobs")
        return identity

    def revoke(self, authorization: str | None) -> None:
        """Log out the token of this header, if it is one of ours; logging out is idempotent."""
        try:
            identity = self.identify(authorization, remember=False)
        except Unauthorized:
            return
        self.revoked[identity.key] = identity.expires
        self.revision += 1
        if len(self.revoked) >= self._prune_at:
            self.prune()

    def prune(self) -> dict[str, float | None]:
        """Forget revocations of tokens that have expired anyway; the ones left.

        Past MAX_REVOKED, the revocations forgotten are those of the tokens that would live longest
        (no expiry first). The mock's own tokens live 12 hours: longer-lived ones can only be made by
        someone who holds the secret, who can make a fresh one anyway, and a flood of them must not
        grow the mock without bound, nor push out a user's logout.
        """
        now = time.time()
        self.revoked = {key: expires for key, expires in self.revoked.items() if expires is None or expires > now}
        if len(self.revoked) > MAX_REVOKED:
            soonest = sorted(self.revoked.items(), key=lambda item: math.inf if item[1] is None else item[1])
            self.revoked = dict(soonest[:MAX_REVOKED])
        self._legacy = any(key.startswith(LEGACY) for key in self.revoked)
        self._prune_at = max(PRUNE_FLOOR, min(2 * len(self.revoked), MAX_REVOKED + MAX_REVOKED // 10))
        return self.revoked

    def restore(self, revoked: Mapping[str, float | None]) -> None:
        """Take back saved revocations (revocation key -> expiry)."""
        self.revoked.update(revoked)
        self.prune()

    def restore_legacy(self, digests: Iterable[str]) -> None:
        """Take back a version-1 state file's revocations, digests of token texts: kept one token lifetime from now."""
        expires = time.time() + TOKEN_LIFETIME
        self.restore({LEGACY + item: expires for item in digests})

    def reset(self) -> None:
        """Forget revocations and the verification cache."""
        self.revoked.clear()
        self._legacy = False
        self.revision += 1
        self._verified.clear()

    def _verify(self, token: str, remember: bool = True) -> Identity:
        claims = self._own_claims(token)
        if claims is None:
            claims = self._decode(token)
        user = self.users.get(str(claims["sub"]))
        if user is None:
            raise Unauthorized(f"unknown user {claims['sub']!r}")
        expires = claims.get("exp")
        if expires is not None and (not isinstance(expires, int | float) or not math.isfinite(expires)):
            raise Unauthorized("exp is not a number")  # Infinity or NaN, say: no state file could keep it
        identity = Identity(user, revocation_key(token, claims), None if expires is None else float(expires))
        if remember:
            self._verified[token] = identity
            if len(self._verified) > CACHE_SIZE:
                self._verified.popitem(last=False)
        return identity

    def _own_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a token exactly as the mock issues them, checked without PyJWT; None for any other token.

        Such a token has the mock's header to the byte, a canonical signature by the mock's key over
        exactly its first two segments, and only the claims `issue` writes, with `sub` and an integer
        `iat`. Whatever else a token is (another header, padding, a bad signature, other claims) goes
        to PyJWT, which judges it and says why. PyJWT re-checks its key on every call: a new token
        costs ten times as much there.
        """
        head, _, rest = token.partition(".")
        payload, _, signature = rest.partition(".")
        if head != self._head_text or not payload or not signature:
            return None
        try:
            signed = self._sign(self._head + payload.encode())
            if not hmac.compare_digest(base64url_encode(signed), signature.encode()):
                return None
            claims = orjson.loads(strict_base64url_decode(payload))
        except ValueError:  # binascii.Error, UnicodeEncodeError and orjson.JSONDecodeError among them
            return None
        if not isinstance(claims, dict) or not OWN_CLAIMS.issuperset(claims) or not {"sub", "iat"} <= claims.keys():
            return None
        plain = type(claims["iat"]) is int and type(claims["sub"]) is str and type(claims.get("jti", "")) is str
        return claims if plain else None  # PyJWT's own checks of these claims, and their messages, for the rest

    def _decode(self, token: str) -> dict[str, Any]:
        """The claims of any other token, as PyJWT verifies them; Unauthorized saying why it refused."""
        try:
            return jwt.decode(
                token, self.secret, algorithms=["HS256"], options={"require": ["sub", "iat"], "verify_exp": False}
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}") from None


def base64url_encode(data: bytes) -> bytes:
    """Base64url without padding, as JWTs write their segments (PyJWT's function, without its Python-level steps)."""
    return binascii.b2a_base64(data, newline=False).translate(TO_URLSAFE).rstrip(b"=")


def strict_base64url_decode(segment: str) -> bytes:
    """The bytes of a JWT segment written as JWTs write them (no padding), binascii.Error for anything else."""
    padded = (segment + "=" * (-len(segment) % 4)).encode().translate(FROM_URLSAFE)
    return binascii.a2b_base64(padded, strict_mode=True)


def revocation_key(token: str, claims: Mapping[str, Any]) -> str:
    """What a verified token is: `jti:<its jti>`, or `sha256:<digest of its decoded segments>` (never its text)."""
    jti = claims.get("jti")
    if isinstance(jti, str) and jti:
        return f"jti:{jti}"
    parts = [base64url_decode(segment) for segment in token.split(".")]
    return "sha256:" + hashlib.sha256(b"".join(len(p).to_bytes(8, "big") + p for p in parts)).hexdigest()


def digest(token: str) -> str:
    """The SHA-256 of a token's text: how version-1 state files kept revocations."""
    return hashlib.sha256(token.encode()).hexdigest()

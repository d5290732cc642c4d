"""Users and HS256 tokens as Nick issues and holds them: a token works while the mock holds it, as in Nick.

Nick stores every token it issues with its user and accepts exactly those
(`src/helpers/handler/handler.ts`: the user's `tokens`); logging out removes the token. The mock
does the same, keeping a digest of each token it issued (never the token itself: a state file
holds none; the texts of the last few thousand tokens presented are remembered in memory only, to
spare each request a SHA-256), with whose it is and when it expires: a well-signed token the mock
never issued is refused like any other, and so is any other text of one it did issue. The one
exception is a documented convenience: the token printed in the published documentation is
admin's until it is logged out.

Sessions (`X-Mock-Session`, `/__session/NAME/`) share the users and the tokens issued, as one
Nick's user store: a token issued in one session works in every other (a test run may log in
once and use the token in each test's session); a logout ends it in the session it is sent to.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import hmac
import math
import random
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from mockserver.domain.documents import dump
from mockserver.domain.errors import Forbidden, Unauthorized

TOKEN_LIFETIME = 2 * 3600  # Nick's `expiresIn: '2h'` (src/routes/authentication/authentication.ts)
MAX_TOKENS = 100_000  # tokens held at once; beyond, the ones issued longest ago are forgotten (logged out)
PRUNE_FLOOR = 1024  # tokens held before the first sweep for expired ones
SCHEME = "Bearer "  # what Nick reads: `authorization.match(/^Bearer (.*)$/)`, the rest of the header is the token
HEADER = dump({"alg": "HS256", "typ": "JWT"})  # the JOSE header of every token the mock issues, as PyJWT writes it
TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
# Tokens presented again and again (a client's one token on each request): their digests are remembered, the last
# DIGESTS of them up to DIGESTED_LENGTH characters (a few MB at most), so that each request costs no SHA-256.
DIGESTS, DIGESTED_LENGTH = 4096, 1024
JTI = random.Random(secrets.randbits(128))  # the `jti` of each token issued (see Authenticator.issue)
# The example token of the published documentation (signed with Nick's development secret `secret`), admin's.
DOCUMENTED_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiIsImZ1bGxuYW1lIjoiQWRtaW4iLCJpYXQiOjE2NDkzMTI0NDl9"
    ".RS1Ny_r0v7vIylFfK6q0JVJrkiDuTOh9iG9IL8xbzAk"
)
DOCUMENTED_LOGIN = "admin"


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


# Nick's seed has admin/admin; a user without rights must be made through @users, and Nick refuses passwords
# under 8 characters (src/routes/users/users.ts): editor/editor123 is one Nick could have.
DEFAULT_USERS = (
    User("admin", "admin", "Admin", manage_jobs=True),
    User("editor", "editor123", "Editor", manage_jobs=False),
)


class Held(NamedTuple):
    """A token the mock holds: whose it is, and when it expires (None: never, the documented token)."""

    login: str
    expires: float | None


class Identity(NamedTuple):
    """Who a token speaks for."""

    user: User
    key: str  # the digest the token is held under
    expires: float | None


class Tokens:
    """The tokens issued and not expired, as digests: shared by a server and its sessions (see the module's doc).

    They are held in the order they were issued (a state file's are taken back in the order they expire, see
    `Authenticator.restore`), which is the order they expire in: the expired ones, and past MAX_TOKENS those issued
    longest ago, are the first ones, forgotten without looking at the others.
    """

    def __init__(self) -> None:
        self.held: dict[str, Held] = {}  # digest of a token's text -> whose it is, until when; oldest first
        self.revision = 0  # grows with every change, for savers
        self._prune_at = PRUNE_FLOOR

    def add(self, key: str, held: Held) -> None:
        """Hold one more token."""
        self.held[key] = held
        self.revision += 1
        if len(self.held) >= self._prune_at:
            self.prune()

    def prune(self) -> dict[str, Held]:
        """Forget tokens that have expired, and past MAX_TOKENS the ones issued longest ago; the tokens held."""
        now = time.time()
        held = self.held
        excess = len(held) - MAX_TOKENS
        forgotten: list[str] = []
        for key, value in held.items():  # oldest first; the documented token (no expiry) stays
            if value.expires is None:
                continue
            if value.expires > now and excess <= len(forgotten):
                break
            forgotten.append(key)
        for key in forgotten:
            del held[key]
        self._prune_at = max(PRUNE_FLOOR, min(2 * len(held), MAX_TOKENS + MAX_TOKENS // 10))
        return held


class Authenticator:
    """Issues, holds, renews and logs out tokens for a set of users."""

    def __init__(
        self, users: Iterable[User] | Mapping[str, User], *, secret: str, tokens: Tokens | None = None
    ) -> None:
        # A mapping is shared as it is (a session's users are its server's: see `fresh`).
        self.users = users if isinstance(users, Mapping) else {user.login: user for user in users}
        self.secret = secret
        # Each token's HMAC-SHA256, keyed once: a copy of it a token. `hmac.digest(key, msg, "sha256")` looks the
        # digest up by its name in OpenSSL on every call, which cost a renew about 10 µs in the running mock (144 to
        # 134 µs of CPU a renew when a copy was made instead, three runs each; the same call in a loop takes 2 µs).
        self._mac = hmac.new(secret.encode(), digestmod="sha256")
        self.tokens = tokens or Tokens()
        self.logged_out: set[str] = set()  # digests of tokens logged out here (this server, or this session)
        self.logouts = 0  # grows with every logout here
        self.reset()

    def fresh(self) -> Authenticator:
        """An authenticator of the same users, secret and tokens, with logouts of its own (a session's)."""
        return Authenticator(self.users, secret=self.secret, tokens=self.tokens)

    @property
    def revision(self) -> int:
        """Grows with every token issued, expired away or logged out here: for savers."""
        return self.tokens.revision + self.logouts

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
        """A token for `user`, held for Nick's token lifetime: an HS256 JWT that PyJWT (or any library) verifies."""
        now = int(time.time())
        claims: dict[str, str | int] = {
            "sub": user.login,
            "fullname": user.fullname,
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
            # Two logins in one second still get distinct tokens. Not a secret (the signature is what no one can forge),
            # so drawn from a generator seeded from the system's randomness once, not with a system call each.
            "jti": JTI.randbytes(16).hex(),
        }
        signing_input = SIGNED_HEADER + base64url_encode(dump(claims))
        mac = self._mac.copy()
        mac.update(signing_input)
        signature = mac.digest()
        token = (signing_input + b"." + base64url_encode(signature)).decode()
        # Not remembered (see `digest`): a burst of logins would push out the digests of the tokens in use.
        self.tokens.add(_digest(token), Held(user.login, float(now + TOKEN_LIFETIME)))
        return token

    def identify(self, authorization: str | None) -> Identity:
        """The identity behind an `Authorization` header, or Unauthorized saying why."""
        if not authorization:
            raise Unauthorized("no Authorization header")
        if not authorization.startswith(SCHEME):
            raise Unauthorized("not a Bearer token")
        key = digest(authorization[len(SCHEME) :])
        held = self.tokens.held.get(key)
        if held is None or key in self.logged_out:
            raise Unauthorized("not a token the mock holds: never issued, or logged out")
        if held.expires is not None and held.expires <= time.time():
            raise Unauthorized("token expired")
        user = self.users.get(held.login)
        if user is None:  # the users file changed under --reload: Nick answers 500 here, the contract 401
            raise Unauthorized(f"unknown user {held.login!r}")
        return Identity(user, key, held.expires)

    def authorize_jobs(self, authorization: str | None) -> Identity:
        """The identity of a caller who may manage jobs: Unauthorized or Forbidden otherwise."""
        identity = self.identify(authorization)
        if not identity.user.manage_jobs:
            raise Forbidden(f"{identity.user.login} may not manage jobs")
        return identity

    def revoke(self, authorization: str | None) -> None:
        """Log out the token of this header, if the mock holds it; logging out is idempotent."""
        try:
            identity = self.identify(authorization)
        except Unauthorized:
            return
        self.logged_out.add(identity.key)
        self.logouts += 1
        if len(self.logged_out) >= PRUNE_FLOOR and len(self.logged_out) > len(self.tokens.held):
            self.logged_out &= self.tokens.prune().keys()  # an expired token needs no logout kept

    def held(self) -> dict[str, Held]:
        """The tokens that work here: issued, not expired, not logged out here (what a state file keeps)."""
        return {key: held for key, held in self.tokens.prune().items() if key not in self.logged_out}

    def restore(self, held: Mapping[str, Held]) -> None:
        """Take back the tokens a state file kept (digest -> whose, until when): those work, and the documented token
        only if it is among them (it was logged out otherwise)."""
        for key, value in sorted(held.items(), key=_expiry):  # in the order they expire: see Tokens
            self.tokens.add(key, value)
        self.logged_out -= held.keys()
        documented = digest(DOCUMENTED_TOKEN)
        if documented not in held:
            self.logged_out.add(documented)

    def reset(self) -> None:
        """Forget every logout here: the tokens issued work again (and the documented one, when there is an admin)."""
        self.logged_out.clear()
        self.logouts += 1
        key = digest(DOCUMENTED_TOKEN)
        if DOCUMENTED_LOGIN in self.users and key not in self.tokens.held:
            self.tokens.add(key, Held(DOCUMENTED_LOGIN, None))


def _expiry(item: tuple[str, Held]) -> float:
    return math.inf if item[1].expires is None else item[1].expires


def base64url_encode(data: bytes) -> bytes:
    """Base64url without padding, as JWTs write their segments."""
    return binascii.b2a_base64(data, newline=False).translate(TO_URLSAFE).rstrip(b"=")


def digest(token: str) -> str:
    """The SHA-256 of a token's text: what the mock holds and saves instead of the token (remembered for tokens of a
    usual length: the one a client presents on each request costs one SHA-256, not one a request)."""
    return _remembered_digest(token) if len(token) <= DIGESTED_LENGTH else _digest(token)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


_remembered_digest = functools.lru_cache(maxsize=DIGESTS)(_digest)
SIGNED_HEADER = base64url_encode(HEADER) + b"."  # the first segment of every token the mock issues, and its dot

"""The suite's knowledge of JWTs: what a token handed out must hold, and forgeries no deployment may accept."""

from __future__ import annotations

import time
import warnings

import jwt
import pytest

from conformance import tokens
from jobspec import load_spec

NOW = int(time.time())


def signed(claims: dict[str, object], key: str = tokens.DEVELOPMENT_SECRET) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return jwt.encode(claims, key, algorithm="HS256")


GOOD = {"sub": "admin", "fullname": "Admin", "iat": NOW, "exp": NOW + 3600}
SPEC = load_spec()


def test_the_packaged_spec_says_its_tokens_are_jwts() -> None:
    assert tokens.says_jwt(load_spec().resolved)
    assert not tokens.says_jwt({"components": {"securitySchemes": {"b": {"type": "http", "scheme": "bearer"}}}})


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        pytest.param(signed(GOOD), "", id="good"),
        pytest.param("0123456789abcdef0123456789abcdef", "not a JWT", id="opaque"),
        pytest.param(signed({**GOOD, "sub": "editor"}), "`sub`", id="other-user"),
        pytest.param(signed({k: v for k, v in GOOD.items() if k != "exp"}), "`exp`", id="never-expires"),
        pytest.param(signed({**GOOD, "exp": NOW - 1}), "`exp`", id="expired"),
        pytest.param(jwt.encode(GOOD, None, algorithm="none"), "unsigned", id="alg-none"),
    ],
)
def test_token_problems(token: str, problem: str) -> None:
    problems = tokens.token_problems(token, "admin")
    assert (problem in "\n".join(problems)) if problem else problems == [], problems


def test_forgeries_copy_the_deployment_s_claims_but_not_its_signature() -> None:
    own = signed(GOOD)
    forged = tokens.forgeries(own, "admin")
    assert len(forged) == 2
    for token in forged.values():
        found = tokens.decoded(token)
        assert found is not None and found[1]["sub"] == "admin" and found[1]["exp"] > NOW
        with pytest.raises(jwt.PyJWTError):
            jwt.decode(token, tokens.DEVELOPMENT_SECRET, algorithms=["HS256"])


@pytest.mark.parametrize("secret", [tokens.DEVELOPMENT_SECRET, "a-deployments-own-secret-of-some-length"])
def test_expired_unknown_user_and_never_issued_tokens_are_signed_like_the_deployment_s(secret: str) -> None:
    own = signed(GOOD, secret)
    assert tokens.signs_with(own, secret)
    assert not tokens.signs_with(own, "another-key-of-some-length")
    assert not tokens.signs_with("opaque", secret)
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(tokens.expired(own, "admin", secret), secret, algorithms=["HS256"])
    nobody = jwt.decode(tokens.of_unknown_user(own, "admin", secret), secret, algorithms=["HS256"])
    assert nobody["sub"] != "admin" and nobody["exp"] > NOW
    never = jwt.decode(tokens.never_issued(own, "admin", secret), secret, algorithms=["HS256"])
    now = time.time()
    assert never["sub"] == "admin" and never["exp"] > now and never["iat"] < now
    assert tokens.never_issued(own, "admin", secret) != own


def test_a_token_living_longer_than_the_spec_says_is_a_problem() -> None:
    twelve_hours = signed({**GOOD, "exp": GOOD["iat"] + 12 * 3600})
    assert tokens.lifetime(SPEC.resolved) == 7200
    assert tokens.token_problems(signed({**GOOD, "exp": GOOD["iat"] + 7200}), "admin", 7200) == []
    assert tokens.token_problems(twelve_hours, "admin", 7200) == [
        "Received a token valid 43200 s (exp - iat) / Documented: 7200 s"
    ]

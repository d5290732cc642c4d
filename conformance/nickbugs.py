"""The bugs of Nick 2.8.0 that bear on the jobs API's contract, each with where it is in Nick's source.

The suite reports those its checks exercise against any Nick site (they are Nick's, not the
site's: `unknown-user-token`, `unparsed-login-body`, `password-not-a-string`, `body-parser-html`);
`jobs-drift` knows those it sends a request for as differences the mock does not copy; the
suite works around `same-second-tokens` and never sends `stream-crash`, which would stop the
server. The kit's tests against the real Nick pin them. Paths are inside Nick's source
(github.com/robgietema/nick, commit 7c9be18e).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NickBug:
    """One bug: where it is, what it does, what the contract says instead, and a request that shows it."""

    source: str
    summary: str
    contract: str
    shows: str  # a curl line (NICK is the site's URL, TOKEN a token of admin's)


NICK_BUGS: dict[str, NickBug] = {
    "unknown-user-token": NickBug(
        "src/helpers/handler/handler.ts:42",
        "a well-signed token whose user does not exist gets 500 on every route: the handler reads the tokens "
        "of a user it did not find",
        "401, as for any token the deployment does not hold",
        "curl -i -X POST $NICK/@login-renew -H \"Authorization: Bearer $(python3 -c 'import jwt, time; "
        'print(jwt.encode({"sub": "ghost", "iat": int(time.time())}, "secret", algorithm="HS256"))\')"',
    ),
    "unparsed-login-body": NickBug(
        "src/routes/authentication/authentication.ts:55",
        "a login whose body was not parsed (none, or not sent as application/json) gets 500: it reads "
        "`req.body.login` of `undefined`",
        "a 4xx in Nick's JSON shape (400)",
        "curl -i -X POST $NICK/@login",
    ),
    "password-not-a-string": NickBug(
        "src/routes/authentication/authentication.ts:88",
        "a login whose password is not a string gets 500: bcrypt.compare throws",
        "a 4xx in Nick's JSON shape (400)",
        'curl -i -X POST $NICK/@login -H \'Content-Type: application/json\' -d \'{"login": "admin", "password": 1}\'',
    ),
    "body-parser-html": NickBug(
        "src/app.ts:147",
        "a body that is not JSON, is JSON but not an object or array, is over 1 MiB or is not UTF-8 gets "
        "Express's HTML error page (400, 413, 415) with a stack trace and without CORS headers: express.json "
        "runs for every route and no error handler follows",
        "a 4xx in Nick's JSON shape, never an HTML page",
        "curl -i -X POST $NICK/@login -H 'Content-Type: application/json' -d '{\"login\": '",
    ),
    "unrouted-method-html": NickBug(
        "src/app.ts (no JSON answer after the routes)",
        "a method no Nick route takes (PUT) gets Express's HTML 404 'Cannot PUT <path>'",
        'Nick\'s JSON 404 {"error": "Not found: <path>"}',
        "curl -i -X PUT $NICK/@login",
    ),
    "array-login": NickBug(
        "src/routes/authentication/authentication.ts:72",
        'a login given as an array ({"login": ["admin"], ...}) logs in: the user is found by id with the array '
        "as a composite key",
        "401 Invalid credentials (a login is a string)",
        "curl -i -X POST $NICK/@login -H 'Content-Type: application/json' "
        '-d \'{"login": ["admin"], "password": "admin"}\'',
    ),
    "same-second-tokens": NickBug(
        "src/routes/authentication/authentication.ts:26",
        "tokens carry only sub, fullname, iat and exp: two logins (or a login and a renewal) of one user within "
        "a second get the same token, and logging one out logs out the other",
        "each login and renewal hands out a new token",
        "for i in 1 2; do curl -s -X POST $NICK/@login -H 'Content-Type: application/json' "
        '-d \'{"login": "admin", "password": "admin"}\'; echo; done',
    ),
    "stream-crash": NickBug(
        "src/app.ts:175",
        'a JSON body with "stream": true whose handler fails (a wrong password, an unknown path) ends the '
        "Nick process: the handler's promise is neither awaited nor caught",
        "the handler's own 4xx; the server goes on",
        "curl -i -X POST $NICK/@login -H 'Content-Type: application/json' "
        '-d \'{"login": "admin", "password": "wrong", "stream": true}\'   # stops the server',
    ),
}

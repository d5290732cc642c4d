"""Domain errors, each knowing its HTTP status and how Nick renders it."""

from __future__ import annotations

from typing import Any

NOT_AUTHORIZED = "You are not authorized to access this resource."


class ApiError(Exception):
    """Root of every error the mock answers with; `body()` is Nick's shape for it."""

    status = 400
    error_type = "Bad Request"
    deliberate = False  # answers the mock gives on request (faults, Prefer): strict mode lets them pass
    closes = False  # the connection closes after this answer (what is left of the request is not worth reading)

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        """The JSON body Nick sends for this error."""
        return {"error": {"type": self.error_type, "message": self.message}}

    def headers(self) -> dict[str, str]:
        """Extra response headers (e.g. `Allow`)."""
        return {}


class BadRequest(ApiError):
    """The request itself is malformed: not JSON, wrong types, schema violations."""


class PreferRefused(BadRequest):
    """A Prefer header asking for a response the spec does not document."""

    deliberate = True


class MissingCredentials(ApiError):
    """`@login` without a login or a password."""

    error_type = "Missing credentials"

    def __init__(self) -> None:
        super().__init__("Login and password must be provided in body.")


class InvalidCredentials(ApiError):
    """`@login` with a wrong login or password."""

    status = 401
    error_type = "Invalid credentials"

    def __init__(self) -> None:
        super().__init__("Wrong login and/or password.")


class InvalidSession(ApiError):
    """`@login-renew` without a valid token."""

    status = 401
    error_type = "Invalid session"

    def __init__(self) -> None:
        super().__init__("User is not logged in.")


class Unauthorized(ApiError):
    """A jobs operation without a valid token."""

    status = 401

    def __init__(self, reason: str) -> None:
        super().__init__(reason)  # why, for a traceback or a debugger; Nick's body never says

    def body(self) -> dict[str, Any]:
        return {"message": NOT_AUTHORIZED}


class Forbidden(Unauthorized):
    """A valid token of a user who may not manage jobs."""

    status = 403


class NotFound(ApiError):
    """Nothing of the mock's own by this name (a session, a fault, a user of the control API)."""

    status = 404
    error_type = "Not found"


class PathNotFound(ApiError):
    """A path the API does not have: Nick's `{"error": "Not found: <path>"}` (its `handler.ts`)."""

    status = 404

    def __init__(self, path: str) -> None:
        super().__init__(f"Not found: {path}")

    def body(self) -> dict[str, Any]:
        return {"error": self.message}


class JobNotFound(ApiError):
    """No job has this id (deleted, never existed, or not a UUID): Nick's answer to an unknown id in any service."""

    status = 404

    def __init__(self, job_id: str) -> None:
        super().__init__("Not found.")
        self.job_id = job_id

    def body(self) -> dict[str, Any]:
        return {"error": self.message}


class Refused(ApiError):
    """The lifecycle refuses the operation in the job's state; nothing changed. Status and body are the spec's."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body.get("error")))
        self.status, self._body = status, body

    def body(self) -> dict[str, Any]:
        return self._body


class MethodNotAllowed(ApiError):
    """The path exists but does not support the method."""

    status = 405
    error_type = "Method not allowed"

    def __init__(self, method: str, path: str, allowed: list[str]) -> None:
        super().__init__(f"{method} is not allowed on {path}; allowed: {', '.join(allowed)}.")
        self.allowed = allowed

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)}


class PayloadTooLarge(ApiError):
    """A request body over the mock's limit."""

    status = 413
    error_type = "Payload too large"
    closes = True  # the rest of the body is not worth reading


class MockFailure(ApiError):
    """The mock's own failure (a bug, or an answer strict mode caught breaking the spec): a 500 that says so."""

    status = 500
    error_type = "Mock error"


class RequestTimeout(ApiError):
    """A request body that did not arrive within the request timeout."""

    status = 408
    error_type = "Request timeout"
    closes = True
    deliberate = True  # the client's doing, not an answer of the mock's: strict mode lets it pass

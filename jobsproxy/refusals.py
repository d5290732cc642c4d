"""The proxy's own answers, in Nick's typed error shape: what it refuses, and what it could not get from upstream."""

from __future__ import annotations

from aiohttp import web

PREFIX = "jobs-proxy: "  # every message says who answered: the proxy, not the upstream


def refusal(status: int, error_type: str, message: str) -> web.Response:
    """`{"error": {"type", "message"}}` with `status` (Nick's `RequestException` shape)."""
    return web.json_response({"error": {"type": error_type, "message": PREFIX + message}}, status=status)


def bad_request(message: str) -> web.Response:
    """400: a request the proxy will not forward."""
    return refusal(400, "Bad Request", message)


def forbidden(message: str) -> web.Response:
    """403: a request from where the proxy does not answer."""
    return refusal(403, "Forbidden", message)


def bad_gateway(message: str) -> web.Response:
    """502: the upstream gave no answer the proxy could pass on."""
    return refusal(502, "Bad Gateway", message)


def gateway_timeout(message: str) -> web.Response:
    """504: the upstream gave no answer in time."""
    return refusal(504, "Gateway Timeout", message)

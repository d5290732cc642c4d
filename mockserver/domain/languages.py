"""Nick's messages in the language a request asks for, as Nick's i18n middleware negotiates it.

Nick (`src/middleware/i18n/i18n.ts`) picks `req.acceptsLanguages(...available_languages)`, else
its default language, from its language control panel: `en`, `nl` and `sv` by default, English
the default. The translations are Nick's own (`locales.json`, from Nick's locale files); a text
Nick has no translation for (a path's "Not found: ...", the rate limiter's, the jobs' refusals)
stays English there too.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

AVAILABLE = ("en", "nl", "sv")  # Nick's language control panel, as its core profile sets it
DEFAULT = "en"


@functools.cache
def translations() -> dict[str, dict[str, str]]:
    """language -> English message -> the message in that language (English needs none)."""
    data = json.loads(resources.files("mockserver.domain").joinpath("locales.json").read_text(encoding="utf-8"))
    return {language: table for language, table in data.items() if not language.startswith("_")}


def negotiate(header: str | None, available: tuple[str, ...] = AVAILABLE) -> str:
    """The language `Accept-Language: header` gets, as Express's `acceptsLanguages` (negotiator) picks it."""
    if not header:
        return available[0]
    best: tuple[float, int, int, int] | None = None
    chosen = DEFAULT if DEFAULT in available else available[0]
    for order, item in enumerate(header.split(",")):
        tag, quality = _entry(item)
        if tag is None or quality <= 0:
            continue
        for index, language in enumerate(available):
            specificity = _match(tag, language)
            if specificity is None:
                continue
            rank = (quality, specificity, -order, -index)
            if best is None or rank > best:
                best, chosen = rank, language
    return chosen


def _entry(item: str) -> tuple[str | None, float]:
    tag, *parameters = (part.strip() for part in item.split(";"))
    quality = 1.0
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                return None, 0.0
    return (tag.lower() or None), quality


def _match(tag: str, language: str) -> int | None:
    """How closely an accepted tag matches an available language (negotiator's `specify`); None: not at all."""
    if tag == language:
        return 4
    if tag.split("-", 1)[0] == language:
        return 2
    if tag == language.split("-", 1)[0]:
        return 1
    return 0 if tag == "*" else None


def translate(body: Any, language: str) -> Any:
    """`body` with each of its texts that Nick translates in `language`."""
    table = translations().get(language)
    if not table:
        return body
    return _translated(body, table)


def _translated(value: Any, table: dict[str, str]) -> Any:
    if isinstance(value, str):
        return table.get(value, value)
    if isinstance(value, dict):
        return {key: _translated(item, table) for key, item in value.items()}
    if isinstance(value, list):
        return [_translated(item, table) for item in value]
    return value

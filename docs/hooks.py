"""MkDocs hooks: the parts of the site that the code already says, generated at build time, never copied by hand.

A page asks for one with a comment on a line of its own, `<!-- generated: NAME [ARGUMENT] -->`:

- `flags TOOL`: a command's flags, from its parser (`TOOL --help`), with the option tables of
  `mockserver.options` and `conformance.options` where the tool has one;
- `control-api`: the mock's control API, from `mockserver/http/control.yaml` as the mock serves it;
- `checks`: the check catalogue, from the suite's phase registry and `verdicts.catalogue`;
- `lifecycle`: the packaged spec's lifecycle as a Mermaid diagram (`jobs-lifecycle`'s output);
- `changelog`: CHANGELOG.md.

MkDocs runs `on_page_markdown` for every page before it renders the Markdown (its hooks, since
MkDocs 1.4). An unknown name, or a check without a sentence in the catalogue, stops the build.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^<!-- generated: (?P<name>[a-z-]+)(?: (?P<argument>\S+))? -->$", re.MULTILINE)
HELP_COLUMNS = "100"  # argparse wraps `--help` to the terminal's width: the site's is fixed
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def on_page_markdown(markdown: str, /, **_: Any) -> str:
    """Each `<!-- generated: ... -->` line replaced by what it names."""
    return MARKER.sub(lambda match: generate(match["name"], match["argument"]), markdown)


def generate(name: str, argument: str | None) -> str:
    """The Markdown a marker names; ValueError for a name no generator has."""
    generators: dict[str, Callable[[str | None], str]] = {
        "flags": flags,
        "control-api": lambda _: control_api(),
        "checks": lambda _: check_catalogue(),
        "lifecycle": lambda _: lifecycle(),
        "changelog": lambda _: changelog(),
    }
    if name not in generators:
        raise ValueError(f"<!-- generated: {name} -->: no such generator (known: {', '.join(generators)})")
    return generators[name](argument)


# ---- flags -------------------------------------------------------------------------------------------------------
def parsers() -> dict[str, Callable[[], argparse.ArgumentParser]]:
    """Each command of the kit and the function that builds its parser (the one its `main` uses)."""
    from conformance import cli as conformance_cli
    from conformance import drift_cli
    from jobspec import cli as lifecycle_cli
    from jobsproxy import cli as proxy_cli
    from mockserver import cli as mock_cli

    return {
        "jobs-mock": mock_cli.parser,
        "jobs-conformance": conformance_cli.parser,
        "jobs-proxy": proxy_cli.parser,
        "jobs-drift": drift_cli.parser,
        "jobs-lifecycle": lifecycle_cli.parser,
    }


def flags(tool: str | None) -> str:
    """A command's flags: its options table where it has one, then its `--help` as the command prints it."""
    known = parsers()
    if tool not in known:
        raise ValueError(f"<!-- generated: flags {tool} -->: no such command (known: {', '.join(known)})")
    parts = []
    if tool == "jobs-mock":
        from mockserver import options

        parts.append(options.reference())
    elif tool == "jobs-conformance":
        parts.append(conformance_table())
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        text = known[tool]().format_help()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    parts.append(f"`{tool} --help` prints:\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


def conformance_table() -> str:
    """The suite's options table: each option as the CLI and the pytest plugin spell it."""
    from conformance.options import OPTIONS
    from conformance.plugin import PREFIX

    rows = ["| `jobs-conformance` | pytest plugin | what it does |", "|---|---|---|"]
    for option in OPTIONS:
        flag = "--" + option.name.replace("_", "-")
        shown = f"{option.short}, {flag}" if option.short else flag
        if option.convert is not None:
            shown += f" {option.metavar or option.name.upper()}"
        text = option.help.replace("%%", "%").replace("|", r"\|")
        rows.append(f"| `{shown}` | `{PREFIX}{option.name.replace('_', '-')}` | {text} |")
    return "\n".join(rows) + "\n"


# ---- the control API ---------------------------------------------------------------------------------------------
def control_api() -> str:
    """The control API's document, as the mock serves it for the packaged spec, as Markdown."""
    from jobspec import load_spec
    from mockserver.http.control import control_document

    document = yaml.safe_load(control_document(load_spec()))
    components = document.get("components", {})
    parts = [document["info"]["description"].strip(), ""]
    for path, item in document["paths"].items():
        for method in (m for m in METHODS if m in item):
            parts += operation(method, path, item[method], components)
    parts += ["## Schemas", ""]
    for name, schema in components.get("schemas", {}).items():
        parts += [f"### {name}", "", fenced("yaml", yaml.safe_dump(schema, sort_keys=False, allow_unicode=True))]
    return "\n".join(parts)


def operation(method: str, path: str, spec: dict[str, Any], components: dict[str, Any]) -> list[str]:
    """One operation: what it does, its parameters, its body and its answers."""
    parts = [f"### `{method.upper()} {path}`", "", f"**{spec.get('summary', '')}** (`{spec['operationId']}`)", ""]
    if spec.get("description"):
        parts += [spec["description"].strip(), ""]
    parameters = [resolve(p, components) for p in spec.get("parameters", [])]
    if parameters:
        parts += ["| parameter | in | what |", "|---|---|---|"]
        parts += [f"| `{p['name']}` | {p['in']} | {cell(p.get('description') or kind(p))} |" for p in parameters]
        parts.append("")
    body = spec.get("requestBody")
    if body is not None:
        content = body.get("content", {}).get("application/json", {})
        what = schema_name(content.get("schema", {}))
        parts += [f"Request body (`application/json`): {what}. {body.get('description', '')}".rstrip(), ""]
        for example in content.get("examples", {}).values():
            if example.get("summary"):
                parts.append(f"{example['summary']}:")
                parts.append("")
            parts.append(fenced("json", json.dumps(example["value"])))
    parts += ["| status | answer |", "|---|---|"]
    for status, response in spec.get("responses", {}).items():
        response = resolve(response, components)
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        named = schema_name(schema) if "$ref" in schema or "$ref" in schema.get("items", {}) else ""
        shown = f" Body: {named}." if named else ""
        for header, spec_header in response.get("headers", {}).items():
            shown += f" Header `{header}`: {resolve(spec_header, components).get('description', '')}"
        parts.append(f"| {status} | {cell(response.get('description', ''))}{shown} |")
    return [*parts, ""]


def resolve(node: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """A `$ref` to `#/components/...` followed, once."""
    reference = node.get("$ref")
    if not isinstance(reference, str):
        return node
    _, _, kind, name = reference.split("/")
    found: dict[str, Any] = components[kind][name]
    return found


def schema_name(schema: dict[str, Any]) -> str:
    """A schema as the page names it: a link to a named one, else its JSON."""
    reference = schema.get("$ref")
    if isinstance(reference, str):
        name = reference.rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    items = schema.get("items", {})
    if schema.get("type") == "array" and isinstance(items, dict) and "$ref" in items:
        return f"a list of {schema_name(items)}"
    return f"`{json.dumps(schema)}`"


def kind(parameter: dict[str, Any]) -> str:
    """A parameter's type, where it has no description."""
    return str(parameter.get("schema", {}).get("type", ""))


def cell(text: str) -> str:
    """Text that stays inside one cell of a Markdown table."""
    return " ".join(text.split()).replace("|", r"\|")


def fenced(language: str, text: str) -> str:
    """A fenced code block."""
    return f"```{language}\n{text.rstrip()}\n```\n"


# ---- the check catalogue -----------------------------------------------------------------------------------------
def check_catalogue() -> str:
    """Every check of the suite by phase, in the order they run, then every check of the kit A to Z."""
    from conformance.phases import PHASES, schemathesis_checks
    from conformance.phases.schema import PHASE as SCHEMA
    from jobspec import load_spec
    from verdicts.catalogue import CHECKS, describe

    spec = load_spec()
    own = schema_phase_checks(schemathesis_checks, spec)
    phase_of: dict[str, list[str]] = {}
    parts = []
    for phase_name, phase in PHASES.items():
        parts += [f"## The {phase_name} phase", ""]
        if phase_name == SCHEMA:
            operations = ", ".join(f"`{group}`" for group in phase.groups(spec))
            parts += [
                f"schemathesis's own checks on every answer to {operations}, and the kit's:",
                "",
                *table({name: describe(name) for name in own}),
            ]
            names = list(own)
        else:
            names = list(phase.groups(spec))
            parts += table({name: describe(name) for name in names})
        for name in names:
            phase_of.setdefault(name, []).append(phase_name)
    parts += ["## Every check, A to Z", "", "| check | suite phase | what it asks |", "|---|---|---|"]
    for name in sorted(CHECKS):
        where = ", ".join(phase_of.get(name, [])) or "(the proxy only)"
        parts.append(f"| `{name}` | {where} | {cell(CHECKS[name])} |")
    return "\n".join(parts) + "\n"


def schema_phase_checks(module: Any, spec: Any) -> list[str]:
    """The schema phase's own checks, by the names its results carry (each check's function's name).

    `job_checks` makes them for one run's lifecycle; where the module has none, its public functions are the
    checks, registered with schemathesis on import (the module before `job_checks`).
    """
    made = getattr(module, "job_checks", None)
    if made is not None:
        return [check.__name__ for check in made(spec.lifecycle, "uuid")]
    return [
        name
        for name, function in vars(module).items()
        if callable(function) and getattr(function, "__module__", None) == module.__name__ and not name.startswith("_")
    ]


def table(described: dict[str, str]) -> list[str]:
    """Checks and what each asks, as a Markdown table."""
    rows = ["| check | what it asks |", "|---|---|"]
    rows += [f"| `{name}` | {cell(text)} |" for name, text in described.items()]
    return [*rows, ""]


# ---- the lifecycle and the changelog -----------------------------------------------------------------------------
def lifecycle() -> str:
    """The packaged spec's lifecycle, drawn as `jobs-lifecycle` draws it."""
    from jobspec import diagram, load_spec

    return fenced("mermaid", diagram.mermaid(load_spec().lifecycle))


def changelog() -> str:
    """CHANGELOG.md without its title (the page has its own)."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    return re.sub(r"\A# [^\n]*\n", "", text).strip() + "\n"

"""The lifecycle of a spec as a picture: Mermaid text, Graphviz DOT, or SVG drawn by Graphviz.

Every state is a node (the initial one entered from a dot, terminal ones drawn double); every
transition an edge labelled with its trigger (the worker, or the operation and the status it
answers); every refusal a dashed loop labelled with the operation, status and error type; the
removal a dotted edge to a "deleted" node. Given verdicts per lifecycle cell (state, operation or
WORKER), as the conformance suite reports them, each edge and loop is coloured by its verdict.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from jobspec.lifecycle import Lifecycle

WORKER = "worker"  # the cell column of the worker's transitions
COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "not exercised": "#9a6700"}
PLAIN = "#57606a"
Verdicts = Mapping[tuple[str, str], str]  # (state, operation or WORKER) -> passed | failed | not exercised


@dataclass(frozen=True)
class Edge:
    """One arrow of the picture: from, to, label, style, and the lifecycle cell whose verdict colours it."""

    source: str
    target: str
    label: str
    style: str  # solid (transition), dashed (refusal), dotted (removal)
    cell: tuple[str, str]


DELETED = "(deleted)"


def edges(lifecycle: Lifecycle) -> Iterator[Edge]:
    """Every transition, refusal and removal of the lifecycle, as arrows."""
    for t in lifecycle.transitions:
        trigger = f"{WORKER}: {t.name}" if t.trigger.is_worker else f"{t.trigger.operation} → {t.status}"
        yield Edge(t.source, t.target, trigger, "solid", (t.source, t.trigger.operation or WORKER))
    for refusal in lifecycle.refusals:
        for state in sorted(refusal.states, key=list(lifecycle.states).index):
            label = f"{refusal.operation} → {refusal.status}" + (f" {refusal.error_type}" if refusal.error_type else "")
            yield Edge(state, state, label, "dashed", (state, refusal.operation))
    removal = lifecycle.removal
    for state in sorted(removal.states, key=list(lifecycle.states).index):
        yield Edge(state, DELETED, f"{removal.operation} → {removal.status}", "dotted", (state, removal.operation))


def mermaid(lifecycle: Lifecycle, verdicts: Verdicts | None = None) -> str:
    """A Mermaid flowchart of the lifecycle (GitHub renders it in Markdown), coloured by `verdicts` if given."""
    names = {state: f"s{i}" for i, state in enumerate(lifecycle.states)} | {DELETED: "gone"}
    lines = ["flowchart LR", "  start(( )) --> " + names[lifecycle.initial]]
    for state, node in names.items():
        label = _quote(state)
        shape = (
            f"((({label})))"
            if state in lifecycle.terminal
            else (f"[/{label}/]" if state == DELETED else f"([{label}])")
        )
        lines.append(f"  {node}{shape}")
    arrows = {"solid": "-->", "dashed": "-.->", "dotted": "-.->"}
    styles = []
    for index, edge in enumerate(edges(lifecycle), start=1):  # link 0 is the entry arrow
        lines.append(f"  {names[edge.source]} {arrows[edge.style]}|{_quote(edge.label)}| {names[edge.target]}")
        colour = _colour(edge, verdicts)
        if colour != PLAIN:
            styles.append(f"  linkStyle {index} stroke:{colour},stroke-width:3px,color:{colour}")
    return "\n".join([*lines, *styles, "  style start fill:#000,stroke:#000"]) + "\n"


def dot(lifecycle: Lifecycle, verdicts: Verdicts | None = None) -> str:
    """The lifecycle as Graphviz DOT source, coloured by `verdicts` if given."""
    lines = [
        "digraph lifecycle {",
        '  rankdir=LR; bgcolor="transparent";',
        '  node [shape=box, style="rounded,filled", fillcolor="#f6f8fa", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
        '  "" [shape=point, width=0.15, fillcolor=black];',
        f'  "" -> {_dot_id(lifecycle.initial)};',
    ]
    for state in lifecycle.states:
        shape = ", shape=doublecircle, fixedsize=false" if state in lifecycle.terminal else ""
        lines.append(f"  {_dot_id(state)} [label={_dot_id(state)}{shape}];")
    lines.append(f'  {_dot_id(DELETED)} [shape=plaintext, style="", fontcolor="{PLAIN}"];')
    for edge in edges(lifecycle):
        colour = _colour(edge, verdicts)
        width = ", penwidth=2.5" if colour != PLAIN else ""
        lines.append(
            f"  {_dot_id(edge.source)} -> {_dot_id(edge.target)} [label={_dot_id(edge.label)}, "
            f'style={edge.style}, color="{colour}", fontcolor="{colour}"{width}];'
        )
    return "\n".join([*lines, "}"]) + "\n"


def svg(lifecycle: Lifecycle, verdicts: Verdicts | None = None) -> str:
    """The lifecycle drawn as SVG by Graphviz (its `dot` program must be installed)."""
    import graphviz  # imported here: only the picture needs it

    return str(graphviz.Source(dot(lifecycle, verdicts)).pipe(format="svg", encoding="utf-8"))


def legend() -> str:
    """What the colours mean, as one line."""
    return "; ".join(f"{verdict}: {colour}" for verdict, colour in COLOURS.items())


def _colour(edge: Edge, verdicts: Verdicts | None) -> str:
    if verdicts is None or edge.cell not in verdicts:
        return PLAIN
    return COLOURS.get(verdicts[edge.cell], PLAIN)


def _quote(text: str) -> str:
    """Mermaid label text in double quotes (a quote inside as its entity)."""
    return '"' + text.replace('"', "#quot;") + '"'


def _dot_id(text: str) -> str:
    """A DOT ID: any text, double-quoted and escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

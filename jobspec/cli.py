"""`jobs-lifecycle`: draw a spec's x-job-lifecycle as Mermaid text, Graphviz DOT or SVG."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from jobspec import diagram
from jobspec.lifecycle import Lifecycle, LifecycleError
from jobspec.loader import SpecError, load_spec

FORMATS: dict[str, Callable[[Lifecycle], str]] = {"mermaid": diagram.mermaid, "dot": diagram.dot, "svg": diagram.svg}


def parser() -> argparse.ArgumentParser:
    """The command line of `jobs-lifecycle`."""
    p = argparse.ArgumentParser(
        prog="jobs-lifecycle", description="Draw a spec's job lifecycle as a state diagram.", allow_abbrev=False
    )
    p.add_argument("--spec", type=Path, help="the spec whose x-job-lifecycle to draw (default: the packaged one)")
    p.add_argument("--format", choices=sorted(FORMATS), default="mermaid", help="mermaid (default), dot or svg")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Print or write the diagram; 2 when the spec or the drawing fails."""
    args = parser().parse_args(argv)
    try:
        text = FORMATS[args.format](load_spec(args.spec).lifecycle)
    except (SpecError, LifecycleError) as exc:
        print(f"jobs-lifecycle: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # Graphviz missing or failing: say so in one line
        print(
            f"jobs-lifecycle: cannot draw {args.format} ({type(exc).__name__}: {exc}); is Graphviz's dot installed?",
            file=sys.stderr,
        )
        return 2
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


def _version() -> str:
    try:
        return version("nick-jobs-kit")
    except PackageNotFoundError:
        return "unknown"

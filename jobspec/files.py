"""Reading the files the kit is given (a spec, a data or users file) without letting one hang or exhaust it.

A path may name something that is not a file (a FIFO whose `open` blocks for ever, `/dev/zero`
through a symlink, a directory), a file far too large, or a small YAML document whose aliases
expand to billions of nodes (a "billion laughs") or refer to themselves. `read_text` opens
without blocking and reads only a regular file of at most `MAX_BYTES`; `load_yaml` composes the
document first and refuses aliases that would multiply it by more than `ALIAS_GROWTH`, or that
contain themselves, before any value is built.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 64 * 2**20  # a spec, or 100,000 jobs of a data file, is far below this
ALIAS_GROWTH = 10  # aliases may repeat parts of a document, but not make it more than ten times as large
REPARSE_BYTES = 2**20  # a document not YAML is parsed again by PyYAML's own parser to name the place, up to this size
ALIAS_ALLOWANCE = 10_000  # nodes any document may add by aliases, however small it is
# PyYAML's C loader when it was built with libyaml (ten times faster, and it bounds nesting itself); else Python's.
Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FileProblem(ValueError):
    """A file that cannot be used as it is; the message names the file and why."""


class CannotRead(FileProblem):
    """The file could not be opened or read; `reason` is the system's word for why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: cannot read it ({reason})")
        self.path, self.reason = path, reason


class NotYaml(FileProblem):
    """A document that is not valid YAML; `reason` says where and why, without naming the file."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where} is {reason}")
        self.reason = reason


def read_text(path: Path, limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of the regular file at `path`, of at most `limit` bytes; FileProblem otherwise."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise CannotRead(path, exc.strerror or str(exc)) from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise FileProblem(f"{path}: not a regular file ({_kind(status.st_mode)})")
        if status.st_size > limit:
            raise FileProblem(f"{path}: {status.st_size:,} bytes, more than the {limit:,} a file may have")
        with os.fdopen(descriptor, "rb", closefd=False) as file:
            data = file.read(limit + 1)  # a file growing meanwhile is read no further than the limit
    except OSError as exc:
        raise CannotRead(path, exc.strerror or str(exc)) from None
    finally:
        os.close(descriptor)
    if len(data) > limit:
        raise FileProblem(f"{path}: more than the {limit:,} bytes a file may have")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileProblem(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _kind(mode: int) -> str:
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device")]
    kinds += [(stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]
    return next((name for test, name in kinds if test(mode)), "not a file")


def load_yaml(text: str, where: str) -> Any:
    """The value of the YAML (or JSON) document `text`; FileProblem, naming `where`, for one that is not valid,
    nests too deeply, or whose aliases refer to themselves or expand it too far."""
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_aliases(node, where)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise NotYaml(where, _described(exc, text)) from None
    except yaml.YAMLError as exc:
        raise NotYaml(where, f"not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise FileProblem(f"{where} is nested too deeply") from None
    finally:
        loader.dispose()


def _described(error: yaml.MarkedYAMLError, text: str) -> str:
    """Where and why a document is not YAML, as PyYAML's own parser says it: libyaml's marks tend to point past the
    problem (the end of the document), so a document small enough to parse twice is parsed again to name it."""
    if Loader is not yaml.SafeLoader and len(text) <= REPARSE_BYTES:
        try:
            yaml.load(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            error = exc
        except (yaml.YAMLError, RecursionError):
            pass
    mark = error.problem_mark
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"not valid YAML{at}: {error.problem or error.context or 'unreadable'}"


def _check_aliases(root: yaml.Node, where: str) -> None:
    """FileProblem if an alias contains itself, or the document expanded would be too large.

    Each node's expanded size is counted once (a node an alias repeats is counted where it
    stands, and its size reused), so the check takes time in the document's size, not the
    expansion's.
    """
    sizes: dict[int, int] = {}  # id(node) -> its size expanded, once counted
    open_nodes: set[int] = set()  # nodes whose children are being counted: one met again is its own part
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise FileProblem(f"{where}: a YAML alias refers to a node that contains it (a recursive document)")
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    distinct = len(sizes)
    if sizes[id(root)] > ALIAS_GROWTH * distinct + ALIAS_ALLOWANCE:
        raise FileProblem(
            f"{where}: its aliases expand {distinct:,} nodes to {sizes[id(root)]:,}, more than {ALIAS_GROWTH} times "
            "as many (a billion-laughs document?)"
        )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def read_yaml(path: Path, limit: int = MAX_BYTES) -> tuple[str, Any]:
    """The text of the file at `path` and its YAML value: `read_text` and `load_yaml` in one."""
    text = read_text(path, limit)
    return text, load_yaml(text, str(path))

"""Where the suite's Hypothesis keeps its files: the user's cache directory, not the directory a run starts in.

Hypothesis keeps its caches (Unicode tables, the constants of source files) under `$HYPOTHESIS_STORAGE_DIRECTORY`,
by default `.hypothesis/` in the current directory: every run of the suite would leave one wherever it was started.
A directory the user names wins.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

HYPOTHESIS_STORAGE = "HYPOTHESIS_STORAGE_DIRECTORY"  # Hypothesis's own setting (default: ./.hypothesis)


def hypothesis_storage() -> str:
    """The suite's directory for Hypothesis: `jobs-conformance/hypothesis` in `$XDG_CACHE_HOME`, else `~/.cache`."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(cache):  # no home directory to expand
        cache = tempfile.gettempdir()
    return os.path.join(cache, "jobs-conformance", "hypothesis")


def keep_hypothesis_out_of_the_cwd() -> Callable[[], None]:
    """Tell Hypothesis `hypothesis_storage()` unless the environment names a directory; returns what undoes it.

    Hypothesis reads the setting when it first stores something, so this comes before the run starts.
    """
    if os.environ.get(HYPOTHESIS_STORAGE):
        return lambda: None
    os.environ[HYPOTHESIS_STORAGE] = hypothesis_storage()

    def undo() -> None:
        os.environ.pop(HYPOTHESIS_STORAGE, None)

    return undo

"""What the schema phase does to a case before sending it: the headers that frame HTTP are never the case's data."""

from __future__ import annotations

import copy

import schemathesis

from conformance.phases import schemathesis_run
from jobspec import load_spec


def test_headers_that_frame_the_message_are_left_to_requests() -> None:
    """A made-up header named Content-Length (seed 964456830 made `content-length: 4xnEbmh`) turned the request into
    malformed HTTP, which the mock (as Node's parser under Nick) rightly refuses with 400: an undocumented status on
    a correct deployment. The case's other headers stay as they were."""
    schema = schemathesis.openapi.from_dict(copy.deepcopy(load_spec().raw))
    case = schema["/@jobs"]["GET"].Case(
        headers={"content-length": "4xnEbmh", "Transfer-Encoding": "chunked", "HOST": "evil", "*B0J": "made up"}
    )
    schemathesis_run._unframed(case)
    assert case.headers == {"*B0J": "made up"}
    empty = schema["/@jobs"]["GET"].Case()
    schemathesis_run._unframed(empty)  # no headers at all: nothing to do

"""An example `--fixtures command:` script: make a job in a given state through the mock's control API.

    jobs-conformance --base-url URL --fixtures "command:python tests/scripts/make_job.py URL"

The suite appends the wanted status as the last argument; the script prints the new job's uuid
on its last line of stdout, and exits non-zero (with a reason on stderr) when it cannot. When
$JOBS_CONFORMANCE_OUTCOME is set, the suite wants a job the worker runs soon, ending in that state.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
from urllib.parse import urlsplit

HOLD = {"delay": 86400, "duration": 86400}  # the mock's worker leaves a job this slow where it is
QUICK = {"delay": 0.2, "duration": 0.4}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: make_job.py BASE_URL STATUS", file=sys.stderr)
        return 2
    base_url, status = argv
    outcome = os.environ.get("JOBS_CONFORMANCE_OUTCOME")
    timing = {**QUICK, "outcome": outcome} if outcome else HOLD
    body = json.dumps({"status": status, "params": {"mock": timing}})
    url = urlsplit(base_url)
    kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    connection = kind(url.netloc, timeout=10)
    try:
        connection.request("POST", f"{url.path.rstrip('/')}/__mock__/jobs", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        job = json.loads(response.read())
        if response.status != 201:
            raise ValueError(f"the control API answered {response.status}: {job}")
    except (OSError, ValueError) as exc:
        print(f"cannot make a {status} job: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    print(f"made a {status} job")
    print(job["uuid"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

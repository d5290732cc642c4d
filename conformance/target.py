"""The deployment under test as the phases see it: options, spec, client, fixtures and results."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from conformance.client import Client
from conformance.fixtures import Fixtures
from conformance.options import Options
from jobspec import Spec
from verdicts.exchanges import Exchange
from verdicts.results import Results

PATH_PARAMETER = re.compile(r"\{[^}]+\}")  # the job operations' one path parameter, whatever its name
Progress = Callable[[str], None]


@dataclass
class Target:
    """One deployment, its spec, and what the run has found so far."""

    options: Options
    spec: Spec
    client: Client
    fixtures: Fixtures
    results: Results
    login_operation: str
    list_operation: str
    item_operation: str
    id_field: str
    no_jobs_api: str = ""  # why the deployment has no jobs API, when it has none (only the auth phase runs then)

    @property
    def jobs_api(self) -> bool:
        """Whether the deployment answers the jobs operations (stock Nick has none)."""
        return not self.no_jobs_api

    def path(self, operation: str, job_id: str | None = None) -> str:
        """The path of an operation, for a job when it takes one."""
        template = self.spec.operation(operation).path
        return PATH_PARAMETER.sub(quote(job_id, safe=""), template) if job_id else template

    def call(self, operation: str, job_id: str | None = None, **kwargs: Any) -> Exchange:
        """Call an operation of the spec, on a job when it takes one."""
        return self.client.call(self.spec.operation(operation).method, self.path(operation, job_id), **kwargs)

    def read_job(self, job_id: str) -> tuple[Exchange, dict[str, Any] | None]:
        """The job as its single GET shows it (None unless it answered a JSON object)."""
        exchange = self.call(self.item_operation, job_id)
        data = exchange.response.data
        ok = exchange.response.status == 200 and isinstance(data, dict)
        return exchange, (data if ok else None)

    def listed_job(self, job_id: str) -> tuple[Exchange, dict[str, Any] | None, bool]:
        """The job as the list shows it, and whether the list could be read at all."""
        exchange = self.call(self.list_operation)
        data = exchange.response.data
        if exchange.response.status != 200 or not isinstance(data, list):
            return exchange, None, False
        found = [job for job in data if isinstance(job, dict) and job.get(self.id_field) == job_id]
        return exchange, (found[0] if found else None), True

// A frontend developer's client of the jobs API: types generated from spec/jobs.yaml by
// openapi-typescript (into ./jobs.d.ts, by the test), calls made with openapi-fetch.
// Usage: node dist/client.js BASE_URL. Prints one JSON summary of what it saw on stdout.
import createClient from "openapi-fetch";

import type { components, paths } from "./jobs.js";

type Job = components["schemas"]["Job"];
type JobWithId = components["schemas"]["JobWithId"];
// Nick's three error shapes: `{message}` (401/403, 429), `{error: "text"}` (404, a refused transition) and
// `{error: {type, message}}` (login's errors).
type ApiError =
  | components["schemas"]["MessageError"]
  | components["schemas"]["RateLimitError"]
  | components["schemas"]["NotFoundError"]
  | components["schemas"]["AbortRefusedError"]
  | components["schemas"]["RetryRefusedError"]
  | components["schemas"]["TypedError"];

const base = process.argv[2];
if (base === undefined || base === "") {
  throw new Error("usage: node client.js BASE_URL");
}

/** The `type` of an error in Nick's typed shape, or the text of a plain `{message}` or `{error}` one. */
function errorKind(error: ApiError | undefined): string | null {
  if (error === undefined) return null;
  if ("message" in error) return error.message;
  return typeof error.error === "string" ? error.error : error.error.type;
}

/** A job created through the mock's control API (outside the contract, so plain fetch). */
async function controlJob(status: Job["status"], title: string): Promise<Job> {
  const response = await fetch(`${base}/__mock__/jobs`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ title, status, params: { mock: { delay: 86400, duration: 86400 } } }),
  });
  if (response.status !== 201) {
    throw new Error(`control API answered ${response.status}: ${await response.text()}`);
  }
  return (await response.json()) as Job;
}

const client = createClient<paths>({ baseUrl: base });

// Not logged in yet: the spec's 401, Nick's `{message}`.
const anonymous = await client.GET("/@jobs");

const login = await client.POST("/@login", { body: { login: "admin", password: "admin" } });
if (login.data === undefined) {
  throw new Error(`login failed: ${login.response.status} ${JSON.stringify(login.error)}`);
}
const token: string = login.data.token;
client.use({
  onRequest({ request }) {
    request.headers.set("Authorization", `Bearer ${token}`);
    return request;
  },
});

const running = await controlJob("running", "Held running by the TS client test");
const failed = await controlJob("failed", "Failed for the TS client test");

const list = await client.GET("/@jobs");
const jobs: Job[] = list.data ?? [];

const first = jobs[0];
if (first === undefined) throw new Error("the list is empty");
const one = await client.GET("/@jobs/{id}", { params: { path: { id: first.uuid } } });
const got: JobWithId | undefined = one.data;

const abort = await client.POST("/@jobs/{id}/abort", { params: { path: { id: running.uuid } } });
const aborted = await client.GET("/@jobs/{id}", { params: { path: { id: running.uuid } } });
const abortAgain = await client.POST("/@jobs/{id}/abort", { params: { path: { id: running.uuid } } });

const retry = await client.POST("/@jobs/{id}/retry", { params: { path: { id: failed.uuid } } });
const retried = await client.GET("/@jobs/{id}", { params: { path: { id: failed.uuid } } });

const remove = await client.DELETE("/@jobs/{id}", { params: { path: { id: failed.uuid } } });
const gone = await client.GET("/@jobs/{id}", { params: { path: { id: failed.uuid } } });
const removeAgain = await client.DELETE("/@jobs/{id}", { params: { path: { id: failed.uuid } } });
const after = await client.GET("/@jobs");

const summary = {
  anonymous: { status: anonymous.response.status, error: errorKind(anonymous.error) },
  login: { status: login.response.status, tokenParts: token.split(".").length },
  list: {
    status: list.response.status,
    count: jobs.length,
    statuses: [...new Set(jobs.map((job) => job.status))].sort(),
    uuids: jobs.map((job) => job.uuid),
  },
  get: {
    status: one.response.status,
    uuid: got?.uuid ?? null,
    id: got?.["@id"] ?? null,
    title: got?.title ?? null,
    jobStatus: got?.status ?? null,
  },
  abort: {
    uuid: running.uuid,
    before: running.status,
    status: abort.response.status,
    after: aborted.data?.status ?? null,
    finished: aborted.data?.finished ?? null,
    again: { status: abortAgain.response.status, error: errorKind(abortAgain.error) },
  },
  retry: {
    uuid: failed.uuid,
    before: failed.status,
    status: retry.response.status,
    after: retried.data?.status ?? null,
    started: retried.data?.started ?? null,
    finished: retried.data?.finished ?? null,
    result: retried.data?.result ?? null,
  },
  delete: {
    uuid: failed.uuid,
    status: remove.response.status,
    getAfter: { status: gone.response.status, error: errorKind(gone.error) },
    deleteAgain: { status: removeAgain.response.status },
    listed: (after.data ?? []).some((job) => job.uuid === failed.uuid),
    countAfter: after.data?.length ?? null,
  },
};
console.log(JSON.stringify(summary));

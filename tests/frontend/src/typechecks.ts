// Compile-time checks only (never called): the generated types hold a frontend developer to the
// spec. Each `@ts-expect-error` must meet a real type error, or tsc fails the build with
// "Unused '@ts-expect-error' directive".
import type { Client } from "openapi-fetch";

import type { components, paths } from "./jobs.js";

export async function typeChecks(client: Client<paths>): Promise<void> {
  // @ts-expect-error: no such path in the spec
  await client.GET("/@job");
  // @ts-expect-error: the jobs list has no PUT
  await client.PUT("/@jobs", {});
  // @ts-expect-error: login needs a password
  await client.POST("/@login", { body: { login: "admin" } });
  // @ts-expect-error: a job's id is a required path parameter
  await client.GET("/@jobs/{id}", {});
  // @ts-expect-error: not one of the lifecycle's states
  const paused: components["schemas"]["JobStatus"] = "paused";
  void paused;

  const listed = await client.GET("/@jobs");
  if (listed.data !== undefined) {
    const first = listed.data[0];
    // @ts-expect-error: noUncheckedIndexedAccess: the list may be empty
    void first.uuid;
  }
  const one = await client.GET("/@jobs/{id}", { params: { path: { id: "x" } } });
  if (one.data !== undefined) {
    const id: string = one.data["@id"]; // required on a single job
    // @ts-expect-error: `started` may be null
    const started: string = one.data.started;
    void id;
    void started;
  }
  if (one.error !== undefined && "error" in one.error) {
    const notFound: "Not found." = one.error.error; // Nick's exact words for any unknown id
    // @ts-expect-error: Nick's 404 is plain text, not the typed `{type, message}` shape
    void one.error.error.type;
    void notFound;
  }
  const aborted = await client.POST("/@jobs/{id}/abort", { params: { path: { id: "x" } } });
  // @ts-expect-error: 204 has no body
  void aborted.data.status;
  if (aborted.error !== undefined && "error" in aborted.error) {
    const refusal: string = aborted.error.error; // a refusal (400) or an unknown id (404): Nick's plain text
    void refusal;
  }
  const login = await client.POST("/@login", { body: { login: "admin", password: "admin" } });
  if (login.error !== undefined && "message" in login.error) {
    // the only `{message}` login answers is the rate limit's 429
    const limited: "Too many authentication attempts" | "Too many requests" = login.error.message;
    void limited;
  }
}

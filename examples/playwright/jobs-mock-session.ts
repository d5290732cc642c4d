// A Playwright fixture for a TypeScript project: every test gets its own jobs-mock session, so tests
// running in parallel (workers, fullyParallel) never see each other's jobs, clock, faults or logouts.
// The mock's tokens are shared by its sessions (one Nick's users): a token from one login works in every
// session, and a logout ends it only in the session it is sent to.
// Copy this file into your tests, start one `jobs-mock` (JOBS_MOCK_URL, default http://localhost:8080),
// and import `test` from here instead of from "@playwright/test". Every request of the test's page,
// and of `request`, carries the header X-Mock-Session (extraHTTPHeaders); a frontend that can only be
// given a base URL uses `mockSession.url` (http://mock/__session/NAME) instead.
import { test as base } from "@playwright/test";

export interface MockSession {
  name: string;
  /** The session's base URL: the mock's URL with /__session/NAME. */
  url: string;
  /** The header that puts a request in this session. */
  headers: Record<string, string>;
  /** The control API (/__mock__/PATH) in this session: jobs, move, clock/advance, faults, journal... */
  control(method: string, path: string, body?: unknown): Promise<unknown>;
  /** Back to the session's starting jobs, clock and faults, its logouts forgotten. */
  reset(): Promise<void>;
  /** Forget the session. */
  remove(): Promise<void>;
}

const MOCK_URL = process.env["JOBS_MOCK_URL"] ?? "http://localhost:8080";
const TOKEN = process.env["JOBS_MOCK_TOKEN"];

async function call(url: string, method: string, headers: Record<string, string>, body?: unknown): Promise<unknown> {
  const answer = await fetch(url, {
    method,
    headers: { "Content-Type": "application/json", ...(TOKEN ? { "X-Mock-Token": TOKEN } : {}), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!answer.ok) throw new Error(`${method} ${url}: ${answer.status} ${await answer.text()}`);
  return answer.status === 204 ? null : answer.json();
}

/** Start a session on the mock at `mockUrl` (from its starting data, or from `jobs`). */
export async function openSession(mockUrl: string, name: string, jobs?: unknown[]): Promise<MockSession> {
  await call(`${mockUrl}/__mock__/sessions`, "POST", {}, jobs === undefined ? { name } : { name, jobs });
  const headers = { "X-Mock-Session": name };
  return {
    name,
    url: `${mockUrl}/__session/${name}`,
    headers,
    control: (method, path, body) => call(`${mockUrl}/__mock__/${path}`, method, headers, body),
    reset: async () => void (await call(`${mockUrl}/__mock__/sessions/${name}/reset`, "POST", {})),
    remove: async () => void (await call(`${mockUrl}/__mock__/sessions/${name}`, "DELETE", {})),
  };
}

export const test = base.extend<{ mockSession: MockSession }>({
  mockSession: async ({}, use, testInfo) => {
    // Session names: 1 to 64 of A-Z a-z 0-9 . _ -
    const session = await openSession(MOCK_URL, `pw-${testInfo.workerIndex}-${testInfo.testId}`.slice(0, 64));
    await use(session);
    await session.remove();
  },
  extraHTTPHeaders: async ({ mockSession }, use) => {
    await use(mockSession.headers);
  },
});

export { expect } from "@playwright/test";

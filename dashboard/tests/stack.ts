// What the browser tests need from the running stack, and the independent checks they make
// against the API (typed by the same generated contract) and PostgreSQL (psql).
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import createClient from 'openapi-fetch';
import type { paths } from '../src/generated/api';

function need(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: run the browser suite with \`make browser\` against a running \`make dev\` (it exports the stack's settings), or through \`make test\``,
    );
  }
  return value;
}

export const apiUrl = () => need('CAPYDB_API_URL');
const stateDir = () => need('CAPYDB_STATE_DIR');

export interface Demo {
  org_id: string;
  project_id: string;
  api_key: string;
}
export function demo(): Demo {
  const file = join(stateDir(), 'demo.json');
  if (!existsSync(file)) throw new Error(`${file} is missing: is \`make dev\` running with CAPYDB_STATE_DIR=${stateDir()}?`);
  return JSON.parse(readFileSync(file, 'utf8')) as Demo;
}

/** A session token as CapyDB's identity provider issues it (HS256 over the shared secret). */
export function sessionToken(role: 'admin' | 'member', sub: string, orgId = demo().org_id): string {
  const secret = readFileSync(join(stateDir(), 'session.secret'), 'utf8').trim();
  const b64 = (v: object | Buffer) => Buffer.from(v instanceof Buffer ? v : JSON.stringify(v)).toString('base64url');
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const body = b64({ sub, org_id: orgId, org_role: role, exp: Math.floor(Date.now() / 1000) + 3600 });
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

export function api(token = demo().api_key) {
  return createClient<paths>({ baseUrl: apiUrl(), headers: { Authorization: `Bearer ${token}` } });
}

/** Unwraps an API answer in a test, failing with the API's own error. */
export async function must<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const answer = await request;
  if (!answer.response.ok || answer.data === undefined) {
    throw new Error(`API answered ${answer.response.status}: ${JSON.stringify(answer.error)}`);
  }
  return answer.data;
}

export async function productionUrl(): Promise<string> {
  const c = await must(
    api().GET('/v1/projects/{project_id}/connections', { params: { path: { project_id: demo().project_id } } }),
  );
  return c.connections.direct_url;
}

export function psql(url: string, sql: string): string {
  return execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-Atc', sql], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

export function shotDir(): string {
  const dir = process.env.CAPYDB_SCREENSHOTS ?? join(process.cwd(), '..', 'target', 'dashboard-screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}
export async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  await page.screenshot({ path: join(shotDir(), `${name}.png`), fullPage });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's WCAG 2.1 A/AA rules on what the page shows now; returns the violations in words. */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  // Evaluated through the debugging protocol, which the page's CSP (no inline scripts) allows.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    // @ts-expect-error axe is injected above
    const result = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] });
    return result.violations.map(
      (v: { id: string; help: string; nodes: { target: string[] }[] }) =>
        `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`,
    );
  });
  return violations as string[];
}

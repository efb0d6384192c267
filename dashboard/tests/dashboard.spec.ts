// The dashboard in Debian's Chromium against the real local stack (runtime, moto, PostgreSQL).
// Every flow checks what the API (and PostgreSQL) then say, not only what the page shows.
import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { accessibilityViolations, api, apiUrl, demo, must, productionUrl, psql, sessionToken, shot } from './stack';

test.describe.configure({ mode: 'serial' });

const stamp = Date.now().toString(36);
const label = `ui-${stamp}`;
const previewName = `ui-${stamp}`;
const ROWS = 250;

async function signIn(page: Page, role: 'admin' | 'member', sub = `browser-${role}`) {
  await page.goto(`/projects/${demo().project_id}#session=${sessionToken(role, sub)}`);
  await expect(page.getByTestId('identity')).toHaveText(`${sub} (${role})`);
}

async function expectAccessible(page: Page, view: string) {
  expect(await accessibilityViolations(page), `accessibility violations on ${view}`).toEqual([]);
}

function backupRow(page: Page, text: string) {
  return page.getByTestId('backups-table').locator('tbody tr', { hasText: text });
}

async function count(url: string): Promise<number> {
  return Number(psql(url, 'select count(*) from ui_orders'));
}

test('signs in from the link make dev prints, then out, then with a pasted API key', async ({ page }) => {
  const link = process.env.CAPYDB_SIGN_IN_URL;
  expect(link, 'CAPYDB_SIGN_IN_URL: the sign-in link `make dev` printed').toBeTruthy();
  const token = decodeURIComponent(/#session=(.+)$/.exec(link!)![1]!);
  await page.goto(link!);
  await expect(page.getByTestId('identity')).toHaveText('demo-admin (admin)');
  expect(new URL(page.url()).hash, 'the token is stripped from the address bar').toBe('');
  expect(await page.evaluate(() => sessionStorage.getItem('capydb.credential'))).toBe(token);
  // Other projects may exist (the fuzzer makes some); the tab is the demo project's.
  await page.goto(`/projects/${demo().project_id}`);
  await expect(page.getByTestId('identity')).toHaveText('demo-admin (admin)');
  await expect(page.getByRole('heading', { level: 1 })).toContainText('demo');
  await expect(page.getByRole('heading', { name: 'Backups', exact: true })).toBeVisible();
  await shot(page, '01-backups-tab');
  await expectAccessible(page, 'the Backups tab');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByLabel('Session token or API key')).toBeVisible();
  expect(await page.evaluate(() => sessionStorage.getItem('capydb.credential'))).toBeNull();
  await page.reload();
  await expect(page.getByLabel('Session token or API key'), 'signing out forgets the token').toBeVisible();

  await page
    .getByLabel('Session token or API key')
    .fill('capy_live_0000000000000000000000000000000000000000000000000000000000000000');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('Sign-in refused');
  await shot(page, '02-sign-in');
  await expectAccessible(page, 'the sign-in page');

  // By keyboard: the field is focused, Enter submits.
  await page.getByLabel('Session token or API key').fill(demo().api_key);
  await page.getByLabel('Session token or API key').press('Enter');
  const me = await must(api().GET('/v1/me'));
  await expect(page.getByTestId('identity')).toHaveText(`API key ${me.api_key_id}`);
});

test('creates a backup and watches it become verified', async ({ page }) => {
  const prod = await productionUrl();
  psql(
    prod,
    `drop table if exists ui_orders; create table ui_orders (id int primary key, item text);
              insert into ui_orders select g, 'item ' || g from generate_series(1, ${ROWS}) g`,
  );
  await signIn(page, 'admin');
  await page.getByLabel('Label (optional)').fill(label);
  await page.getByRole('button', { name: 'Create backup' }).click();
  const progress = page.getByTestId('job-progress');
  await expect(progress).toBeVisible();
  await expect(progress.getByText('Phase')).toBeVisible();
  await expect(progress).toHaveAttribute('data-job-state', 'completed', { timeout: 180_000 });
  await expect(page.getByTestId('backup-outcome')).toContainText('completed and verified');
  await expect(backupRow(page, label).getByText('verified', { exact: true })).toBeVisible();
  await shot(page, '03-backup-verified');
  await shot(page, '00-readme', false);

  const { backups } = await must(
    api().GET('/v1/projects/{project_id}/backups', {
      params: { path: { project_id: demo().project_id }, query: { limit: 100 } },
    }),
  );
  const made = backups.find((b) => b.label === label);
  expect(made?.state).toBe('completed');
  expect(made?.verification_state).toBe('verified');
  expect(made?.kind).toBe('on_demand');
});

test('shows the API error at the schedule minute, then saves a valid schedule', async ({ page }) => {
  const projectId = demo().project_id;
  await signIn(page, 'admin');
  const form = page.locator('#schedule');
  await expect(form.getByLabel('Minute (0–59)')).toBeEnabled();
  await form.getByLabel('Hour (UTC, 0–23)').fill('4');
  await form.getByLabel('Minute (0–59)').fill('75');
  await form.getByRole('button', { name: 'Save schedule' }).click();
  await expect(page.locator('#schedule-minute-error')).toContainText('cron_minute');
  await expect(form.getByLabel('Minute (0–59)')).toHaveAttribute('aria-invalid', 'true');
  await form.scrollIntoViewIfNeeded();
  await shot(page, '04-schedule-invalid-minute');
  const before = await must(
    api().GET('/v1/projects/{project_id}/scheduled-backups', { params: { path: { project_id: projectId } } }),
  );
  expect(
    before.scheduled_backups.some((s) => s.cron_minute === 75),
    'nothing was written',
  ).toBe(false);

  await form.getByLabel('Minute (0–59)').fill('30');
  // Whatever the schedule was (the walkthrough leaves it disabled), this one runs.
  await form.getByLabel('Active').check();
  await form.getByRole('button', { name: 'Save schedule' }).click();
  await expect(page.getByTestId('status')).toHaveText('Schedule saved: daily at 04:30 UTC.');
  await expect(page.locator('#schedule-minute-error')).toHaveCount(0);
  const after = await must(
    api().GET('/v1/projects/{project_id}/scheduled-backups', { params: { path: { project_id: projectId } } }),
  );
  expect(after.scheduled_backups[0]).toMatchObject({ cron_hour: 4, cron_minute: 30, is_active: true });
  await expect(page.getByTestId('schedule-facts')).toContainText('daily at 04:30 UTC');
});

test('restores the backup into a new preview and gives its connection string', async ({ page }) => {
  await signIn(page, 'admin');
  await backupRow(page, label).getByRole('button', { name: 'Restore…' }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog.getByRole('radio', { name: /new preview database/ })).toBeChecked();
  await dialog.getByLabel('Preview name (optional)').fill(previewName);
  await shot(page, '05-restore-dialog', false);
  await expectAccessible(page, 'the restore dialog');
  await dialog.getByRole('button', { name: 'Start restore' }).click();
  await expect(dialog.getByTestId('restore-outcome')).toBeVisible({ timeout: 180_000 });
  const shown = (await dialog.getByTestId('restore-outcome').locator('code').textContent())!.trim();
  await shot(page, '06-restore-preview-done', false);

  const { preview_databases } = await must(
    api().GET('/v1/projects/{project_id}/preview-databases', {
      params: { path: { project_id: demo().project_id }, query: { limit: 100 } },
    }),
  );
  const preview = preview_databases.find((p) => p.name === previewName);
  expect(preview?.state).toBe('ready');
  const conn = await must(
    api().GET('/v1/preview-databases/{preview_id}/connections', { params: { path: { preview_id: preview!.id } } }),
  );
  expect(shown).toBe(conn.direct_url);
  expect(await count(shown), 'the preview holds the backed-up rows').toBe(ROWS);

  await dialog.getByRole('button', { name: 'Close' }).click();
  await expect(page.locator(`[data-preview-id="${preview!.id}"]`)).toContainText('Deleted in');
});

test('a project overwrite needs the typed name, and a member cannot start one', async ({ page, browser }) => {
  await signIn(page, 'admin');
  await page.getByRole('button', { name: 'Restore…', exact: true }).first().click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('radio', { name: /production database/ }).check();
  await expect(dialog.getByText('This replaces production')).toBeVisible();
  await expect(dialog.getByText(/takes a safety copy of production/)).toBeVisible();
  const go = dialog.getByRole('button', { name: 'Replace production' });
  await expect(go).toBeDisabled();
  await dialog.getByLabel(/Type the project's name/).fill('not-the-name');
  await expect(go).toBeDisabled();
  await dialog.getByLabel(/Type the project's name/).fill('demo');
  await expect(go).toBeEnabled();
  await shot(page, '07-overwrite-confirm', false);
  await expectAccessible(page, 'the overwrite confirmation');
  await dialog.getByRole('button', { name: 'Close' }).click();

  const member = await browser.newPage();
  await signIn(member, 'member');
  await member.getByRole('button', { name: 'Restore…', exact: true }).first().click();
  const memberDialog = member.getByRole('dialog');
  await expect(memberDialog.getByRole('radio', { name: /production database/ })).toBeDisabled();
  await expect(memberDialog.getByTestId('overwrite-refusal')).toContainText('organization admin role');
  await shot(member, '08-member-restore', false);
  await member.keyboard.press('Escape');
  await expect(memberDialog, 'Escape closes the dialog').toBeHidden();
  await member.getByRole('link', { name: 'Organization settings' }).click();
  await expect(member.getByTestId('webhooks-refusal')).toContainText('organization admins');

  const { backups } = await must(
    api().GET('/v1/projects/{project_id}/backups', {
      params: { path: { project_id: demo().project_id }, query: { limit: 100 } },
    }),
  );
  const key = backups.find((b) => b.label === label)!.backup_key!;
  const refused = await api(sessionToken('member', 'browser-member')).POST('/v1/projects/{project_id}/restores', {
    params: { path: { project_id: demo().project_id } },
    body: { backup_key: key, target_kind: 'project', confirm_project_overwrite: true },
  });
  expect(refused.response.status, 'the API refuses a member too').toBe(403);
  await member.close();
});

test('overwrites production as admin and offers the undo command, which works', async ({ page }) => {
  const prod = await productionUrl();
  psql(prod, `insert into ui_orders select g, 'late ' || g from generate_series(${ROWS + 1}, ${ROWS + 50}) g`);
  await signIn(page, 'admin');
  await backupRow(page, label).getByRole('button', { name: 'Restore…' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('radio', { name: /production database/ }).check();
  await dialog.getByLabel(/Type the project's name/).fill('demo');
  await dialog.getByRole('button', { name: 'Replace production' }).click();
  const outcome = dialog.getByTestId('restore-outcome');
  await expect(outcome).toBeVisible({ timeout: 180_000 });
  const undo = (await outcome.locator('code').last().textContent())!.trim();
  expect(undo).toMatch(
    /^capydb restore --project prj_\S+ --backup-key projects\/\S+ --target-kind project --confirm-project-overwrite --wait$/,
  );
  await shot(page, '09-overwrite-done', false);

  expect(await count(prod), 'production holds the backup again').toBe(ROWS);
  const { restores } = await must(
    api().GET('/v1/projects/{project_id}/restores', { params: { path: { project_id: demo().project_id }, query: { limit: 1 } } }),
  );
  expect(restores[0]).toMatchObject({ target_kind: 'project', state: 'completed' });
  const safety = await must(
    api().GET('/v1/projects/{project_id}/backups/{backup_id}', {
      params: { path: { project_id: demo().project_id, backup_id: restores[0]!.safety_backup_id! } },
    }),
  );
  expect(safety.backup.kind).toBe('pre_restore');
  expect(undo).toContain(safety.backup.backup_key!);

  const repo = join(process.cwd(), '..');
  execFileSync('bash', ['-c', undo], {
    env: {
      ...process.env,
      CAPYDB_API_URL: apiUrl(),
      CAPYDB_API_KEY: demo().api_key,
      PATH: `${repo}/target/debug:${process.env.PATH}`,
    },
    stdio: 'pipe',
    timeout: 240_000,
  });
  expect(await count(prod), 'the undo brings back the rows written after the backup').toBe(ROWS + 50);
});

test('creates a pitr restore point, and a pinned backup cannot be deleted', async ({ page }) => {
  const projectId = demo().project_id;
  await signIn(page, 'admin');
  await expect(page.getByTestId('pitr-window')).toContainText('Earliest');
  const section = page.locator('#restore-points');
  await section.getByLabel('Label').fill(`ui-pitr-${stamp}`);
  await section.getByRole('radio', { name: /A moment/ }).check();
  await expect(section.getByRole('radio', { name: /Now/ })).toBeChecked();
  await section.getByRole('button', { name: 'Create restore point' }).click();
  await expect(page.getByTestId('status')).toHaveText(`Restore point ui-pitr-${stamp} created.`);
  await expect(section.getByRole('row', { name: new RegExp(`ui-pitr-${stamp}`) })).toBeVisible();
  await page.locator('#pitr').scrollIntoViewIfNeeded();
  await shot(page, '10-pitr-and-restore-points');
  const points = await must(
    api().GET('/v1/projects/{project_id}/restore-points', { params: { path: { project_id: projectId }, query: { limit: 100 } } }),
  );
  const pitr = points.restore_points.find((p) => p.label === `ui-pitr-${stamp}`);
  expect(pitr).toMatchObject({ kind: 'pitr', state: 'active' });
  expect(pitr?.pitr_name).toBeTruthy();

  // Pin the backup with a restore point of kind backup; deleting it is then refused with the reason.
  await section.getByLabel('Label').fill(`ui-pin-${stamp}`);
  await section.getByRole('radio', { name: /A backup/ }).check();
  const { backups } = await must(
    api().GET('/v1/projects/{project_id}/backups', { params: { path: { project_id: projectId }, query: { limit: 100 } } }),
  );
  const made = backups.find((b) => b.label === label)!;
  await section.getByLabel('Backup', { exact: true }).selectOption(made.backup_key!);
  await section.getByRole('button', { name: 'Create restore point' }).click();
  await expect(page.getByTestId('status')).toHaveText(`Restore point ui-pin-${stamp} created.`);
  await expect(backupRow(page, label).getByText('pinned')).toBeVisible();
  await backupRow(page, label).getByRole('button', { name: 'Delete' }).click();
  await backupRow(page, label).getByRole('button', { name: 'Confirm delete' }).click();
  await expect(page.locator('#backups').getByRole('alert')).toContainText('restore point');
  await must(
    api().GET('/v1/projects/{project_id}/backups/{backup_id}', {
      params: { path: { project_id: projectId, backup_id: made.id } },
    }),
  );
});

test('adds a webhook endpoint and shows a delivery of backup.completed to a local receiver', async ({ page }) => {
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const orgId = demo().org_id;
  try {
    await signIn(page, 'admin');
    await page.getByRole('link', { name: 'Organization settings' }).click();
    await page.getByLabel('URL').fill(url);
    await page.getByRole('checkbox', { name: 'backup.completed' }).check();
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const secret = (await page.getByTestId('webhook-secret').getByLabel('signing secret', { exact: true }).textContent())!.trim();
    expect(secret).toMatch(/^whsec_/);
    const { webhook_endpoints } = await must(
      api().GET('/v1/organizations/{org_id}/webhook-endpoints', { params: { path: { org_id: orgId } } }),
    );
    const endpoint = webhook_endpoints.find((e) => e.url === url)!;
    expect(endpoint.event_types).toEqual(['backup.completed']);

    const created = await must(
      api().POST('/v1/projects/{project_id}/backups', {
        params: { path: { project_id: demo().project_id } },
        body: { label: `ui-hook-${stamp}` },
      }),
    );
    await expect
      .poll(() => received.find((r) => JSON.parse(r.body).data?.backup_id === created.backup.id), { timeout: 180_000 })
      .toBeTruthy();
    const hit = received.find((r) => JSON.parse(r.body).data?.backup_id === created.backup.id)!;
    expect(JSON.parse(hit.body).type).toBe('backup.completed');
    const [t, v1] = String(hit.headers['x-capydb-signature'])
      .split(',')
      .map((p) => p.split('=')[1]);
    expect(
      createHmac('sha256', secret).update(`${t}.${hit.body}`).digest('hex'),
      'the signature verifies with the shown secret',
    ).toBe(v1);

    const card = page.locator(`[data-webhook-id="${endpoint.id}"]`);
    await card.getByRole('button', { name: 'Deliveries' }).click();
    await expect(card.locator('tr[data-event-type="backup.completed"][data-state="delivered"]').first()).toBeVisible({
      timeout: 30_000,
    });
    await expect(card.getByRole('cell', { name: /^200 · \d+ ms/ }).first()).toBeVisible();
    await shot(page, '11-webhooks');
    await expectAccessible(page, 'the webhook settings');
    const { deliveries } = await must(
      api().GET('/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/deliveries', {
        params: { path: { org_id: orgId, webhook_id: endpoint.id } },
      }),
    );
    expect(deliveries.find((d) => d.event_type === 'backup.completed')).toMatchObject({
      state: 'delivered',
      response_status: 200,
    });
  } finally {
    receiver.close();
    // The receiver is gone: its endpoint goes too, so nothing keeps failing against it.
    const { webhook_endpoints } = await must(
      api().GET('/v1/organizations/{org_id}/webhook-endpoints', { params: { path: { org_id: orgId } } }),
    );
    for (const e of webhook_endpoints.filter((e) => e.url === url)) {
      await must(
        api().DELETE('/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}', {
          params: { path: { org_id: orgId, webhook_id: e.id } },
        }),
      );
    }
  }
});

test('pages through the backups', async ({ page }) => {
  const projectId = demo().project_id;
  const list = (limit: number) =>
    must(api().GET('/v1/projects/{project_id}/backups', { params: { path: { project_id: projectId }, query: { limit } } }));
  // Enough backups for two pages of five, whatever the stack held before.
  for (let have = (await list(100)).backups.length; have < 7; have++) {
    const { job } = await must(
      api().POST('/v1/projects/{project_id}/backups', {
        params: { path: { project_id: projectId } },
        body: { label: `ui-page-${have}` },
      }),
    );
    await expect
      .poll(async () => (await must(api().GET('/v1/jobs/{job_id}', { params: { path: { job_id: job.id } } }))).job.state, {
        timeout: 180_000,
      })
      .toBe('completed');
  }
  const first = await list(5);
  expect(first.next_cursor, 'more than 5 backups exist by now').toBeTruthy();
  const second = await must(
    api().GET('/v1/projects/{project_id}/backups', {
      params: { path: { project_id: projectId }, query: { limit: 5, cursor: first.next_cursor! } },
    }),
  );
  await signIn(page, 'admin');
  await page.getByLabel('Rows per page').selectOption('5');
  const ids = () =>
    page
      .getByTestId('backups-table')
      .locator('tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-backup-id')));
  await expect.poll(ids).toEqual(first.backups.map((b) => b.id));
  const pages = page.getByRole('navigation', { name: 'Backups pages' });
  await pages.getByRole('button', { name: 'Next page' }).click();
  await expect(pages.getByText('Page 2')).toBeVisible();
  await expect.poll(ids).toEqual(second.backups.map((b) => b.id));
  await pages.getByRole('button', { name: 'Previous page' }).click();
  await expect.poll(ids).toEqual(first.backups.map((b) => b.id));
});

test('stays readable on a phone-width screen', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page, 'admin');
  await expect(page.getByRole('heading', { name: 'Backups', exact: true })).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, 'no sideways scrolling of the page itself').toBeLessThanOrEqual(1);
  await shot(page, '12-phone');
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { SagaView } from '../../src/saga/index.js';
import { AppProcess, killAll } from '../support/app-process.js';
import { launchBrowser, screenshot } from '../support/browser.js';
import { orderInput, tripInput, waitForSaga } from '../support/sagas.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const API_KEY = 'dashboard-test-key';
const AUTH = { authorization: `Bearer ${API_KEY}` };
const DECLINED = '4000000000000002';

/**
 * The dashboard in Chromium against the real app (an API process and a worker process behind an
 * API key): the list and its filters, a trip's page live to completed, the operator's buttons.
 */
describe('dashboard (Chromium)', () => {
  let t: TestEnvironment;
  let api: AppProcess;
  let worker: AppProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const seeded: Record<string, string> = {};

  async function start(name: string, input: object, query = ''): Promise<string> {
    const started = await api.http.post(`/sagas/${name}${query}`, input, AUTH);
    assert.equal(started.status, 202, started.text);
    return started.body.id as string;
  }

  const view = async (id: string) => (await api.http.get<SagaView>(`/sagas/${id}`, AUTH)).body;
  const stepOf = async (id: string, step: string) => (await view(id)).steps!.find((s) => s.name === step)!;
  const waitingForApproval = (id: string) =>
    waitFor(async () => ((await stepOf(id, 'awaitApproval')).status === 'waiting' ? true : undefined), {
      what: `trip ${id} to wait for approval`,
    });

  before(async () => {
    t = await createTestEnvironment();
    const env = { ...t.env, API_KEY };
    [api, worker] = await Promise.all([
      AppProcess.start({ role: 'api', env }),
      AppProcess.start({ role: 'worker', env }),
    ]);
    seeded.order = await start('order', orderInput());
    seeded.declined = await start('order', orderInput({ card: DECLINED }));
    // A dead letter: b fails for good, and undoing a fails on both of its attempts (then works).
    seeded.deadLetter = await start('scripted', { script: { b: ['fatal'], undoA: ['fail', 'fail', 'ok'] } });
    seeded.trip = await start('trip', tripInput({ car: { class: 'suv' } }));
    for (const id of [seeded.order, seeded.declined, seeded.deadLetter])
      await waitForSaga(api.http.withHeaders(AUTH), id);
    await waitingForApproval(seeded.trip);
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    page = await context.newPage();
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
    // The page asks for the API key once, and keeps it for the tab.
    await page.goto(`${api.http.baseUrl}/dashboard`);
    await page.getByPlaceholder('API key').fill(API_KEY);
    await page.getByRole('button', { name: 'Use this key' }).click();
    await page.locator('#runs tbody tr').first().waitFor();
  });

  after(async () => {
    await browser?.close();
    await killAll([api, worker]);
    await t.destroy();
  });

  /** `it`, and a failed test leaves a screenshot of the page and what the processes said. */
  function scenario(name: string, body: () => Promise<void>): void {
    it(name, async () => {
      try {
        await body();
      } catch (error) {
        await screenshot(page, `failed-${name.slice(0, 40).replace(/\W+/g, '-')}`).catch(() => undefined);
        console.error(api.describe(3000), worker.describe(3000));
        throw error;
      }
    });
  }

  /** Loads the dashboard at `hash` (a fresh load: the key stays in the tab's sessionStorage). */
  async function open(hash: string): Promise<void> {
    await page.goto('about:blank');
    await page.goto(`${api.http.baseUrl}/dashboard#${hash}`);
  }

  const rowsOf = (table = '#runs') =>
    page
      .locator(`${table} tbody tr`)
      .evaluateAll((rows) =>
        rows.map((r) => ({ id: r.getAttribute('data-id'), status: r.getAttribute('data-status') })),
      );

  /** The rows the list shows once it has loaded for `filter` (the list reloads after each change). */
  async function listFor(filter: Record<string, string>) {
    const key = JSON.stringify({
      name: '',
      status: '',
      parentId: '',
      createdAfter: '',
      createdBefore: '',
      ...filter,
    });
    await page.locator(`#runs[data-filter='${key}']`).waitFor({ timeout: 15_000 });
    return rowsOf();
  }

  scenario('lists the sagas with totals per status, dead letters first, and filters them', async () => {
    assert.equal((await view(seeded.deadLetter)).status, 'failed');
    await page.locator('.dead-letters tbody tr').first().waitFor();
    assert.deepEqual(
      (await rowsOf('.dead-letters')).map((r) => r.id),
      [seeded.deadLetter],
    );
    // The totals come by a call of their own, which may answer after the dead letters'.
    await page.locator('.total-failed .count', { hasText: /^1$/ }).waitFor();
    const header = (await page.locator('.dead-letters header').textContent())!.replace(/\s+/g, ' ');
    assert.match(header, /Dead letters · 1 failed saga needs an operator/);
    await screenshot(page, 'dashboard-list-1366');

    await page.locator('select[name=status]').selectOption('compensated');
    assert.deepEqual(await listFor({ status: 'compensated' }), [
      { id: seeded.declined, status: 'compensated' },
    ]);

    await page.locator('select[name=status]').selectOption('');
    await page.locator('select[name=name]').selectOption('trip');
    assert.deepEqual(await listFor({ name: 'trip' }), [{ id: seeded.trip, status: 'running' }]);

    await page.locator('select[name=name]').selectOption('');
    await page.locator('input[name=createdAfter]').fill('2099-01-01T00:00');
    await page.locator('input[name=createdAfter]').dispatchEvent('change');
    const future = await page.evaluate(() => new Date('2099-01-01T00:00').toISOString());
    assert.deepEqual(await listFor({ createdAfter: future }), []);
    await page.getByText('No saga matches these filters.').waitFor();

    await page.getByRole('button', { name: 'Clear' }).click();
    const all = await listFor({});
    assert.deepEqual(new Set(all.map((r) => r.id)), new Set(Object.values(seeded)));
    assert.equal(all.length, 4);
  });

  scenario('keeps the filtered list when the load for the earlier filter answers last', async () => {
    const unfiltered = (url: URL) =>
      url.pathname === '/sagas' && url.searchParams.get('limit') === '50' && !url.searchParams.has('status');
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    await page.route(unfiltered, async (route) => {
      await released;
      await route.continue();
    });
    try {
      const held = page.waitForRequest((request) => unfiltered(new URL(request.url())));
      await open('/');
      await held;
      await page.locator('select[name=status]').selectOption('compensated');
      const compensated = [{ id: seeded.declined, status: 'compensated' }];
      assert.deepEqual(await listFor({ status: 'compensated' }), compensated);

      const answered = page.waitForResponse((response) => unfiltered(new URL(response.url())));
      release();
      await (await answered).finished();
      await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 200)));
      // Read at once: the list reloads every 5 s, which would hide a stale answer that had landed.
      assert.equal(
        JSON.parse((await page.locator('#runs').getAttribute('data-filter'))!).status,
        'compensated',
      );
      assert.deepEqual(await rowsOf(), compensated);
    } finally {
      release();
      await page.unroute(unfiltered);
    }
  });

  scenario(
    'shows a running trip: its parallel group, its wait, and live to completed after the approval signal',
    async () => {
      await open(`/sagas/${seeded.trip}`);
      const awaitApproval = page.locator('tr[data-step="awaitApproval"]');
      await awaitApproval.getByText('waits for signal approval').waitFor();
      for (const step of ['bookFlight', 'bookHotel', 'rentCar'])
        assert.equal(await page.locator(`tr[data-step="${step}"] .group`).textContent(), '⇉ bookings');
      assert.equal(await page.locator('tr[data-step="awaitApproval"] .group').count(), 0);
      await page.locator('.timeline svg').getByText('waits for approval').waitFor();
      await page.getByText('● live').waitFor();
      await screenshot(page, 'dashboard-trip-waiting-1366');

      await page.getByRole('button', { name: 'Send signal “approval”' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByLabel('approved').check();
      await dialog.getByLabel('by').fill('ops on call');
      await dialog.getByRole('button', { name: 'Send signal' }).click();
      await dialog.waitFor({ state: 'detached' });

      // Live, without reloading: the status, the child saga and the last event arrive by the stream.
      await page.locator('h2 .status-completed').waitFor({ timeout: 15_000 });
      await page.locator('tr[data-type="saga_completed"]').waitFor();
      const child = (await view(seeded.trip)).steps!.find((s) => s.name === 'pay')!.childId!;
      assert.ok(child);
      await page.locator(`tr[data-step="pay"] a[href="#/sagas/${child}"]`).waitFor();
      assert.deepEqual((await stepOf(seeded.trip, 'awaitApproval')).output, {
        approved: true,
        by: 'ops on call',
      });
      const recorded = (await api.http.get(`/sagas/${seeded.trip}/events`, AUTH)).body.items;
      assert.equal(await page.locator('tr[data-type]').count(), recorded.length, 'every event once');
      await page.setViewportSize({ width: 1920, height: 1080 });
      await screenshot(page, 'dashboard-trip-completed-1920');
      await page.setViewportSize({ width: 1366, height: 768 });

      await page.locator(`tr[data-step="pay"] a[href="#/sagas/${child}"]`).click();
      await page.locator('h2', { hasText: 'payment' }).waitFor();
      await page.getByText('child of').waitFor();

      // The list filtered by parent shows the child saga.
      await open(`/`);
      // Loaded first: a filter typed while the page still renders its first list could be reset by it.
      await listFor({});
      await page.locator('input[name=parentId]').fill(seeded.trip);
      await page.locator('input[name=parentId]').dispatchEvent('change');
      assert.deepEqual(await listFor({ parentId: seeded.trip }), [{ id: child, status: 'completed' }]);
    },
  );

  scenario('cancels a running trip from its page, which then compensates', async () => {
    const id = await start('trip', tripInput());
    await waitingForApproval(id);
    await open(`/sagas/${id}`);
    await page.getByRole('button', { name: 'Cancel saga' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel saga' }).click();
    await page.locator('h2 .status-compensated').waitFor({ timeout: 15_000 });
    assert.equal((await view(id)).status, 'compensated');
    await page.locator('tr[data-type="cancel_requested"]').waitFor();
  });

  scenario('retries a dead letter from its page, which then compensates', async () => {
    await open(`/sagas/${seeded.deadLetter}`);
    await page.locator('h2 .status-failed').waitFor();
    await screenshot(page, 'dashboard-dead-letter-1366');
    await page.getByRole('button', { name: 'Retry dead letter' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Retry' }).click();
    await page.locator('h2 .status-compensated').waitFor({ timeout: 15_000 });
    assert.equal((await view(seeded.deadLetter)).status, 'compensated');
    await page.locator('tr[data-type="saga_retried"]').waitFor();
  });

  scenario('skips a waiting step from its page with an output, and the saga goes on', async () => {
    const id = await start('trip', tripInput());
    await waitingForApproval(id);
    await open(`/sagas/${id}`);
    await page.locator('tr[data-step="awaitApproval"]').getByRole('button', { name: 'Skip…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.locator('textarea[name=output]').fill('{"approved":true,"by":"ops on call"}');
    await dialog.locator('input[name=reason]').fill('approved by phone');
    await dialog.getByRole('button', { name: 'Skip step' }).click();
    await page.locator('h2 .status-completed').waitFor({ timeout: 15_000 });
    const skipped = await stepOf(id, 'awaitApproval');
    assert.equal(skipped.status, 'skipped');
    assert.deepEqual(skipped.output, { approved: true, by: 'ops on call' });
    await page.locator('tr[data-type="step_skipped"]').waitFor();
  });

  scenario('shows a signal refused by its schema in the dialog, and changes nothing', async () => {
    const id = await start('trip', tripInput());
    await waitingForApproval(id);
    await open(`/sagas/${id}`);
    await page.getByRole('button', { name: 'Send signal “approval”' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Send signal' }).click();
    await dialog.getByRole('alert').waitFor();
    assert.match((await dialog.getByRole('alert').textContent())!, /Invalid payload for signal "approval"/);
    assert.equal((await stepOf(id, 'awaitApproval')).status, 'waiting');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });

  scenario('shows the definitions: versions, steps, groups, signals and limits', async () => {
    await open(`/definitions`);
    const trip = page.locator('article[data-saga="trip"]');
    await trip.waitFor();
    const text = (await trip.textContent())!;
    for (const expected of [
      'bookFlight',
      'bookings',
      'signal approval',
      'child saga payment',
      'cancelFlight',
    ])
      assert.ok(text.includes(expected), `${expected} in ${text}`);
    await screenshot(page, 'dashboard-definitions-1366');
  });

  scenario('loads the next page of a filtered list on demand, each saga once', async () => {
    const more = await Promise.all(Array.from({ length: 50 }, () => start('scripted', {})));
    const scripted = [seeded.deadLetter, ...more];
    await open('/?name=scripted');
    const first = await listFor({ name: 'scripted' });
    assert.equal(first.length, 50);
    await page.getByRole('button', { name: 'Load more' }).click();
    await page.locator('#runs tbody tr').nth(50).waitFor();
    // The page reloads its totals every 5 s; the list it extended stays as loaded.
    await page.waitForResponse((response) => response.url().includes('/saga-counts'));
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 500)));
    const all = await rowsOf();
    const ids = (rows: { id: string | null }[]) => rows.map((r) => r.id);
    assert.deepEqual(ids(all.slice(0, 50)), ids(first));
    assert.deepEqual(new Set(all.map((r) => r.id)), new Set(scripted));
    assert.equal(all.length, 51);
    assert.equal(await page.getByRole('button', { name: 'Load more' }).count(), 0);
  });
});

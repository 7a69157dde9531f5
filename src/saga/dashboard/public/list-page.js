import { useEffect, useState } from 'preact/hooks';
import { get } from './api.js';
import { duration, ErrorText, plural, SagaLink, Status, STATUSES, when } from './format.js';
import { html } from './html.js';

const FILTERS = ['name', 'status', 'parentId', 'createdAfter', 'createdBefore'];

/** `datetime-local` values are local times; the API wants ISO-8601 with an offset. */
const toIso = (local) => (local ? new Date(local).toISOString() : undefined);
const toLocal = (iso) => {
  if (!iso) return '';
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

function listPath(filter, cursor, limit = 50) {
  const params = new URLSearchParams({ limit: String(limit) });
  for (const key of FILTERS) if (filter[key]) params.set(key, filter[key]);
  if (cursor) params.set('cursor', cursor);
  return `/sagas?${params}`;
}

/** The runs: totals per status, the dead letters first, then the filtered list, newest first. */
export function ListPage({ query }) {
  const filter = Object.fromEntries(FILTERS.map((k) => [k, query.get(k) ?? '']));
  const setFilter = (next) => {
    const params = new URLSearchParams();
    for (const key of FILTERS) if (next[key]) params.set(key, next[key]);
    location.hash = `#/?${params}`;
  };
  const [names, setNames] = useState([]);
  const [counts, setCounts] = useState([]);
  const [deadLetters, setDeadLetters] = useState([]);
  const [page, setPage] = useState({ items: [], nextCursor: null });
  const [error, setError] = useState();
  const [tick, setTick] = useState(0);
  const filterKey = JSON.stringify(filter);

  useEffect(() => {
    get('/definitions').then((d) => setNames([...new Set(d.items.map((x) => x.name))]), setError);
    const timer = setInterval(() => setTick((t) => t + 1), 5000);
    return () => clearInterval(timer);
  }, []);
  useEffect(() => {
    // A later filter or tick supersedes this load: an answer that arrives after it must not land,
    // or a slow unfiltered list would replace the filtered one.
    let current = true;
    const unlessSuperseded = (set) => (value) => current && set(value);
    const failed = unlessSuperseded(setError);
    get('/saga-counts').then(
      unlessSuperseded((c) => setCounts(c.items)),
      failed,
    );
    get(listPath({ name: filter.name, status: 'failed' }, undefined, 10)).then(
      unlessSuperseded((p) => setDeadLetters(p.items)),
      failed,
    );
    // A list extended by 'Load more' stays as it was loaded (a reload would cut it to its first
    // page under the reader's eyes); a new filter, or the first page alone, loads afresh.
    if (page.filterKey !== filterKey || !page.extended)
      get(listPath(filter)).then(
        unlessSuperseded((p) => {
          setPage({ ...p, filterKey });
          setError(undefined);
        }),
        failed,
      );
    return () => {
      current = false;
    };
  }, [filterKey, tick]);

  // Extends the list only if it still shows this filter's rows.
  const more = () =>
    get(listPath(filter, page.nextCursor)).then(
      (p) =>
        setPage((shown) =>
          shown.filterKey === filterKey
            ? { ...shown, items: [...shown.items, ...p.items], nextCursor: p.nextCursor, extended: true }
            : shown,
        ),
      setError,
    );
  const totals = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const c of counts) if (!filter.name || c.name === filter.name) totals[c.status] += Number(c.count);

  return html`
    <section class="totals" aria-label="Sagas by status">
      ${STATUSES.map(
        (s) =>
          html`<a
            href="#/?${new URLSearchParams({ ...(filter.name ? { name: filter.name } : {}), status: s })}"
            class="total total-${s} ${filter.status === s ? 'selected' : ''}"
            data-status=${s}
          >
            <span class="count">${totals[s].toLocaleString()}</span><span>${s}</span>
          </a>`,
      )}
    </section>
    ${error && html`<p class="error-text" role="alert">${error.message}</p>`}
    ${
      deadLetters.length > 0 &&
      filter.status !== 'failed' &&
      html`<article class="dead-letters">
        <header>
          <strong>Dead letters</strong> · ${needsOperator(totals.failed)}
          <a href="#/?status=failed" class="right">show all</a>
        </header>
        <${SagaTable} items=${deadLetters} />
      </article>`
    }
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <label
        >Saga
        <select
          name="name"
          value=${filter.name}
          onChange=${(e) => setFilter({ ...filter, name: e.target.value })}
        >
          <option value="">all</option>
          ${names.map((n) => html`<option value=${n}>${n}</option>`)}
        </select>
      </label>
      <label
        >Status
        <select
          name="status"
          value=${filter.status}
          onChange=${(e) => setFilter({ ...filter, status: e.target.value })}
        >
          <option value="">all</option>
          ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </label>
      <label
        >Created after
        <input
          type="datetime-local"
          name="createdAfter"
          value=${toLocal(filter.createdAfter)}
          onChange=${(e) => setFilter({ ...filter, createdAfter: toIso(e.target.value) })}
        />
      </label>
      <label
        >Created before
        <input
          type="datetime-local"
          name="createdBefore"
          value=${toLocal(filter.createdBefore)}
          onChange=${(e) => setFilter({ ...filter, createdBefore: toIso(e.target.value) })}
        />
      </label>
      <label
        >Parent saga
        <input
          name="parentId"
          placeholder="parent id"
          value=${filter.parentId}
          onChange=${(e) => setFilter({ ...filter, parentId: e.target.value.trim() })}
        />
      </label>
      <button type="button" class="secondary outline" onClick=${() => setFilter({})}>Clear</button>
    </form>
    <${SagaTable} items=${page.items} id="runs" filter=${page.filterKey} />
    ${page.items.length === 0 && html`<p class="muted empty">No saga matches these filters.</p>`}
    ${page.nextCursor && html`<button class="secondary outline" onClick=${more}>Load more</button>`}
  `;
}

const needsOperator = (failed) =>
  `${plural(failed, 'failed saga')} ${failed === 1 ? 'needs' : 'need'} an operator`;

/** `filter`: what the rows were loaded for, so that a reader can tell a list that is still loading. */
function SagaTable({ items, id, filter }) {
  return html`<div class="overflow-auto">
    <table class="striped sagas" id=${id} data-filter=${filter}>
      <thead>
        <tr>
          <th>Saga</th>
          <th>Id</th>
          <th>Status</th>
          <th>Created</th>
          <th>Took</th>
          <th>Parent</th>
          <th>Error</th>
        </tr>
      </thead>
      <tbody>
        ${items.map(
          (s) =>
            html`<tr data-id=${s.id} data-status=${s.status}>
              <td><b>${s.name}</b> <small class="muted">v${s.version}</small></td>
              <td class="mono"><${SagaLink} id=${s.id} /></td>
              <td><${Status} status=${s.status} /></td>
              <td>${when(s.createdAt)}</td>
              <td>${s.completedAt ? duration(new Date(s.completedAt) - new Date(s.createdAt)) : ''}</td>
              <td class="mono">${s.parentId && html`<${SagaLink} id=${s.parentId} />`}</td>
              <td class="clip"><${ErrorText} error=${s.error} /></td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

import { useEffect, useState } from 'preact/hooks';
import { get } from './api.js';
import { duration, Json, plural } from './format.js';
import { html } from './html.js';

const retryText = ({ attempts, backoff }) =>
  `${plural(attempts, 'attempt')}, ${backoff.type} backoff ${duration(backoff.delay)}` +
  (backoff.type === 'exponential' ? ` (max ${duration(backoff.maxDelay)})` : '') +
  (backoff.jitter ? `, jitter ${backoff.jitter}` : '');

const limitsText = (limits) =>
  [
    limits?.concurrency && `${limits.concurrency} at once`,
    limits?.rateLimit && `${limits.rateLimit.max} per ${duration(limits.rateLimit.durationMs)}`,
  ]
    .filter(Boolean)
    .join(', ');

/** Each saga this server runs, with its versions, steps, signals and limits. */
export function DefinitionsPage() {
  const [definitions, setDefinitions] = useState();
  const [error, setError] = useState();
  useEffect(() => {
    get('/definitions').then((d) => setDefinitions(d.items), setError);
  }, []);
  if (error) return html`<p class="error-text" role="alert">${error.message}</p>`;
  if (!definitions) return html`<p aria-busy="true">Loading definitions…</p>`;
  const byName = Map.groupBy(definitions, (d) => d.name);
  return html`<h2>Definitions</h2>
    ${[...byName].map(
      ([name, versions]) =>
        html`<article class="definition" data-saga=${name}>
          <header>
            <strong>${name}</strong>
            ${versions.map((v) => html` <span class="version ${v.latest ? 'latest' : ''}">v${v.version}${v.latest ? ' · new starts' : ''}</span>`)}
          </header>
          ${versions
            .slice()
            .reverse()
            .map((v) => html`<${Version} definition=${v} />`)}
        </article>`,
    )}`;
}

function Version({ definition: d }) {
  return html`<section>
    <p class="muted">
      Version ${d.version} · class <code>${d.className}</code>
      ${d.deadlineMs ? html` · deadline ${duration(d.deadlineMs)}` : ''} · priority ${d.priority}
      ${d.concurrencyKey ? html` · <b>one saga per key</b>` : ''}
      ${d.schedules.map((s) => html` · schedule <code>${s.id}</code>: <code>${s.cron}</code> (${s.timezone})`)}
    </p>
    <div class="overflow-auto">
      <table class="striped">
        <thead>
          <tr>
            <th>#</th>
            <th>Step</th>
            <th>Kind</th>
            <th>Parallel group</th>
            <th>Retry</th>
            <th>Timeout</th>
            <th>Limits</th>
            <th>Compensation</th>
            <th>Waits for / runs</th>
          </tr>
        </thead>
        <tbody>
          ${d.steps.map(
            (s, i) =>
              html`<tr>
                <td>${i + 1}</td>
                <td><b>${s.name}</b></td>
                <td><span class="kind kind-${s.kind}">${s.kind}</span></td>
                <td>${s.group ?? ''}</td>
                <td>${retryText(s.retry)}</td>
                <td>${duration(s.timeoutMs)}</td>
                <td>
                  ${limitsText(s.limits)}
                  ${s.delayMs ? html`<br /><small>sleeps ${duration(s.delayMs)} first</small>` : ''}
                </td>
                <td>
                  ${
                    s.compensation
                      ? html`<code>${s.compensation.method}</code><br /><small
                            >${retryText(s.compensation.retry)}</small
                          >${s.compensation.limits ? html`<br /><small>${limitsText(s.compensation.limits)}</small>` : ''}`
                      : html`<span class="muted">none</span>`
                  }
                  ${s.compensateOnFailure ? html`<br /><small>also undoes its own failed attempt</small>` : ''}
                </td>
                <td>
                  ${s.signal && html`signal <b>${s.signal.name}</b>`}
                  ${s.child && html`child saga <b>${s.child}</b>`}
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
    </div>
    <details>
      <summary>Input schema${d.steps.some((s) => s.signal) ? ' and signal payloads' : ''}</summary>
      <div class="grid">
        <div>
          <h6>Input</h6>
          <${Json} value=${d.input} />
        </div>
        ${d.steps
          .filter((s) => s.signal)
          .map(
            (s) =>
              html`<div>
                <h6>Signal ${s.signal.name}</h6>
                <${Json} value=${s.signal.schema} />
              </div>`,
          )}
      </div>
    </details>
  </section>`;
}

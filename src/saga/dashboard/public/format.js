import { html } from './html.js';

export const STATUSES = ['pending', 'running', 'compensating', 'completed', 'compensated', 'failed'];

export const Status = ({ status }) => html`<span class="status status-${status}">${status}</span>`;

export function when(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  const today = new Date().toDateString() === date.toDateString();
  return today
    ? date.toLocaleTimeString([], { hour12: false })
    : date.toLocaleString([], { hour12: false, dateStyle: 'short', timeStyle: 'medium' });
}

export function duration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

export const shortId = (id) => (id ? `${id.slice(0, 8)}…${id.slice(-4)}` : '');

export const SagaLink = ({ id, children }) =>
  html`<a href="#/sagas/${id}" title=${id}>${children ?? shortId(id)}</a>`;

export const Json = ({ value }) =>
  value === undefined
    ? html`<p class="muted">none</p>`
    : html`<pre class="json">${JSON.stringify(value, null, 2)}</pre>`;

export const ErrorText = ({ error }) =>
  error
    ? html`<span class="error-text"
        ><b>${error.name}</b>: ${error.message}${error.retryable === false ? ' (not retryable)' : ''}</span
      >`
    : null;

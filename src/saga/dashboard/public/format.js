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

const UNITS = [
  ['d', 86_400],
  ['h', 3_600],
  ['min', 60],
  ['s', 1],
];

/** A number and its unit, which a line must not break apart. */
const unit = (count, name) => `${count}\u00a0${name}`;

/**
 * A span as a person says it: `340 ms`, `2.5 s`, `1 min`, `1 min 30 s`, `7 d`, `2 h 5 min`:
 * milliseconds under a second, 3 significant digits under a minute, then the two largest
 * units of the whole seconds that are not zero.
 */
export function duration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '';
  if (ms < 999.5) return unit(Math.round(ms), 'ms');
  if (ms < 59_950) return unit(Number((ms / 1000).toPrecision(3)), 's');
  let rest = Math.round(ms / 1000);
  const parts = [];
  for (const [name, seconds] of UNITS) {
    const count = Math.floor(rest / seconds);
    rest -= count * seconds;
    if (count > 0 || parts.length > 0) parts.push([count, name]);
  }
  return parts
    .slice(0, 2)
    .filter(([count]) => count > 0)
    .map(([count, name]) => unit(count, name))
    .join(' ');
}

/** `1 attempt`, `2 attempts`. */
export const plural = (count, word) => `${count.toLocaleString()} ${word}${count === 1 ? '' : 's'}`;

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

import { useState } from 'preact/hooks';
import { html } from './html.js';

/**
 * An operator's action, confirmed first: `action` = { title, text, confirm, danger?, form?, run }.
 * `form` renders inputs above the buttons; `run` does the call and may throw an ApiError, shown here.
 */
export function ConfirmDialog({ action, onDone, onClose }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState();
  if (!action) return null;
  const confirm = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const result = await action.run();
      onDone?.(result);
      onClose();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return html`<dialog open class="confirm" aria-label=${action.title}>
    <article>
      <header><strong>${action.title}</strong></header>
      <form onSubmit=${confirm}>
        <p>${action.text}</p>
        ${action.form}
        ${
          error &&
          html`<p class="error-text" role="alert">
            ${error.message}
            ${error.body?.issues && html`<br /><small>${error.body.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}</small>`}
          </p>`
        }
        <footer>
          <button type="button" class="secondary" onClick=${onClose} disabled=${busy}>Cancel</button>
          <button type="submit" class=${action.danger ? 'danger' : ''} aria-busy=${busy} disabled=${busy}>
            ${action.confirm}
          </button>
        </footer>
      </form>
    </article>
  </dialog>`;
}

/** Asks for the API key; `onSubmit(key)` or `onSubmit(undefined)` to give up. */
export function KeyDialog({ message, onSubmit }) {
  const [key, setKey] = useState('');
  return html`<dialog open aria-label="API key">
    <article>
      <header><strong>API key</strong></header>
      <form
        onSubmit=${(e) => {
          e.preventDefault();
          onSubmit(key);
        }}
      >
        <p>${message ?? 'This server needs an API key.'} It is kept in this tab only.</p>
        <input
          type="password"
          name="api-key"
          placeholder="API key"
          autocomplete="off"
          value=${key}
          onInput=${(e) => setKey(e.target.value)}
          autofocus
        />
        <footer>
          <button type="button" class="secondary" onClick=${() => onSubmit(undefined)}>Cancel</button>
          <button type="submit">Use this key</button>
        </footer>
      </form>
    </article>
  </dialog>`;
}

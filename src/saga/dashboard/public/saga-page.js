import { useEffect, useRef, useState } from 'preact/hooks';
import { get, post, streamSaga } from './api.js';
import { ConfirmDialog } from './dialogs.js';
import { duration, ErrorText, Json, plural, SagaLink, Status, when } from './format.js';
import { html } from './html.js';
import { JsonField, SchemaForm } from './schema-form.js';
import { Timeline } from './timeline.js';

const ACTIVE = ['pending', 'running', 'compensating'];

/**
 * The saga's view and event history, live: the stream's snapshot, then each event as it is
 * recorded (the view is read again after each, to show the steps as they are now).
 */
function useLiveSaga(id) {
  const [view, setView] = useState();
  const [events, setEvents] = useState(new Map());
  const [live, setLive] = useState(false);
  const [error, setError] = useState();
  const [generation, setGeneration] = useState(0);
  const refresh = useRef();
  useEffect(() => {
    const abort = new AbortController();
    const addEvents = (items) =>
      setEvents((known) => {
        const next = new Map(known);
        for (const e of items) next.set(e.seq, e);
        return next;
      });
    const reread = () => {
      clearTimeout(refresh.current);
      refresh.current = setTimeout(() => get(`/sagas/${id}`).then(setView, setError), 150);
    };
    setLive(true);
    streamSaga(
      id,
      (name, data) => {
        if (name === 'snapshot') {
          setView(data);
          get(`/sagas/${id}/events`).then((h) => addEvents(h.items), setError);
        } else {
          addEvents([data]);
          reread();
        }
      },
      abort.signal,
    )
      .then(
        () => {
          // The stream ends with the saga: read what its end changed.
          reread();
          get(`/sagas/${id}/events`).then((h) => addEvents(h.items), setError);
        },
        (e) => e.name !== 'AbortError' && setError(e),
      )
      .finally(() => !abort.signal.aborted && setLive(false));
    return () => abort.abort();
  }, [id, generation]);
  const sorted = [...events.values()].sort((a, b) => a.seq - b.seq);
  // After an operator's action: streams again if the stream had ended (a retried dead letter).
  const changed = () => (live ? undefined : setGeneration((g) => g + 1));
  return { view, events: sorted, live, error, changed };
}

export function SagaPage({ id }) {
  const { view, events, live, error, changed } = useLiveSaga(id);
  const [definition, setDefinition] = useState();
  const [action, setAction] = useState();
  useEffect(() => {
    if (!view) return;
    get('/definitions').then((d) =>
      setDefinition(d.items.find((x) => x.name === view.name && x.version === view.version)),
    );
  }, [view?.name, view?.version]);
  if (error && !view) return html`<p class="error-text" role="alert">${error.message}</p>`;
  if (!view) return html`<p aria-busy="true">Loading saga…</p>`;
  const act = (a) => setAction(a);
  return html`
    <header class="saga-header">
      <div>
        <h2>
          ${view.name} <small class="muted">v${view.version}</small> <${Status} status=${view.status} />
        </h2>
        <p class="muted mono">
          ${view.id} ${view.parentId && html` · child of <${SagaLink} id=${view.parentId} />`}
        </p>
        <p class="meta">
          created ${when(view.createdAt)}
          ${view.completedAt && html` · ended ${when(view.completedAt)} after ${duration(Date.parse(view.completedAt) - Date.parse(view.createdAt))}`}
          ${view.startAt && html` · starts ${when(view.startAt)}`}
          ${view.deadlineAt && html` · deadline ${when(view.deadlineAt)}`}
          ${live ? html` · <span class="live" title="updates as events are recorded">● live</span>` : ''}
        </p>
        ${view.error && html`<p><${ErrorText} error=${view.error} /></p>`}
      </div>
      <div class="actions">
        ${
          ACTIVE.includes(view.status) &&
          html`<button class="danger outline" onClick=${() => act(cancelAction(view))}>Cancel saga</button>`
        }
        ${view.status === 'failed' && html`<button onClick=${() => act(retryAction(view))}>Retry dead letter</button>`}
        ${
          ACTIVE.includes(view.status) &&
          signalsOf(definition).map(
            (step) =>
              html`<button class="secondary" onClick=${() => act(signalAction(view, step.signal))}>
                Send signal “${step.signal.name}”
              </button>`,
          )
        }
      </div>
    </header>

    <article class="panel">
      <header><strong>Timeline</strong></header>
      <${Timeline} view=${view} events=${events} live=${live} />
    </article>

    <article class="panel">
      <header><strong>Steps</strong></header>
      <${StepsTable} view=${view} act=${act} />
    </article>

    <div class="grid">
      <article class="panel">
        <header><strong>Input</strong></header>
        <${Json} value=${view.input} />
      </article>
      <article class="panel">
        <header><strong>Output</strong></header>
        <${Json} value=${view.output} />
      </article>
    </div>

    ${
      view.children?.length > 0 &&
      html`<article class="panel">
        <header><strong>Child sagas</strong></header>
        <table class="children">
          <tbody>
            ${view.children.map(
              (c) =>
                html`<tr>
                  <td>${c.name}</td>
                  <td class="mono"><${SagaLink} id=${c.id} /></td>
                  <td><${Status} status=${c.status} /></td>
                  <td class="muted">started by step ${c.step}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </article>`
    }

    <article class="panel">
      <header><strong>Event history</strong> <small class="muted">${events.length} events</small></header>
      <${EventTable} events=${events} origin=${Date.parse(view.createdAt)} />
    </article>

    <${ConfirmDialog} action=${action} onClose=${() => setAction(undefined)} onDone=${changed} />
  `;
}

function signalsOf(definition) {
  return definition?.steps.filter((s) => s.signal) ?? [];
}

function StepsTable({ view, act }) {
  const active = ACTIVE.includes(view.status);
  return html`<div class="overflow-auto">
    <table class="steps">
      <thead>
        <tr>
          <th>Step</th>
          <th>Kind</th>
          <th>Status</th>
          <th>Attempts</th>
          <th>Started</th>
          <th>Took</th>
          <th>Details</th>
          <th>Compensation</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        ${view.steps.map((step) => {
          const retryable =
            (step.status === 'pending' && step.dueAt) ||
            (view.status === 'failed' && step.status === 'compensation_failed');
          // A running attempt cannot be skipped (409): only a step that is not running now.
          const skippable = active && ['pending', 'waiting'].includes(step.status);
          return html`<tr
            data-step=${step.name}
            data-status=${step.status}
            class=${step.group ? 'in-group' : ''}
          >
            <td>
              ${step.group && html`<span class="group" title="parallel group">⇉ ${step.group}</span>`}
              <b>${step.name}</b>
            </td>
            <td><span class="kind kind-${step.kind}">${step.kind}</span></td>
            <td><${Status} status=${step.status} /></td>
            <td>${step.attempts}</td>
            <td>${when(step.startedAt)}</td>
            <td>
              ${step.startedAt && step.finishedAt ? duration(Date.parse(step.finishedAt) - Date.parse(step.startedAt)) : ''}
            </td>
            <td class="details">
              ${step.waitingFor && html`<span class="waiting">waits for signal <b>${step.waitingFor}</b></span> `}
              ${step.dueAt && html`<span class="muted">due ${when(step.dueAt)}</span> `}
              ${step.childId && html`<span class="child">child saga <${SagaLink} id=${step.childId} /></span> `}
              ${step.progress !== undefined && html`<span class="muted">progress ${JSON.stringify(step.progress)}</span> `}
              <${ErrorText} error=${step.error} />
            </td>
            <td>
              ${
                step.compensation &&
                html`<${Status} status=${step.compensation.status} />
                  <small>${plural(step.compensation.attempts, 'attempt')}</small> <br /><${ErrorText}
                    error=${step.compensation.error}
                  />`
              }
            </td>
            <td class="row-actions">
              ${retryable && html`<button class="small" onClick=${() => act(retryStepAction(view, step))}>Retry now</button>`}
              ${skippable && html`<button class="small secondary outline" onClick=${() => act(skipStepAction(view, step))}>Skip…</button>`}
            </td>
          </tr>`;
        })}
      </tbody>
    </table>
  </div>`;
}

function EventTable({ events, origin }) {
  return html`<div class="overflow-auto events-scroll">
    <table class="events striped">
      <thead>
        <tr>
          <th>#</th>
          <th>At</th>
          <th>+</th>
          <th>Event</th>
          <th>Step</th>
          <th>Attempt</th>
          <th>Data</th>
        </tr>
      </thead>
      <tbody>
        ${events.map(
          (e) =>
            html`<tr data-type=${e.type}>
              <td>${e.seq}</td>
              <td>${when(e.at)}</td>
              <td class="muted">${duration(Date.parse(e.at) - origin)}</td>
              <td><span class="event event-${e.type.split('_').at(-1)}">${e.type}</span></td>
              <td>${e.step ?? ''}</td>
              <td>${e.attempt ?? ''}</td>
              <td class="mono clip">${e.data === undefined ? '' : JSON.stringify(e.data)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

const cancelAction = (view) => ({
  title: 'Cancel this saga?',
  text: `${view.name} ${view.id} stops before its next step and compensates the steps it completed.`,
  confirm: 'Cancel saga',
  danger: true,
  run: () => post(`/sagas/${view.id}/cancel`),
});

const retryAction = (view) => ({
  title: 'Retry this dead letter?',
  text: 'The compensation that exhausted its retries runs again, with a fresh attempt budget.',
  confirm: 'Retry',
  run: () => post(`/sagas/${view.id}/retry`),
});

const retryStepAction = (view, step) => ({
  title: `Retry ${step.name} now?`,
  text:
    view.status === 'failed'
      ? `Its failed compensation runs again now, with a fresh attempt budget.`
      : `Its next attempt runs now instead of waiting out its backoff.`,
  confirm: 'Retry now',
  run: () => post(`/sagas/${view.id}/steps/${step.name}/retry`),
});

function skipStepAction(view, step) {
  const body = { output: undefined, reason: undefined };
  return {
    title: `Skip ${step.name}?`,
    text: 'The step ends skipped with this output in place of running, and the saga goes on; a skipped step is never compensated.',
    confirm: 'Skip step',
    danger: true,
    form: html`<${JsonField}
        label="Output (JSON, optional)"
        name="output"
        onChange=${(v) => (body.output = v)}
      />
      <label
        >Reason <input name="reason" onInput=${(e) => (body.reason = e.target.value || undefined)}
      /></label>`,
    run: () => post(`/sagas/${view.id}/steps/${step.name}/skip`, body),
  };
}

function signalAction(view, signal) {
  return {
    title: `Send signal “${signal.name}”`,
    text: `Delivered to ${view.name} ${view.id}; kept until a step waits for it.`,
    confirm: 'Send signal',
    form: html`<${SignalForm} schema=${signal.schema} payloadRef=${signalPayload} />`,
    run: () => post(`/sagas/${view.id}/signals/${signal.name}`, signalPayload.current ?? {}),
  };
}

/** The payload being built in the signal dialog (one dialog is open at a time). */
const signalPayload = { current: {} };

function SignalForm({ schema, payloadRef }) {
  const [value, setValue] = useState({});
  useEffect(() => {
    payloadRef.current = {};
  }, []);
  return html`<fieldset class="signal-form">
    <${SchemaForm}
      schema=${schema}
      value=${value}
      onChange=${(next) => {
        payloadRef.current = next;
        setValue(next);
      }}
    />
  </fieldset>`;
}

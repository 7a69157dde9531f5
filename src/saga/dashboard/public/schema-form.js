import { html } from './html.js';

/**
 * Inputs for a JSON Schema object (as zod writes it): a checkbox, a text, a number or a select
 * per property; any other property, or a schema that is not an object, is edited as JSON.
 * `value` is the object being built; `onChange(next)` gets the new one.
 */
export function SchemaForm({ schema, value, onChange }) {
  const properties = schema?.type === 'object' ? (schema.properties ?? {}) : undefined;
  if (!properties) return html`<${JsonField} label="Payload (JSON)" value=${value} onChange=${onChange} />`;
  const required = new Set(schema.required ?? []);
  return Object.entries(properties).map(([name, property]) => {
    const set = (v) => onChange({ ...value, [name]: v });
    const label = `${name}${required.has(name) ? '' : ' (optional)'}`;
    const current = value?.[name];
    if (property.type === 'boolean')
      return html`<label
        ><input
          type="checkbox"
          role="switch"
          name=${name}
          checked=${current === true}
          onChange=${(e) => set(e.target.checked)}
        />
        ${label}</label
      >`;
    if (property.enum)
      return html`<label
        >${label}
        <select name=${name} onChange=${(e) => set(e.target.value || undefined)}>
          <option value="">—</option>
          ${property.enum.map((o) => html`<option selected=${current === o}>${o}</option>`)}
        </select></label
      >`;
    if (property.type === 'string')
      return html`<label
        >${label}
        <input
          name=${name}
          value=${current ?? ''}
          minlength=${property.minLength}
          maxlength=${property.maxLength}
          onInput=${(e) => set(e.target.value === '' ? undefined : e.target.value)}
      /></label>`;
    if (property.type === 'number' || property.type === 'integer')
      return html`<label
        >${label}
        <input
          type="number"
          name=${name}
          step=${property.type === 'integer' ? 1 : 'any'}
          value=${current ?? ''}
          onInput=${(e) => set(e.target.value === '' ? undefined : Number(e.target.value))}
      /></label>`;
    return html`<${JsonField} label=${label} name=${name} value=${current} onChange=${set} />`;
  });
}

/** A JSON textarea; text that does not parse is kept as is, and the server says what is wrong. */
export function JsonField({ label, name, value, onChange }) {
  return html`<label
    >${label}
    <textarea
      name=${name ?? 'json'}
      rows="4"
      class="mono"
      onInput=${(e) => {
        const text = e.target.value;
        try {
          onChange(text.trim() === '' ? undefined : JSON.parse(text));
        } catch {
          onChange(text);
        }
      }}
    >
${value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value, null, 2)}</textarea>
  </label>`;
}

import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { forgetKey, onKeyNeeded } from './api.js';
import { DefinitionsPage } from './definitions-page.js';
import { KeyDialog } from './dialogs.js';
import { html } from './html.js';
import { ListPage } from './list-page.js';
import { SagaPage } from './saga-page.js';

/** Hash routes (`#/sagas/{id}`, `#/definitions`, `#/?status=failed`): the server serves one page. */
function useRoute() {
  const read = () => {
    const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
    return { path: path || '/', query: new URLSearchParams(query) };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

function App() {
  const route = useRoute();
  const [keyRequest, setKeyRequest] = useState();
  useEffect(
    () => onKeyNeeded((message) => new Promise((resolve) => setKeyRequest({ message, resolve }))),
    [],
  );
  const saga = route.path.match(/^\/sagas\/([0-9a-f-]{36})$/i);
  const page = saga
    ? html`<${SagaPage} id=${saga[1]} key=${saga[1]} />`
    : route.path === '/definitions'
      ? html`<${DefinitionsPage} />`
      : html`<${ListPage} query=${route.query} />`;
  return html`
    <nav class="topbar container-fluid">
      <ul>
        <li>
          <a href="#/" class="brand"><strong>Sagas</strong></a>
        </li>
        <li><a href="#/" aria-current=${!saga && route.path === '/' ? 'page' : undefined}>Runs</a></li>
        <li>
          <a href="#/definitions" aria-current=${route.path === '/definitions' ? 'page' : undefined}
            >Definitions</a
          >
        </li>
      </ul>
      <ul>
        <li>
          <a
            href="#"
            class="secondary"
            onClick=${(e) => {
              e.preventDefault();
              forgetKey();
              location.reload();
            }}
            >Forget API key</a
          >
        </li>
      </ul>
    </nav>
    <main class="container-fluid">${page}</main>
    ${
      keyRequest &&
      html`<${KeyDialog}
        message=${keyRequest.message}
        onSubmit=${(key) => {
          setKeyRequest(undefined);
          keyRequest.resolve(key);
        }}
      />`
    }
  `;
}

render(html`<${App} />`, document.getElementById('app'));

// A Worker serving createSyncEndpoint() over the D1 binding DB, for tests/node/endpoint*.test.mjs.
// authenticate() here reads the caller from a header: the tests' stand-in for an application's
// own check (the template's is a JWT one, tested with the template).
import { createSyncEndpoint } from '../../js/entry-workerd.js';

const endpoints = new Map();

function endpointFor(env, setup) {
  let ep = endpoints.get(setup);
  if (!ep) {
    const options = JSON.parse(setup);
    ep = createSyncEndpoint({
      db: env.DB,
      tables: options.tables ?? ['tasks', 'notes'],
      tenantColumn: options.tenantColumn === null ? undefined : (options.tenantColumn ?? 'user_id'),
      authenticate: async (request) => JSON.parse(request.headers.get('x-test-caller') || 'null'),
      limits: options.limits,
    });
    endpoints.set(setup, ep);
  }
  return ep;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    // /<setup>/d1sync/<op>: each test names its endpoint's options (JSON, URI-encoded).
    const [, setup, prefix] = url.pathname.split('/');
    if (prefix !== 'd1sync') return new Response('not found', { status: 404 });
    return endpointFor(env, decodeURIComponent(setup)).handle(request, env);
  },
};

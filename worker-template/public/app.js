// The task list's page: renders what the database Web Worker (sync-worker.js) holds and shows
// how far its replication into D1 has come. Writes go to the local database first, so the page
// works offline; d1sync ships them when the endpoint answers.
//
// The sync token (a JWT the application's backend mints for this client) is taken from
// `#token=...` in the address once, kept in localStorage, and can be pasted in the settings.
// `window.tasksApp` ({ ready, call(op, args), health }) is the same channel for the console.

const TOKEN_KEY = 'd1sync-token';
const HEALTH_EVERY_MS = 1000;

const worker = new Worker(new URL('./sync-worker.js', import.meta.url), { type: 'module' });
const waiting = new Map();
let nextId = 1;
let lastHealth = null;

let markReady;
let markFailed;
const ready = new Promise((resolve, reject) => {
  markReady = resolve;
  markFailed = reject;
});
ready.catch(() => {}); // reported on the page; callers of call() see it too

function call(op, args = {}) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    worker.postMessage({ id, op, args });
  });
}

const $ = (selector) => document.querySelector(selector);

function setStatus(text, kind = '') {
  const el = $('#db-status');
  el.textContent = text;
  el.dataset.kind = kind;
}

worker.onmessage = ({ data }) => {
  if (data.id !== undefined) {
    const w = waiting.get(data.id);
    waiting.delete(data.id);
    if (data.ok) w?.resolve(data.result);
    else w?.reject(new Error(data.error));
    return;
  }
  if (data.event === 'ready') {
    setStatus(`local database: ${data.info.file} on ${data.info.vfs}`, 'ok');
    markReady(data.info);
  } else if (data.event === 'failed') {
    setStatus(`the local database could not be opened: ${data.error}`, 'error');
    markFailed(new Error(data.error));
  } else if (data.event === 'waiting') {
    setStatus('the database is open in another tab: waiting for it to close', 'warn');
  } else if (data.event === 'health') {
    showHealth(data.health);
  }
};

worker.onerror = (event) => {
  setStatus(`the database worker failed: ${event.message ?? 'unknown error'}`, 'error');
  markFailed(new Error(event.message ?? 'worker error'));
};

// ---- tasks ----------------------------------------------------------------------------------

function taskItem(task) {
  const li = document.createElement('li');
  li.dataset.id = task.id;
  li.classList.toggle('done', task.done === 1);
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.checked = task.done === 1;
  box.setAttribute('aria-label', `done: ${task.title}`);
  box.addEventListener('change', () => write('toggle', { id: task.id }));
  const title = document.createElement('span');
  title.className = 'title';
  title.textContent = task.title;
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.className = 'remove';
  remove.textContent = 'Delete';
  remove.setAttribute('aria-label', `delete: ${task.title}`);
  remove.addEventListener('click', () => write('remove', { id: task.id }));
  li.append(box, title, remove);
  return li;
}

async function render() {
  const tasks = await call('list');
  $('#tasks').replaceChildren(...tasks.map(taskItem));
  const open = tasks.filter((t) => t.done === 0).length;
  $('#count').textContent =
    `${tasks.length} ${tasks.length === 1 ? 'task' : 'tasks'}, ${open} open`;
}

async function write(op, args) {
  try {
    await call(op, args);
    await render();
    await refreshHealth();
  } catch (e) {
    setStatus(e.message, 'error');
  }
}

// ---- replication health ---------------------------------------------------------------------

function showHealth(h) {
  lastHealth = h;
  $('#sync-state').textContent = h.state;
  $('#sync-state').dataset.state = h.state;
  $('#sync-pending').textContent = h.pendingChanges ?? '–';
  $('#sync-lag').textContent =
    typeof h.lagMs === 'number' ? `${(h.lagMs / 1000).toFixed(1)} s` : '–';
  // lastError stays in health() after a recovery: shown only while it holds replication up.
  const failing = h.state === 'backoff' || h.state === 'error';
  $('#sync-error').textContent = (failing ? h.lastError : h.reason) ?? '';
}

async function refreshHealth() {
  try {
    showHealth(await call('health'));
  } catch {
    /* the database is not open: its status line says why */
  }
}

async function connect(token) {
  try {
    const { sourceId } = await call('connect', { token });
    $('#sync-client').textContent = sourceId;
  } catch (e) {
    $('#sync-error').textContent = e.message;
  }
  await refreshHealth();
}

function tokenFromAddress() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!match) return null;
  history.replaceState(null, '', location.pathname + location.search);
  return decodeURIComponent(match[1]);
}

// ---- wiring ---------------------------------------------------------------------------------

$('#add').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('#title');
  const title = input.value.trim();
  if (!title) return;
  input.value = '';
  write('add', { title });
});

$('#token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('#token').value.trim();
  if (!token) return;
  localStorage.setItem(TOKEN_KEY, token);
  $('#token').value = '';
  connect(token);
});

window.tasksApp = { ready, call, health: () => lastHealth };

const fromAddress = tokenFromAddress();
if (fromAddress) localStorage.setItem(TOKEN_KEY, fromAddress);

// A link with a token opened in a tab that shows the list already.
window.addEventListener('hashchange', async () => {
  const token = tokenFromAddress();
  if (!token) return;
  localStorage.setItem(TOKEN_KEY, token);
  await ready;
  await connect(token);
});

ready.then(async () => {
  await render();
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) await connect(token);
  else await refreshHealth();
  setInterval(refreshHealth, HEALTH_EVERY_MS);
});

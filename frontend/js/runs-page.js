// Runs page: the table of runs, live-updating, with a selection of 2-4 runs to compare, and the New run panel.

import { api } from './api.js';
import { cancelButton } from './cancel.js';
import { el, showBanner, showMessage } from './dom.js';
import { debounce, subscribe } from './events.js';
import { number, percent, runLabel } from './format.js';
import { initNewRun } from './new-run.js';
import { statusCell } from './summary.js';

const MAX_COMPARE = 4;
// a queued run older than this while nothing trains suggests that no worker is running
const WAITING_SECONDS = 15;
const table = document.getElementById('runs');
const compareButton = document.getElementById('compare');
const compareHint = document.getElementById('compare-hint');
const workerHint = document.getElementById('worker-hint');
const selected = new Set();
let runs = [];
let writes = 'disabled';

const COLUMNS = ['', 'run', 'method', 'dataset', 'model', 'status', 'best acc.', 'final acc.', 'tr(Sw)/tr(Sb)', 'NC1', ''];

function row(run) {
  const box = el('input', { type: 'checkbox', 'aria-label': `select ${runLabel(run)} to compare`,
    checked: selected.has(run.id), onchange: (event) => toggle(run.id, event.target.checked) });
  const cells = [box, el('a', { href: `/run/${run.id}` }, runLabel(run)), run.method, run.dataset, run.model,
    statusCell(run), percent(run.best_top1), percent(run.final?.test_top1), number(run.final?.variance_ratio),
    number(run.final?.nc1), writes === 'disabled' ? null : cancelButton(run, refresh)];
  return el('tr', { 'data-run': run.id }, ...cells.map((cell, i) => el('td', { class: i >= 6 ? 'num' : null }, cell)));
}

function render() {
  compareButton.parentElement.hidden = !runs.length;
  updateWorkerHint();
  if (!runs.length) {
    showMessage(table, 'empty', 'No runs yet.',
      el('p', {}, 'Queue one with New run above, or start one in a terminal, then watch it appear here:'),
      el('pre', {}, 'centerlens demo\n# or\ncenterlens train --dataset digits --epochs 10'));
    return;
  }
  const head = el('thead', {}, el('tr', {}, ...COLUMNS.map((name, i) => el('th', { class: i >= 6 ? 'num' : null }, name))));
  table.replaceChildren(el('table', { class: 'runs-table' }, head, el('tbody', {}, ...runs.map(row))));
  updateCompare();
}

/** Say that a worker must be running when queued runs have waited a while and none is training. */
function updateWorkerHint() {
  const now = Date.now();
  const waiting = runs.filter((run) => run.status === 'queued'
    && (now - Date.parse(run.created_at)) / 1000 > WAITING_SECONDS);
  workerHint.hidden = !waiting.length || runs.some((run) => run.status === 'running');
  if (workerHint.hidden) return;
  workerHint.replaceChildren(
    el('strong', {}, `${waiting.length} queued run${waiting.length > 1 ? 's are' : ' is'} waiting and none is training.`),
    ' Runs are trained by a worker: start one on the database this dashboard serves, e.g. ',
    el('code', {}, 'centerlens worker --db DATABASE'), '.');
}

function toggle(id, on) {
  if (on) selected.add(id);
  else selected.delete(id);
  updateCompare();
}

function updateCompare() {
  for (const id of [...selected]) if (!runs.some((run) => run.id === id)) selected.delete(id);
  const chosen = runs.filter((run) => selected.has(run.id));
  const datasets = new Set(chosen.map((run) => run.dataset));
  let hint = '';
  if (chosen.length < 2) hint = 'Select 2 to 4 runs to compare them side by side.';
  else if (chosen.length > MAX_COMPARE) hint = `At most ${MAX_COMPARE} runs can be compared.`;
  else if (datasets.size > 1) hint = 'Runs on different datasets cannot be aligned: pick runs of one dataset.';
  compareButton.disabled = Boolean(hint);
  const names = [...selected].map((id) => runLabel(runs.find((run) => run.id === id)));
  compareHint.textContent = hint || `Compare ${names.join(', ')} (aligned to ${names[0]}, the first ticked)`;
}

async function load() {
  try {
    runs = await api.runs();
    showBanner('');
    render();
  } catch (error) {
    if (!runs.length) showMessage(table, 'error', 'Cannot load the runs.', error.message);
    else showBanner(`Could not refresh the runs: ${error.message}`);
  }
}

compareButton.addEventListener('click', () => {
  const ids = [...selected];
  window.location.href = `/compare?runs=${ids.join(',')}`;
});

const refresh = debounce(load, 250);

async function init() {
  try {
    writes = (await api.health()).writes;
  } catch {
    // load() reports an unreachable server; without health the page only reads
  }
  await load();
  showStudies();
  initNewRun(document.getElementById('new-run-body'), writes, refresh);
  subscribe({ epoch: refresh, run: refresh }, document.getElementById('live'));
  setInterval(updateWorkerHint, 5000);
}

/** Links to the Study page of each study (runs queued from an experiment file), above the table. */
async function showStudies() {
  let studies = [];
  try {
    studies = await (await fetch('/api/studies')).json();
  } catch {
    return; // the runs table reports an unreachable server
  }
  if (!Array.isArray(studies) || !studies.length) return;
  const links = studies.map((study) => el('a', { href: `/study/${encodeURIComponent(study.name)}` },
    `${study.name} (${study.runs} runs)`));
  table.before(el('div', { class: 'studies-bar', 'data-testid': 'studies' }, el('strong', {}, 'Studies:'), ...links));
}

init();

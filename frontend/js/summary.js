// A run's status (pill, progress bar, ETA) and its summary facts, shared by all pages.

import { exportUrls } from './api.js';
import { el } from './dom.js';
import { duration, number, percent, runLabel } from './format.js';

/** Status pill, plus a progress bar and ETA while the run trains. */
export function statusCell(run) {
  const pill = el('span', { class: `status status-${run.status}`, 'data-testid': 'status' }, run.status);
  if (run.status !== 'running' && run.status !== 'queued') return el('div', { class: 'status-cell' }, pill);
  const progress = run.progress ?? 0;
  const bar = el('div', { class: 'progress', role: 'progressbar', 'aria-valuenow': Math.round(100 * progress),
    'aria-valuemin': 0, 'aria-valuemax': 100 }, el('div', { style: `width:${(100 * progress).toFixed(1)}%` }));
  const epochs = `epoch ${run.epochs_done ?? 0}/${run.epochs_planned ?? '?'}`;
  const eta = run.eta_seconds != null && !run.stale ? ` · ETA ${duration(run.eta_seconds)}` : '';
  const stale = run.stale ? el('span', { class: 'stale', 'data-testid': 'stale',
    title: 'Its trainer stopped sending heartbeats: it may have died. A worker takes the run over and resumes it.' },
  ' · stale: no heartbeat') : null;
  return el('div', { class: 'status-cell' }, pill, bar, el('span', { class: 'muted' }, epochs + eta), stale);
}

/**
 * The run page's header facts: identity, status (with `action`, e.g. a Cancel button), final metrics, exports
 * (the HTML animation in `projection`, an entry of `GET /api/projections`).
 */
export function runSummary(run, projection, action = null) {
  const urls = exportUrls(run.id, projection.name);
  const fact = (name, value, title) => el('div', { class: 'fact', title }, el('span', {}, name), el('strong', {}, value));
  const facts = el('div', { class: 'facts' },
    fact('method', run.method), fact('dataset', run.dataset), fact('model', run.model), fact('seed', String(run.seed ?? '–')),
    fact('best accuracy', percent(run.best_top1)), fact('final accuracy', percent(run.final?.test_top1)),
    fact('tr(Sw)/tr(Sb)', number(run.final?.variance_ratio), 'Final within- over between-class variance: lower is tighter'),
    fact('NC1', number(run.final?.nc1), 'Final NC1 = tr(Sw Sb⁺)/C (Papyan et al. 2020): lower is more collapsed'),
    fact('probe', `${run.probe_size ?? '–'} points`));
  const links = el('div', { class: 'exports' },
    el('a', { href: urls.csv, download: true, title: 'Per-epoch metrics as CSV' }, 'Export CSV'),
    el('a', { href: urls.html, target: '_blank', rel: 'noopener', title: 'A self-contained HTML animation of this run' },
      `Export HTML (${projection.label})`));
  const error = run.error ? el('p', { class: 'run-error', role: 'alert' }, `Error: ${run.error}`) : null;
  return [el('div', { class: 'summary-head' }, el('h1', {}, runLabel(run)), statusCell(run), action, links), facts, error]
    .filter(Boolean);
}

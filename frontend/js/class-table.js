// Compare page: per-class within-class variance of each run at one epoch, and its ratio to the reference run.

import { el, showMessage } from './dom.js';
import { classColor, number, runLabel } from './format.js';

function ratioCell(value, reference) {
  if (value == null || reference == null || reference === 0) return el('td', { class: 'num' }, '–');
  const ratio = value / reference;
  const kind = ratio < 0.95 ? 'lower' : ratio > 1.05 ? 'higher' : null;
  return el('td', { class: `num ${kind || ''}`, title: `${number(value)} / ${number(reference)}` }, `×${ratio.toFixed(2)}`);
}

/**
 * Render the table into `container`. `runs` is `[{run, classes, epochs}]` (reference first): per-class
 * variance comes from each run's `/classes`, the "all classes" row from tr(Sw) of its `/epochs`.
 */
export function renderClassTable(container, runs, epoch) {
  if (epoch == null) {
    showMessage(container, 'empty', 'No epochs recorded yet.');
    return;
  }
  const [reference, ...others] = runs;
  const at = ({ classes }) => classes.epoch.indexOf(epoch);
  const variance = (entry, k) => (at(entry) < 0 ? null : entry.classes.within_class_variance[at(entry)][k]);
  const total = ({ epochs }) => {
    const i = epochs.epoch.indexOf(epoch);
    return i < 0 ? null : epochs.within_class_variance[i];
  };
  // two header rows: each run's name over its columns, then what each column holds
  const names = el('tr', {}, el('th', { rowspan: 2 }, 'class'), el('th', {}, runLabel(reference.run)),
    ...others.map((entry) => el('th', { colspan: 2 }, runLabel(entry.run))));
  const kinds = el('tr', {}, el('th', {}, 'variance'),
    ...others.flatMap(() => [el('th', {}, 'variance'), el('th', { title: `ratio to ${runLabel(reference.run)}` }, '÷ first')]));
  const row = (name, valueOf) => el('tr', {}, el('td', {}, name), el('td', { class: 'num' }, number(valueOf(reference))),
    ...others.flatMap((entry) => [el('td', { class: 'num' }, number(valueOf(entry))), ratioCell(valueOf(entry), valueOf(reference))]));
  const classNames = reference.classes.class_names;
  const rows = classNames.map((name, k) => row(
    el('span', {}, el('span', { class: 'swatch', style: `background:${classColor(k)}` }), name), (entry) => variance(entry, k)));
  rows.push(row(el('strong', {}, 'all: tr(Sw)'), total));
  container.replaceChildren(el('table', { class: 'class-table', 'data-testid': 'class-table' },
    el('thead', {}, names, kinds), el('tbody', {}, ...rows)));
}

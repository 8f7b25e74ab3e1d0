// Compare page: 2-4 runs aligned to the first, one shared slider and play button, overlaid curves and a
// per-class variance table. The selection lives in the URL (`/compare?runs=3,5`).

import { api } from './api.js';
import { renderClassTable } from './class-table.js';
import { AXES_OPTIONS, COLOR_OPTIONS, playbackControls, projectionPicker, segmented } from './controls.js';
import { CurveGrid } from './curves.js';
import { el, showBanner, showMessage } from './dom.js';
import { debounce, subscribe } from './events.js';
import { runColor, runLabel } from './format.js';
import { ClassLegend } from './legend.js';
import { Player } from './player.js';
import { EmbeddingScatter } from './scatter.js';
import { compareIdsFromQuery, readView, settleProjection, writeView } from './state.js';
import { Timeline } from './timeline.js';
import { showTrust } from './trust.js';

const ids = compareIdsFromQuery();
const view = readView();
const $ = (id) => document.getElementById(id);
// one entry per run, in URL order: {id, run, probe, classes, epochs, timeline, scatter, badge}
let panels = [];
let player; let curves; let shownEpoch;
// the server's projections (`GET /api/projections`) and the one shown
let projections; let projection;

const back = () => el('a', { href: '/' }, 'Back to the runs to pick 2 to 4 runs');

function spanOf(comparison) {
  return [...new Set(Object.values(comparison.epochs).flatMap((epochs) => epochs.epoch))].sort((a, b) => a - b);
}

/** Apply a `/compare` response: runs, metrics and aligned frames on one shared epoch axis. */
async function apply(comparison) {
  const span = spanOf(comparison);
  for (const panel of panels) {
    panel.run = comparison.runs.find((run) => run.id === panel.id) ?? panel.run;
    panel.epochs = comparison.epochs[panel.id];
    panel.timeline = new Timeline(comparison.frames[panel.id], { recorded: panel.epochs.epoch, span });
  }
  const timelines = panels.map((panel) => panel.timeline);
  for (const panel of panels) {
    panel.scatter.setProjection(projection);
    panel.scatter.setTimeline(panel.timeline, timelines);
    panel.title.replaceChildren(el('a', { href: `/run/${panel.id}`, style: `color:${panel.color}` }, runLabel(panel.run)),
      el('span', { class: 'muted' }, `${panel.run.method} · ${panel.run.status}`));
  }
  player.setLength(span.length, { followEnd: true });
  shownEpoch = undefined;
  await Promise.all([player.redraw(), curves.update(panels.map((panel) => ({ label: runLabel(panel.run),
    color: panel.color, epochs: panel.epochs, planned: panel.run.epochs_planned })))]);
}

function describe(position) {
  const entry = panels[0]?.timeline.entryAt(position);
  if (!entry) return 'no epochs yet';
  const last = panels[0].timeline.entries[panels[0].timeline.lastIndex].epoch;
  return `epoch ${entry.epoch} / ${last}`;
}

function onPosition(position) {
  const timeline = panels[0].timeline;
  curves.setCursor(timeline.epochAt(position));
  for (const panel of panels) showTrust(panel.badge, panel.timeline.entryAt(position));
  const epoch = timeline.entryAt(position)?.epoch ?? null;
  if (epoch !== shownEpoch) {
    shownEpoch = epoch;
    $('table-title').textContent = `Within-class variance per class, epoch ${epoch ?? '–'}`;
    renderClassTable($('class-table'), panels, epoch);
    if (!player.playing && epoch != null) writeView({ epoch });
  }
}

function buildPanels(comparison, probes, classes) {
  const classNames = classes[0].class_names;
  $('scatters').style.setProperty('--columns', String(Math.min(ids.length, 2)));
  // beyond 2 runs the per-class table needs the full width: curves and table stack
  $('page').classList.toggle('many-runs', ids.length > 2);
  panels = ids.map((id, i) => {
    const title = el('h2', {});
    const badge = el('span', { class: 'trust' });
    const wrap = el('div', { class: 'scatter-wrap', 'data-testid': 'compare-scatter' });
    $('scatters').append(el('section', { class: 'card', 'data-run': id }, el('div', { class: 'view-options' }, title, badge), wrap));
    const scatter = new EmbeddingScatter(wrap, probes[i], classNames, projection);
    scatter.setColorMode(view.color);
    scatter.setFollow(view.axes === 'epoch');
    return { id, run: comparison.runs.find((run) => run.id === id), probe: probes[i], classes: classes[i],
      color: runColor(i), title, badge, scatter };
  });
  $('run-keys').replaceChildren(...panels.map((panel) => el('span', { class: 'run-key' },
    el('span', { class: 'swatch', style: `background:${panel.color}` }), runLabel(panel.run))));
  return classNames;
}

function buildToolbar(classNames) {
  const controls = playbackControls($('toolbar'));
  const counts = classNames.map((_, k) => panels[0].probe.labels.filter((label) => label === k).length);
  const legend = new ClassLegend($('legend'), classNames, counts, (k) => {
    panels.forEach((panel) => panel.scatter.setIsolated(k));
    player.redraw();
  });
  const color = segmented('colour', COLOR_OPTIONS, view.color, (mode) => {
    writeView({ color: mode === 'class' ? null : mode });
    panels.forEach((panel) => panel.scatter.setColorMode(mode));
    legend.setMode(mode);
    player.redraw();
  });
  const picker = projectionPicker(projections, projection.name, (name) => {
    view.projection = name;
    projection = settleProjection(view, projections);
    refresh();
  });
  const axes = segmented('axes', AXES_OPTIONS, view.axes, (value) => {
    writeView({ axes: value === 'epoch' ? null : value });
    panels.forEach((panel) => panel.scatter.setFollow(value === 'epoch'));
    player.redraw();
  });
  $('toolbar').append(el('div', { class: 'view-options' }, color.node, picker.node, axes.node));
  legend.setMode(view.color);
  return controls;
}

const refresh = debounce(async () => {
  try {
    const [comparison, classes] = await Promise.all([api.compare(ids, projection.name),
      Promise.all(ids.map((id) => api.classes(id)))]);
    panels.forEach((panel, i) => { panel.classes = classes[i]; });
    await apply(comparison);
    showBanner('');
  } catch (error) {
    showBanner(`Could not refresh the comparison: ${error.message}`);
  }
}, 300);

async function init() {
  if (ids.length < 2 || ids.length > 4) {
    showMessage($('page'), 'error', `A comparison needs 2 to 4 runs (this address names ${ids.length}).`, back());
    return;
  }
  let comparison; let probes; let classes;
  try {
    projections = await api.projections();
    projection = settleProjection(view, projections);
    [comparison, probes, classes] = await Promise.all([api.compare(ids, projection.name),
      Promise.all(ids.map((id) => api.probe(id))), Promise.all(ids.map((id) => api.classes(id)))]);
  } catch (error) {
    showMessage($('page'), 'error', `Cannot compare runs ${ids.join(', ')}.`, error.message, back());
    return;
  }
  const classNames = buildPanels(comparison, probes, classes);
  curves = new CurveGrid($('curves'), (await api.catalog()).metrics);
  player = new Player(buildToolbar(classNames), (position) => Promise.all(panels.map((p) => p.scatter.draw(position))),
    describe);
  player.onChange(onPosition);
  await apply(comparison);
  const start = view.epoch == null ? -1 : panels[0].timeline.indexOf(view.epoch);
  await player.seek(start >= 0 ? start : panels[0].timeline.lastIndex);
  const mine = (data) => ids.includes(data.run_id);
  subscribe({
    epoch: (data) => mine(data) && refresh(),
    frame: (data) => mine(data) && data.projection === projection.name && refresh(),
    run: (data) => mine(data) && refresh(),
  }, $('live'));
}

init();

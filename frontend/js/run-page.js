// Run page: the animated probe embedding with its controls, metric curves, per-class heatmaps, live updates.

import { api } from './api.js';
import { cancelButton } from './cancel.js';
import { AXES_OPTIONS, COLOR_OPTIONS, playbackControls, projectionPicker, segmented } from './controls.js';
import { CurveGrid } from './curves.js';
import { el, showBanner, showMessage } from './dom.js';
import { debounce, subscribe } from './events.js';
import { runLabel } from './format.js';
import { CenterDistanceMatrix, ClassVarianceHeatmap } from './heatmaps.js';
import { ClassLegend } from './legend.js';
import { Player } from './player.js';
import { EmbeddingScatter } from './scatter.js';
import { readView, runIdFromPath, settleProjection, writeView } from './state.js';
import { runSummary } from './summary.js';
import { Timeline } from './timeline.js';
import { showTrust } from './trust.js';

const runId = runIdFromPath();
const view = readView();
const $ = (id) => document.getElementById(id);
const back = () => el('a', { href: '/' }, 'Back to the runs');
const state = { run: null, epochs: null, timeline: new Timeline({ frames: [] }) };
// the scatter, legend and distance matrix exist once the run has recorded its probe set
let scatter = null; let legend = null; let distances = null;
let player; let curves; let variance; let trustBadge;
let writes = 'disabled';
// the server's projections (`GET /api/projections`) and the one shown
let projections; let projection;

function renderSummary() {
  const cancel = writes === 'disabled' ? null : cancelButton(state.run, () => guarded('refresh the run', loadMetrics));
  $('summary').replaceChildren(...runSummary(state.run, projection, cancel));
  $('crumb').textContent = runLabel(state.run);
  document.title = `centerlens · ${runLabel(state.run)}`;
}

function describe(position) {
  const entry = state.timeline.entryAt(position);
  if (!entry) return 'no epochs yet';
  return `epoch ${entry.epoch} / ${state.timeline.entries[state.timeline.lastIndex].epoch}`;
}

const rememberEpoch = debounce((epoch) => writeView({ epoch }), 400);

function onPosition(position) {
  const entry = state.timeline.entryAt(position);
  const epoch = state.timeline.epochAt(position);
  curves.setCursor(epoch);
  variance.setCursor(epoch);
  showTrust(trustBadge, entry);
  if (entry) distances?.show(entry.epoch);
  if (entry && !player.playing) rememberEpoch(entry.epoch);
}

/** Build the scatter, legend and distance matrix once the probe exists; until then say what is awaited. */
function setupProbe(probe) {
  const classNames = state.run.class_names || [];
  if (!probe.size || !classNames.length) {
    showMessage($('scatter'), 'empty', `Waiting for the first epoch (the run is ${state.run.status}).`,
      'The probe set and its embedding appear here as soon as the trainer records them.');
    return;
  }
  scatter = new EmbeddingScatter($('scatter'), probe, classNames, projection);
  scatter.setColorMode(view.color);
  scatter.setFollow(view.axes === 'epoch');
  const counts = classNames.map((_, k) => probe.labels.filter((label) => label === k).length);
  legend = new ClassLegend($('legend'), classNames, counts, (k) => {
    scatter.setIsolated(k);
    player.redraw();
  });
  legend.setMode(view.color);
  distances = new CenterDistanceMatrix($('distance-matrix'), runId, classNames, $('distance-title'));
}

async function loadFrames({ followEnd = false } = {}) {
  if (!scatter) {
    const probe = await api.probe(runId);
    setupProbe(probe);
    if (!scatter) return;
  }
  const frames = await api.frames(runId, projection.name);
  state.timeline = new Timeline(frames, { recorded: state.epochs?.epoch ?? [] });
  scatter.setProjection(projection);
  scatter.setTimeline(state.timeline);
  player.setLength(state.timeline.length, { followEnd });
  await player.redraw();
}

async function loadMetrics() {
  const [run, epochs, classes] = await Promise.all([api.run(runId), api.epochs(runId), api.classes(runId)]);
  state.run = run;
  state.epochs = epochs;
  renderSummary();
  const series = { label: runLabel(run), color: '#1f77b4', epochs, planned: run.epochs_planned };
  await Promise.all([curves.update([series]), variance.update(classes)]);
}

/** Run a refresh; failures after the first render go to the banner instead of blanking the page. */
async function guarded(what, task) {
  try {
    await task();
    showBanner('');
  } catch (error) {
    showBanner(`Could not ${what}: ${error.message}`);
  }
}

function buildToolbar() {
  const toolbar = $('toolbar');
  const controls = playbackControls(toolbar);
  const color = segmented('colour', COLOR_OPTIONS, view.color, (mode) => {
    view.color = mode;
    writeView({ color: mode === 'class' ? null : mode });
    scatter?.setColorMode(mode);
    legend?.setMode(mode);
    player.redraw();
  });
  const picker = projectionPicker(projections, projection.name, (name) => {
    view.projection = name;
    projection = settleProjection(view, projections);
    renderSummary();
    guarded('load the frames', () => loadFrames());
  });
  const axes = segmented('axes', AXES_OPTIONS, view.axes, (value) => {
    view.axes = value;
    writeView({ axes: value === 'epoch' ? null : value });
    scatter?.setFollow(value === 'epoch');
    player.redraw();
  });
  trustBadge = el('span', { class: 'trust', 'data-testid': 'trust' });
  controls.label.after(trustBadge);
  toolbar.append(el('div', { class: 'view-options' }, color.node, picker.node, axes.node));
  return controls;
}

async function init() {
  if (runId == null) {
    showMessage($('page'), 'error', 'No run in this address.', back());
    return;
  }
  try {
    [state.run, { writes }, projections] = await Promise.all([api.run(runId), api.health(), api.projections()]);
  } catch (error) {
    showMessage($('page'), 'error', `Cannot load run ${runId}.`, error.message, back());
    return;
  }
  projection = settleProjection(view, projections);
  renderSummary();
  curves = new CurveGrid($('curves'), (await api.catalog()).metrics);
  variance = new ClassVarianceHeatmap($('class-heatmap'));
  player = new Player(buildToolbar(), (position) => scatter?.draw(position), describe);
  player.onChange(onPosition);
  await guarded('load the metrics', loadMetrics);
  await guarded('load the frames', loadFrames);
  const start = view.epoch == null ? -1 : state.timeline.indexOf(view.epoch);
  await player.seek(start >= 0 ? start : state.timeline.lastIndex);
  listen();
}

function listen() {
  const refreshAll = debounce(() => guarded('refresh the run', async () => {
    await loadMetrics();
    await loadFrames({ followEnd: true });
  }));
  const refreshFrames = debounce(() => guarded('refresh the frames', () => loadFrames({ followEnd: true })));
  const mine = (handler, filter = () => true) => (data) => {
    if (data.run_id === runId && filter(data)) handler();
  };
  subscribe({
    epoch: mine(refreshAll),
    frame: mine(refreshFrames, (data) => data.projection === projection.name),
    run: mine(refreshAll),
  }, $('live'));
}

init();

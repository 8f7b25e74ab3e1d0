// Metric curves over epochs (one small chart per metric, runs overlaid in shared axes) with cursors.
// Scalars a run's own training loop logged (epochs.extra, `Recorder.log_epoch(extra=...)`) get a chart each
// and their own group in the picker, under the key `extra:NAME`.

import { Cursor } from './cursor.js';
import { el } from './dom.js';

/**
 * The default charts, from the catalog's metrics (GET /api/catalog): metrics declaring the same `chart`
 * share one chart, the first solid and the others dashed. `extra` adds one chart per picked metric.
 */
export function chartsFor(metrics, extra = []) {
  const charts = new Map();
  for (const metric of metrics) {
    if (!metric.chart) continue;
    if (!charts.has(metric.chart)) charts.set(metric.chart, { title: metric.chart, series: [] });
    charts.get(metric.chart).series.push(metric);
  }
  for (const name of extra) {
    const metric = metrics.find((item) => item.name === name);
    if (metric) charts.set(`extra:${name}`, { title: metric.label, series: [metric], extra: true });
  }
  return [...charts.values()].map((chart) => ({
    ...chart,
    unit: chart.series[0].unit,
    tickformat: chart.series[0].percent ? '.0%' : undefined,
    note: chart.series.length > 1 ? chart.series.map((metric, index) => `${index ? 'dashed' : 'solid'}: ${metric.label}`)
      .join(', ') : chart.series[0].explanation,
    series: chart.series.map((metric, index) => ({ key: metric.name, name: metric.label, dash: index ? 'dash' : undefined })),
  }));
}

const LOGGED_GROUP = 'logged by the run';
const LOGGED_PREFIX = 'extra:';

/** Metric entries for the scalars the runs' own loops logged, in first-seen order. */
export function loggedMetrics(runs) {
  const names = new Set(runs.flatMap((run) => (run.epochs.extra ?? []).flatMap((row) => Object.keys(row ?? {}))));
  return [...names].map((name) => ({ name: `${LOGGED_PREFIX}${name}`, label: name, unit: '', group: LOGGED_GROUP,
    explanation: `${name}: logged by the run's own training loop` }));
}

/** One run's values of a metric: a declared column, or a logged scalar (null where an epoch lacks it). */
function seriesValues(epochs, key) {
  if (!key.startsWith(LOGGED_PREFIX)) return epochs[key] ?? [];
  const name = key.slice(LOGGED_PREFIX.length);
  return (epochs.extra ?? epochs.epoch.map(() => null)).map((row) => row?.[name] ?? null);
}

const CHART_CONFIG = { displayModeBar: false, responsive: true };

function chartLayout(curve, epochRange) {
  return {
    margin: { l: 44, r: 8, t: 6, b: 26 }, showlegend: false, hovermode: 'x',
    xaxis: { range: epochRange, dtick: epochRange[1] - epochRange[0] > 12 ? undefined : 1, zeroline: false,
      tickfont: { size: 10 }, fixedrange: true },
    yaxis: { tickformat: curve.tickformat, zeroline: false, tickfont: { size: 10 }, fixedrange: true, automargin: true,
      title: { text: curve.unit, font: { size: 10 } } },
    plot_bgcolor: '#fff', paper_bgcolor: '#fff',
  };
}

function metricPicker(metrics, onPick) {
  const picker = el('select', { class: 'curve-picker', 'data-testid': 'curve-picker', 'aria-label': 'add a metric chart' },
    el('option', { value: '' }, 'add a chart…'));
  for (const group of [...new Set(metrics.map((metric) => metric.group))]) {
    picker.append(el('optgroup', { label: group }, ...metrics.filter((metric) => metric.group === group)
      .map((metric) => el('option', { value: metric.name, title: metric.explanation }, metric.label))));
  }
  picker.addEventListener('change', () => {
    if (picker.value) onPick(picker.value);
    picker.value = '';
  });
  return picker;
}

export class CurveGrid {
  /** `metrics` is the catalog's metric list; charts are built from it. */
  constructor(container, metrics) {
    this.container = container;
    this.metrics = metrics;
    this.extra = [];
    this.runs = null;
    this.panels = [];
    this.picker = metricPicker(metrics, (name) => this.add(name));
    this.build();
    window.addEventListener('resize', () => this.panels.forEach((p) => p.cursor.measure()));
  }

  build() {
    this.panels = chartsFor(this.metrics, this.extra).map((curve) => {
      const chart = el('div', { class: 'curve-chart' });
      const note = curve.note ? el('span', { class: 'curve-note' }, curve.note) : null;
      const title = el('h3', {}, curve.title);
      const panel = el('div', { class: 'curve-panel', 'data-testid': 'curve' }, el('div', { class: 'curve-head' }, title, note),
        el('div', { class: 'curve-body' }, chart));
      return { curve, chart, panel, cursor: new Cursor(chart), message: null };
    });
    this.container.replaceChildren(...this.panels.map((panel) => panel.panel),
      el('div', { class: 'curve-panel curve-add' }, this.picker));
  }

  /** Add a chart of one more metric (from the picker). */
  add(name) {
    if (this.extra.includes(name)) return;
    this.extra.push(name);
    this.build();
    if (this.runs) this.update(this.runs);
  }

  /**
   * Draw every chart; `runs` is `[{label, color, epochs, planned}]` with `epochs` a columnar epochs response
   * and `planned` the run's planned epoch count (the x axis spans it, so a training run fills in rightwards).
   */
  async update(runs) {
    this.runs = runs;
    this.#addLogged(loggedMetrics(runs));
    const all = runs.flatMap((run) => [...run.epochs.epoch, run.planned ?? 1]);
    const recorded = runs.some((run) => run.epochs.epoch.length > 0);
    const epochRange = [Math.min(1, ...all) - 0.3, Math.max(...all) + 0.3];
    await Promise.all(this.panels.map(async (panel) => {
      const traces = runs.flatMap((run) => panel.curve.series.map((series) => ({
        type: 'scatter', mode: 'lines+markers', x: run.epochs.epoch, y: seriesValues(run.epochs, series.key),
        name: runs.length > 1 ? `${run.label} ${series.name}` : series.name,
        line: { color: run.color, dash: series.dash, width: 2 }, marker: { size: 4 },
        hovertemplate: '%{y:.4g}', connectgaps: false,
      })));
      const empty = !traces.some((trace) => trace.y.some((value) => value != null));
      const layout = chartLayout(panel.curve, epochRange);
      if (empty) {
        layout.yaxis.showticklabels = false;
        layout.annotations = [{ text: recorded ? 'not recorded for this method' : 'no epochs yet',
          showarrow: false, xref: 'paper', yref: 'paper', x: 0.5, y: 0.5, font: { color: '#888' } }];
      }
      await Plotly.react(panel.chart, traces, layout, CHART_CONFIG);
      panel.cursor.measure();
    }));
  }

  /** Newly seen logged scalars join the picker and get a chart each. */
  #addLogged(logged) {
    const known = new Set(this.metrics.map((metric) => metric.name));
    const fresh = logged.filter((metric) => !known.has(metric.name));
    if (!fresh.length) return;
    this.metrics = [...this.metrics, ...fresh];
    this.extra.push(...fresh.map((metric) => metric.name));
    this.picker = metricPicker(this.metrics, (name) => this.add(name));
    this.build();
  }

  /** Move every chart's cursor to a fractional epoch. */
  setCursor(epoch) {
    for (const panel of this.panels) panel.cursor.moveTo(epoch);
  }
}

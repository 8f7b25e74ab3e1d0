// Metric curves over epochs (one small chart per metric, runs overlaid in shared axes) with cursors.

import { Cursor } from './cursor.js';
import { el } from './dom.js';

/** The charts: each draws one or more columns of the epochs response. */
export const CURVES = [
  { title: 'Test accuracy', note: 'dotted: train', tickformat: '.0%',
    series: [{ key: 'test_top1', name: 'test' }, { key: 'train_accuracy', name: 'train', dash: 'dot' }] },
  { title: 'Within-class variance tr(S<sub>w</sub>)', series: [{ key: 'within_class_variance', name: 'tr(Sw)' }] },
  { title: 'Variance ratio tr(S<sub>w</sub>)/tr(S<sub>b</sub>)', series: [{ key: 'variance_ratio', name: 'ratio' }] },
  { title: 'NC1', series: [{ key: 'nc1', name: 'NC1' }] },
  { title: 'ECE (calibration error)', series: [{ key: 'test_ece', name: 'ECE' }] },
  { title: 'Training loss', note: 'solid: CE, dashed: distill',
    series: [{ key: 'train_ce', name: 'CE' }, { key: 'train_distill', name: 'distillation', dash: 'dash' }] },
];

const CHART_CONFIG = { displayModeBar: false, responsive: true };

function chartLayout(curve, epochRange) {
  return {
    margin: { l: 44, r: 8, t: 6, b: 26 }, showlegend: false, hovermode: 'x',
    xaxis: { range: epochRange, dtick: epochRange[1] - epochRange[0] > 12 ? undefined : 1, zeroline: false,
      tickfont: { size: 10 }, fixedrange: true },
    yaxis: { tickformat: curve.tickformat, zeroline: false, tickfont: { size: 10 }, fixedrange: true, automargin: true },
    plot_bgcolor: '#fff', paper_bgcolor: '#fff',
  };
}

export class CurveGrid {
  constructor(container) {
    this.panels = CURVES.map((curve) => {
      const chart = el('div', { class: 'curve-chart' });
      const note = curve.note ? el('span', { class: 'curve-note' }, curve.note) : null;
      const title = el('h3', {});
      title.innerHTML = curve.title;
      const panel = el('div', { class: 'curve-panel', 'data-testid': 'curve' }, el('div', { class: 'curve-head' }, title, note),
        el('div', { class: 'curve-body' }, chart));
      container.append(panel);
      return { curve, chart, cursor: new Cursor(chart), message: null };
    });
    window.addEventListener('resize', () => this.panels.forEach((p) => p.cursor.measure()));
  }

  /**
   * Draw every chart; `runs` is `[{label, color, epochs, planned}]` with `epochs` a columnar epochs response
   * and `planned` the run's planned epoch count (the x axis spans it, so a training run fills in rightwards).
   */
  async update(runs) {
    const all = runs.flatMap((run) => [...run.epochs.epoch, run.planned ?? 1]);
    const recorded = runs.some((run) => run.epochs.epoch.length > 0);
    const epochRange = [Math.min(1, ...all) - 0.3, Math.max(...all) + 0.3];
    await Promise.all(this.panels.map(async (panel) => {
      const traces = runs.flatMap((run) => panel.curve.series.map((series) => ({
        type: 'scatter', mode: 'lines+markers', x: run.epochs.epoch, y: run.epochs[series.key] ?? [],
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

  /** Move every chart's cursor to a fractional epoch. */
  setCursor(epoch) {
    for (const panel of this.panels) panel.cursor.moveTo(epoch);
  }
}

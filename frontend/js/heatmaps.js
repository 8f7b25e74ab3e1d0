// Per-class heatmaps: within-class variance (class x epoch, with a cursor) and the distances between
// class centers at the epoch on screen.

import { api, toRows } from './api.js';
import { Cursor } from './cursor.js';
import { showMessage } from './dom.js';

const CONFIG = { displayModeBar: false, responsive: true };
const MARGIN = { l: 70, r: 10, t: 6, b: 30 };

/** Class x epoch heatmap of each class's within-class variance. */
export class ClassVarianceHeatmap {
  constructor(container) {
    this.container = container;
    this.chart = null;
    this.cursor = null;
  }

  /** Draw from a `/classes` response. */
  async update(classes) {
    if (!classes.epoch.length) {
      this.chart = null;
      showMessage(this.container, 'empty', 'No epochs recorded yet.');
      return;
    }
    if (!this.chart) {
      this.chart = document.createElement('div');
      this.chart.className = 'heatmap-chart';
      this.container.replaceChildren(this.chart);
      this.cursor = new Cursor(this.chart);
    }
    const z = classes.class_names.map((_, k) => classes.within_class_variance.map((row) => row[k]));
    const trace = { type: 'heatmap', x: classes.epoch, y: classes.class_names, z, colorscale: 'YlOrRd', reversescale: true,
      hovertemplate: 'class %{y}, epoch %{x}<br>variance %{z:.4g}<extra></extra>', colorbar: { thickness: 10 } };
    const layout = { margin: MARGIN, xaxis: { title: { text: 'epoch', font: { size: 11 } }, dtick: classes.epoch.length > 12 ? undefined : 1 },
      yaxis: { type: 'category', autorange: 'reversed', tickfont: { size: 10 } }, paper_bgcolor: '#fff' };
    await Plotly.react(this.chart, [trace], layout, CONFIG);
    this.cursor.measure();
  }

  setCursor(epoch) {
    this.cursor?.moveTo(epoch);
  }
}

/** The C x C matrix of distances between class centers, for the epoch on screen (fetched once per epoch). */
export class CenterDistanceMatrix {
  constructor(container, runId, classNames, title) {
    this.container = container;
    this.runId = runId;
    this.classNames = classNames;
    this.title = title;
    this.cache = new Map();
    this.shown = null;
  }

  /** Show epoch `epoch` (null: nothing recorded yet). */
  async show(epoch) {
    if (epoch === this.shown) return;
    this.shown = epoch;
    if (epoch == null) {
      showMessage(this.container, 'empty', 'No epochs recorded yet.');
      return;
    }
    if (!this.cache.has(epoch)) this.cache.set(epoch, api.centers(this.runId, epoch));
    let centers;
    try {
      centers = await this.cache.get(epoch);
    } catch (error) {
      this.cache.delete(epoch);
      showMessage(this.container, 'error', `Cannot load the centers of epoch ${epoch}`, error.message);
      this.chart = null;
      return;
    }
    if (epoch !== this.shown) return;
    if (!this.chart) {
      this.chart = document.createElement('div');
      this.chart.className = 'heatmap-chart';
      this.container.replaceChildren(this.chart);
    }
    this.title.textContent = `Distances between class centers, epoch ${epoch} (darker: closer)`;
    // the diagonal is zero by definition: leave it blank so the scale shows the pairs that matter
    const z = toRows(centers.center_distances).map((row, i) => row.map((value, j) => (i === j ? null : value)));
    const trace = { type: 'heatmap', x: this.classNames, y: this.classNames, z, colorscale: 'Blues',
      hovertemplate: '%{y} ↔ %{x}: %{z:.4g}<extra></extra>', colorbar: { thickness: 10 } };
    const layout = { margin: MARGIN, xaxis: { type: 'category', tickfont: { size: 10 } },
      yaxis: { type: 'category', autorange: 'reversed', tickfont: { size: 10 } }, paper_bgcolor: '#fff' };
    await Plotly.react(this.chart, [trace], layout, CONFIG);
  }
}

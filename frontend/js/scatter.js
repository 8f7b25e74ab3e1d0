// The probe embedding scatter: one WebGL trace per class, class centers with short trails, colour modes,
// class isolation and a hover card. Every animation frame is interpolated here and drawn with Plotly.react.

import { el } from './dom.js';
import { classColor } from './format.js';
import { HoverCard } from './hover-card.js';
import { extent } from './timeline.js';

const TRAIL_SAMPLES = 8;
const TRAIL_EPOCHS = 0.5;
const CORRECT = '#2ca02c';
const WRONG = '#d62728';
const CONFIDENCE_SCALE = 'Viridis';

// WebGL canvases default to twice the screen resolution; on a 1x screen that quadruples the pixels filled.
export const PLOT_CONFIG = {
  displaylogo: false, responsive: true, plotGlPixelRatio: Math.min(2, window.devicePixelRatio || 1),
  modeBarButtonsToRemove: ['select2d', 'lasso2d', 'autoScale2d'],
};

function rgba(hex, alpha) {
  const value = parseInt(hex.slice(1), 16);
  return `rgba(${value >> 16}, ${(value >> 8) & 255}, ${value & 255}, ${alpha.toFixed(2)})`;
}

export class EmbeddingScatter {
  /**
   * `probe` is the decoded probe response; `classNames` the run's class names; `projection` an entry of
   * `GET /api/projections` (`{name, label, linear}`).
   */
  constructor(container, probe, classNames, projection) {
    this.probe = probe;
    this.classNames = classNames;
    this.projection = projection;
    this.colorMode = 'class';
    this.isolated = null;
    this.follow = false;
    this.timeline = null;
    this.revision = 0;
    this.plot = el('div', { class: 'scatter-plot', 'data-testid': 'scatter' });
    this.overlay = el('div', { class: 'scatter-overlay', hidden: true, 'data-testid': 'scatter-overlay' });
    container.replaceChildren(this.plot, this.overlay);
    this.hoverCard = new HoverCard(container, probe, classNames);
    this.indices = this.#indicesByClass();
    this.colorCache = new WeakMap();
  }

  /**
   * Use a new timeline (first load, live update, projection switch). `group` lists the timelines whose
   * scatters share axes (the compare page's runs); the axes hold the whole run unless they follow.
   */
  setTimeline(timeline, group = [timeline]) {
    this.timeline = timeline;
    this.group = group;
    this.wholeRun = extent(group);
  }

  /** Axes that follow the points epoch by epoch (true) or hold the whole run (false). */
  setFollow(follow) {
    this.follow = follow;
  }

  /** Switch the projection (axis titles; a linear one keeps a 1:1 aspect, others do not). */
  setProjection(projection) {
    this.projection = projection;
  }

  setColorMode(mode) {
    this.colorMode = mode;
  }

  /** Show only class k (null: all classes). */
  setIsolated(k) {
    this.isolated = k;
  }

  /** Draw the interpolated picture at a fractional timeline position. Returns when Plotly has drawn. */
  draw(position) {
    const timeline = this.timeline;
    const entry = timeline?.entryAt(position);
    this.#showOverlay(entry, timeline);
    this.position = position;
    if (!timeline?.hasFrames) {
      // nothing projected yet: clear any earlier picture rather than mislabel it
      Plotly.purge(this.plot);
      this.hoverBound = false;
      return Promise.resolve();
    }
    const frame = timeline.frameAt(position);
    const traces = this.indices.map((indices, k) => {
      const x = new Float32Array(indices.length);
      const y = new Float32Array(indices.length);
      timeline.pointsAt(position, indices, x, y);
      return this.#classTrace(k, x, y, frame);
    });
    traces.push(...this.#centerTraces(position));
    this.revision += 1;
    const ranges = this.follow ? extent(this.group, position) : this.wholeRun;
    return Plotly.react(this.plot, traces, this.#layout(ranges), PLOT_CONFIG).then(() => this.#bindHover());
  }

  #indicesByClass() {
    const lists = this.classNames.map(() => []);
    this.probe.labels.forEach((label, position) => lists[label]?.push(position));
    return lists.map((list) => Int32Array.from(list));
  }

  #classTrace(k, x, y, frame) {
    const marker = { size: 5, opacity: 0.8, color: classColor(k), line: { width: 0 } };
    if (this.colorMode !== 'class' && frame?.predictions) {
      const colors = this.#frameColors(frame)[k];
      marker.color = colors;
      if (this.colorMode === 'confidence') {
        Object.assign(marker, { cmin: 0, cmax: 1, colorscale: CONFIDENCE_SCALE, showscale: k === 0 });
        marker.colorbar = { title: { text: 'confidence' }, thickness: 12, len: 0.6 };
      }
    }
    const visible = this.isolated == null || this.isolated === k;
    return { type: 'scattergl', mode: 'markers', x, y, marker, name: this.classNames[k], visible, hoverinfo: 'none' };
  }

  // Per class, the points' colours by correctness or their confidences, for one frame (cached).
  #frameColors(frame) {
    let cached = this.colorCache.get(frame);
    if (!cached) {
      cached = {};
      this.colorCache.set(frame, cached);
    }
    if (!cached[this.colorMode]) {
      cached[this.colorMode] = this.indices.map((indices) => (this.colorMode === 'confidence'
        ? Float32Array.from(indices, (p) => frame.confidences[p])
        : Array.from(indices, (p) => (frame.predictions[p] === this.probe.labels[p] ? CORRECT : WRONG))));
    }
    return cached[this.colorMode];
  }

  // Centers as large outlined markers, and a thin trail (dots fading into the past) of where each was
  // over the last half epoch; one trace for all trails, classes separated by gaps.
  #centerTraces(position) {
    const now = this.timeline.centersAt(position);
    if (!now) return [];
    const classes = this.classNames.map((_, k) => k).filter((k) => this.isolated == null || this.isolated === k);
    const past = [];
    for (let s = TRAIL_SAMPLES; s >= 1; s -= 1) {
      const at = position - (TRAIL_EPOCHS * s) / TRAIL_SAMPLES;
      if (at >= 0) past.push({ centers: this.timeline.centersAt(at), fade: 1 - s / (TRAIL_SAMPLES + 1) });
    }
    const trail = { x: [], y: [], color: [], size: [] };
    for (const k of classes) {
      for (const { centers, fade } of [...past, { centers: now, fade: 1 }]) {
        trail.x.push(centers[2 * k]);
        trail.y.push(centers[2 * k + 1]);
        trail.color.push(rgba(classColor(k), 0.2 + 0.6 * fade));
        trail.size.push(2 + 4 * fade);
      }
      trail.x.push(null);
      trail.y.push(null);
      trail.color.push('rgba(0, 0, 0, 0)');
      trail.size.push(0);
    }
    return [
      { type: 'scattergl', mode: 'lines+markers', x: trail.x, y: trail.y, hoverinfo: 'skip', showlegend: false,
        line: { color: 'rgba(40, 40, 40, 0.3)', width: 1.5 },
        marker: { color: trail.color, size: trail.size, line: { width: 0 } } },
      { type: 'scattergl', mode: 'markers', x: classes.map((k) => now[2 * k]), y: classes.map((k) => now[2 * k + 1]),
        text: classes.map((k) => `center of ${this.classNames[k]}`), hovertemplate: '%{text}<extra></extra>',
        marker: { color: classes.map(classColor), size: 15, symbol: 'diamond', line: { color: '#111', width: 1.5 } },
        showlegend: false },
    ];
  }

  #layout(ranges) {
    const axis = (name, range) => ({
      title: { text: name, font: { size: 12, color: '#666' } }, range, autorange: false, showticklabels: false,
      zeroline: false, showgrid: true, gridcolor: '#eee',
    });
    const { label, linear, name } = this.projection;
    return {
      xaxis: axis(`${label} 1`, ranges.x),
      yaxis: { ...axis(`${label} 2`, ranges.y), scaleanchor: linear ? 'x' : undefined },
      margin: { l: 30, r: 10, t: 10, b: 30 }, showlegend: false, hovermode: 'closest', dragmode: 'pan',
      uirevision: `${name} ${this.follow}`, datarevision: this.revision, plot_bgcolor: '#fff', paper_bgcolor: '#fff',
    };
  }

  #showOverlay(entry, timeline) {
    let text = '';
    if (!timeline || !entry) text = 'No epochs recorded yet.';
    else if (entry.state === 'pending') text = `Epoch ${entry.epoch}: projecting…`;
    else if (entry.state === 'failed') text = `Epoch ${entry.epoch}: projection failed (${entry.frame.error || 'no detail'})`;
    else if (entry.state === 'absent') text = `This run has no epoch ${entry.epoch}.`;
    this.overlay.textContent = text;
    this.overlay.hidden = !text;
    this.overlay.classList.toggle('overlay-error', entry?.state === 'failed');
    this.plot.classList.toggle('stale', Boolean(text));
  }

  #bindHover() {
    if (this.hoverBound) return;
    this.hoverBound = true;
    this.plot.on('plotly_hover', (event) => {
      const point = event.points[0];
      if (!point || point.curveNumber >= this.indices.length) return;
      const position = this.indices[point.curveNumber][point.pointNumber];
      this.hoverCard.show(position, this.timeline.frameAt(this.position), event.event.clientX, event.event.clientY);
    });
    this.plot.on('plotly_unhover', () => this.hoverCard.hide());
  }
}

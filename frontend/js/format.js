// Number, time and colour formatting shared by the pages.

const CLASS_COLORS = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
  '#393b79', '#e7ba52', '#637939', '#ad494a', '#7b4173', '#3182bd', '#e6550d', '#31a354', '#756bb1', '#636363',
];
const RUN_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

/** A class's colour; beyond 20 classes the palette repeats with a golden-angle hue. */
export function classColor(k) {
  return k < CLASS_COLORS.length ? CLASS_COLORS[k] : `hsl(${(k * 137.508) % 360}, 60%, 45%)`;
}

export const runColor = (index) => RUN_COLORS[index % RUN_COLORS.length];

/** `0.934` -> `93.4%`; null -> an en dash. */
export function percent(value, digits = 1) {
  return value == null ? '–' : `${(100 * value).toFixed(digits)}%`;
}

/** A compact number with 3 significant digits; null -> an en dash. */
export function number(value) {
  if (value == null || Number.isNaN(value)) return '–';
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e5)) return value.toExponential(2);
  return value.toPrecision(3).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}

/** Seconds as `1h 02m`, `3m 05s` or `12s`. */
export function duration(seconds) {
  if (seconds == null) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** A run's display label: its name, or `run N`. */
export const runLabel = (run) => run.name || `run ${run.id}`;

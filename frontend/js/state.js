// Page state in the URL (so a view can be shared and survives reload): query parameters and path ids.

const COLOR_MODES = ['class', 'correct', 'confidence'];
const AXES = ['epoch', 'run'];

const choice = (value, allowed) => (allowed.includes(value) ? value : allowed[0]);

/**
 * The view settings in the query string, with defaults for missing or unknown values. `projection` is
 * the name asked for (an address from before the rename says `?method=`), until `settleProjection`.
 */
export function readView() {
  const params = new URLSearchParams(window.location.search);
  const epoch = Number.parseInt(params.get('epoch'), 10);
  return {
    projection: params.get('projection') ?? params.get('method'),
    color: choice(params.get('color'), COLOR_MODES),
    axes: choice(params.get('axes'), AXES),
    epoch: Number.isFinite(epoch) ? epoch : null,
  };
}

/**
 * The projection to show, from the server's list (`GET /api/projections`; the first is the default),
 * stored as `view.projection`; the address is rewritten to `?projection=` (the default is left out).
 */
export function settleProjection(view, projections) {
  const shown = projections.find((projection) => projection.name === view.projection) ?? projections[0];
  view.projection = shown.name;
  writeView({ method: null, projection: shown === projections[0] ? null : shown.name });
  return shown;
}

/** Merge `changes` into the query string without adding a history entry (null removes a key). */
export function writeView(changes) {
  const url = new URL(window.location.href);
  for (const [key, value] of Object.entries(changes)) {
    if (value == null) url.searchParams.delete(key);
    else url.searchParams.set(key, String(value));
  }
  // keep lists readable (`runs=3,5`, not `runs=3%2C5`): commas need no escaping in a query
  url.search = url.searchParams.toString().replaceAll('%2C', ',');
  window.history.replaceState(null, '', url);
}

/** The run id of a `/run/{id}` path, or null. */
export function runIdFromPath() {
  const match = window.location.pathname.match(/\/run\/(\d+)\/?$/);
  return match ? Number(match[1]) : null;
}

/** The run ids of `?runs=3,5` (in order, without duplicates). */
export function compareIdsFromQuery() {
  const raw = new URLSearchParams(window.location.search).get('runs') || '';
  const ids = raw.split(',').map((part) => Number.parseInt(part.trim(), 10)).filter(Number.isFinite);
  return [...new Set(ids)];
}

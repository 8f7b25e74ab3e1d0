// Client of the HTTP contract in docs/api.md: JSON fetches and writes, errors as ApiError, typed-array decoding.

const TYPED_ARRAYS = {
  f4: Float32Array, f8: Float64Array, i1: Int8Array, i2: Int16Array, i4: Int32Array, u1: Uint8Array, u2: Uint16Array,
};

/** An HTTP or network failure, with the server's `detail` as the message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Decode `{"dtype", "bdata", "shape"}` into a typed array (with `.shape`); null and plain lists pass through. */
export function decodeArray(value) {
  if (value == null || Array.isArray(value) || ArrayBuffer.isView(value)) return value;
  const Type = TYPED_ARRAYS[value.dtype];
  if (!Type) throw new ApiError(0, `unknown array dtype ${value.dtype}`);
  const text = atob(value.bdata);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i += 1) bytes[i] = text.charCodeAt(i);
  const array = new Type(bytes.buffer);
  array.shape = value.shape || [array.length];
  return array;
}

/** Rows of a 2-D typed array as plain arrays (for heatmaps). */
export function toRows(array) {
  const [rows, columns] = array.shape;
  return Array.from({ length: rows }, (_, r) => Array.from(array.subarray(r * columns, (r + 1) * columns)));
}

const TOKEN_KEY = 'centerlens-token';

/** The write token (CENTERLENS_TOKEN) typed into the New run form, kept for this browser tab only. */
export const writeToken = {
  get: () => sessionStorage.getItem(TOKEN_KEY) || '',
  set: (value) => (value ? sessionStorage.setItem(TOKEN_KEY, value) : sessionStorage.removeItem(TOKEN_KEY)),
};

async function fetchJson(path, init = {}) {
  let response;
  try {
    response = await fetch(path, { ...init, headers: { Accept: 'application/json', ...init.headers } });
  } catch (error) {
    throw new ApiError(0, `cannot reach the centerlens server (${error.message})`);
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const body = await response.json();
      detail = typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail);
    } catch {
      // the body was not JSON: keep the status text
    }
    throw new ApiError(response.status, `${detail} (HTTP ${response.status})`);
  }
  return response.json();
}

/** POST a JSON body (or none), with the write token when one was given. The request header marks the
 * write as the dashboard's own: the server refuses writes without it, and another site's page cannot send it. */
function postJson(path, body) {
  const headers = { 'X-Centerlens-Request': '1' };
  if (writeToken.get()) headers.Authorization = `Bearer ${writeToken.get()}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetchJson(path, { method: 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

function decodeFrame(frame) {
  return {
    ...frame,
    points: decodeArray(frame.points),
    centers: decodeArray(frame.centers),
    predictions: decodeArray(frame.predictions),
    confidences: decodeArray(frame.confidences),
  };
}

function decodeFrames(response) {
  return { ...response, frames: response.frames.map(decodeFrame) };
}

let catalogAnswer; // methods, models, datasets and metrics: fetched once per page

export const api = {
  health: () => fetchJson('/api/health'),
  runSettings: () => fetchJson('/api/run-settings'),
  catalog: () => { catalogAnswer ??= fetchJson('/api/catalog'); return catalogAnswer; },
  suites: () => fetchJson('/api/suites'),
  queueRun: (settings) => postJson('/api/runs', settings),
  queueSuite: (name, force) => postJson(`/api/suites/${encodeURIComponent(name)}${force ? '?force=true' : ''}`),
  cancel: (id) => postJson(`/api/runs/${id}/cancel`),
  runs: () => fetchJson('/api/runs'),
  run: (id) => fetchJson(`/api/runs/${id}`),
  epochs: (id) => fetchJson(`/api/runs/${id}/epochs`),
  classes: (id) => fetchJson(`/api/runs/${id}/classes`),
  async centers(id, epoch) {
    const body = await fetchJson(`/api/runs/${id}/centers/${epoch}`);
    return { ...body, center_distances: decodeArray(body.center_distances) };
  },
  async probe(id) {
    const body = await fetchJson(`/api/runs/${id}/probe`);
    return { ...body, labels: decodeArray(body.labels), dataset_index: decodeArray(body.dataset_index) };
  },
  projections: () => fetchJson('/api/projections'),
  async frames(id, projection) {
    return decodeFrames(await fetchJson(`/api/runs/${id}/frames?projection=${encodeURIComponent(projection)}`));
  },
  async compare(ids, projection) {
    const body = await fetchJson(`/api/compare?runs=${ids.join(',')}&projection=${encodeURIComponent(projection)}`);
    const frames = {};
    for (const [id, response] of Object.entries(body.frames)) frames[id] = decodeFrames(response);
    return { ...body, frames };
  },
};

export const exportUrls = (id, projection) => ({
  csv: `/api/runs/${id}/export.csv`,
  html: `/api/runs/${id}/export.html?projection=${encodeURIComponent(projection)}`,
});

/** The thumbnail URL of one probe sample, from the probe response's template. */
export function thumbnailUrl(probe, position) {
  return probe.thumbnail_url.replace('{position}', String(position));
}

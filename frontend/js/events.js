// Live updates: one EventSource on /api/events, handlers per event name, a "live" indicator.

/**
 * Subscribe to server-sent events. `handlers` maps event names (`epoch`, `frame`, `run`) to functions
 * receiving the parsed data. `indicator` (optional) shows whether the stream is connected.
 */
export function subscribe(handlers, indicator) {
  const source = new EventSource('/api/events');
  const show = (connected) => {
    if (!indicator) return;
    indicator.hidden = false;
    indicator.classList.toggle('live-on', connected);
    indicator.textContent = connected ? 'live' : 'reconnecting…';
    indicator.title = connected
      ? 'Receiving updates from the server as epochs and frames land'
      : 'Lost the connection to the server; retrying';
  };
  source.addEventListener('open', () => show(true));
  source.addEventListener('error', () => show(false));
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => handler(JSON.parse(event.data)));
  }
  window.addEventListener('pagehide', () => source.close());
  return source;
}

/** Call `fn` once after events stop arriving for `ms` milliseconds (bursts of events -> one refetch). */
export function debounce(fn, ms = 300) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

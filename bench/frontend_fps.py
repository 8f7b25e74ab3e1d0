"""Frames actually drawn per second while the dashboard's embedding scatter plays, in headless Chromium.

A synthetic run (10 classes tightening over 12 epochs) is played at 1 epoch/s by the dashboard's own
modules (``frontend/js``: Timeline, EmbeddingScatter, Player) and, in the same browser and run, by a
naive loop that builds the full figure and calls ``Plotly.react`` with it every frame (Plotly's
default config). A drawn frame is counted when the WebGL canvas's pixels change between two
animation frames: a hash of the canvas, scaled down to 64 x 40, is taken on every
``requestAnimationFrame``, so calls that return without changing the picture are not counted. The
same sampler runs in every mode. ``dashboard-2x`` is the dashboard at Plotly's default WebGL pixel
ratio of 2, to show what rendering at the screen's resolution buys.

On a shared machine the rates swing with the load, so each size is measured in several rounds, the
modes in a rotated order each round, and the table gives the median and the range over rounds.

    python bench/frontend_fps.py [--points 2000 5000 10000] [--rounds 3] [--seconds 4] [--warmup 1]

Needs Playwright for Python and Chromium at /usr/bin/chromium. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import statistics
import sys
import threading
import time
from pathlib import Path

import plotly

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.browser_support import CHROMIUM, CHROMIUM_ARGS  # noqa: E402  (the tests' Chromium launch)

MODES = ("dashboard", "dashboard-2x", "naive")
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<script src="/vendor/plotly.min.js"></script></head>
<body style="margin:0"><div id="toolbar"></div>
<div id="scatter" style="position:relative;width:760px;height:520px"></div>
<script type="module">
import { playbackControls } from '/static/js/controls.js';
import { Player } from '/static/js/player.js';
import { EmbeddingScatter, PLOT_CONFIG } from '/static/js/scatter.js';
import { Timeline, lerpRows } from '/static/js/timeline.js';

const CLASSES = 10, EPOCHS = 12;

// Deterministic synthetic run: each point keeps its direction from its class center; spread shrinks.
function syntheticRun(n) {
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const labels = Int16Array.from({ length: n }, (_, i) => i % CLASSES);
  const offsets = Float32Array.from({ length: 2 * n }, gauss);
  const frames = [];
  for (let e = 0; e < EPOCHS; e += 1) {
    const spread = 4 * Math.exp(-e / 4) + 0.6;
    const centers = new Float32Array(2 * CLASSES);
    for (let k = 0; k < CLASSES; k += 1) {
      const angle = (2 * Math.PI * k) / CLASSES + 0.05 * e;
      centers[2 * k] = 10 * Math.cos(angle);
      centers[2 * k + 1] = 10 * Math.sin(angle);
    }
    const points = new Float32Array(2 * n);
    for (let i = 0; i < n; i += 1) {
      points[2 * i] = centers[2 * labels[i]] + spread * offsets[2 * i];
      points[2 * i + 1] = centers[2 * labels[i] + 1] + spread * offsets[2 * i + 1];
    }
    const wrong = 0.3 * Math.exp(-e / 3);
    const predictions = labels.map((label) => (random() < wrong ? (label + 1) % CLASSES : label));
    const confidences = Float32Array.from({ length: n }, () => 0.5 + 0.5 * random());
    frames.push({ epoch: e + 1, status: 'ok', points, centers, predictions, confidences });
  }
  return { labels, frames };
}

// Counts animation frames on which the WebGL canvas's pixels differ from the previous one.
function startSampler(plot) {
  const small = document.createElement('canvas');
  small.width = 64; small.height = 40;
  const context = small.getContext('2d', { willReadFrequently: true });
  const stats = { distinct: 0, running: true };
  let last = 0;
  const sample = () => {
    if (!stats.running) return;
    const canvas = plot.querySelector('canvas.gl-canvas-context');
    if (canvas) {
      context.clearRect(0, 0, 64, 40);
      context.drawImage(canvas, 0, 0, 64, 40);
      const data = context.getImageData(0, 0, 64, 40).data;
      let hash = 2166136261;
      for (let i = 0; i < data.length; i += 1) hash = Math.imul(hash ^ data[i], 16777619);
      if (hash !== last) stats.distinct += 1;
      last = hash;
    }
    requestAnimationFrame(sample);
  };
  requestAnimationFrame(sample);
  return stats;
}

// The naive loop: a full figure (fresh arrays, default config, autoranged axes) to Plotly.react per frame.
function naive(container, run, timeline, stats) {
  const plot = document.createElement('div');
  plot.style.cssText = 'width:100%;height:100%';
  container.replaceChildren(plot);
  const byClass = Array.from({ length: CLASSES }, () => []);
  run.labels.forEach((label, i) => byClass[label].push(i));
  let position = 0;
  let previous = performance.now();
  const draw = async (now) => {
    position = (position + (now - previous) / 1000) % (EPOCHS - 1);
    previous = now;
    const { a, b, u } = timeline.blendAt(position);
    const data = byClass.map((indices) => {
      const x = new Float32Array(indices.length), y = new Float32Array(indices.length);
      lerpRows(a.points, b.points, u, indices, x, y);
      return { type: 'scattergl', mode: 'markers', x: Array.from(x), y: Array.from(y), marker: { size: 5 } };
    });
    await Plotly.react(plot, data, { margin: { l: 30, r: 10, t: 10, b: 30 }, showlegend: false });
    stats.calls += 1;
    if (stats.running) requestAnimationFrame(draw);
  };
  requestAnimationFrame(draw);
  return plot;
}

window.bench = async (mode, n) => {
  const run = syntheticRun(n);
  const timeline = new Timeline({ frames: run.frames, pending: [] });
  const container = document.getElementById('scatter');
  const stats = { calls: 0, running: true };
  let plot;
  if (mode === 'naive') {
    plot = naive(container, run, timeline, stats);
  } else {
    PLOT_CONFIG.plotGlPixelRatio = mode === 'dashboard-2x' ? 2 : 1;
    const probe = { labels: run.labels, thumbnail_url: '/none/{position}.png' };
    const names = Array.from({ length: CLASSES }, (_, k) => String(k));
    const pca = { name: 'pca', label: 'PCA', linear: true };
    const scatter = new EmbeddingScatter(container, probe, names, pca);
    scatter.setTimeline(timeline);
    const player = new Player(playbackControls(document.getElementById('toolbar')), async (position) => {
      await scatter.draw(position);
      stats.calls += 1;
    }, () => '');
    player.setLength(timeline.length);
    await player.seek(0);
    player.play();
    plot = scatter.plot;
  }
  window.stopBench = () => { stats.running = false; sampler.running = false; };
  const sampler = startSampler(plot);
  window.benchStats = () => ({ calls: stats.calls, distinct: sampler.distinct });
};
</script></body></html>
"""


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves the bench page, the dashboard's modules and Plotly.js; nothing else."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/bench.html":
            body, kind = PAGE.encode(), "text/html"
        elif self.path == "/vendor/plotly.min.js":
            body, kind = PLOTLY_JS.read_bytes(), "text/javascript"
        elif self.path.startswith("/static/js/") and ".." not in self.path:
            body, kind = (ROOT / "frontend" / self.path[len("/static/") :]).read_bytes(), "text/javascript"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        """Keep the benchmark's output to its table."""


def measure(browser, base_url: str, mode: str, points: int, warmup: float, seconds: float) -> dict:
    """Drawn frames and Plotly calls per second of one mode at one size, in a fresh page."""
    page = browser.new_page(viewport={"width": 800, "height": 600})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base_url}/bench.html")
    page.wait_for_function("() => window.bench !== undefined")
    page.evaluate("([mode, n]) => window.bench(mode, n)", [mode, points])
    time.sleep(warmup)
    start = page.evaluate("() => window.benchStats()")
    time.sleep(seconds)
    end = page.evaluate("() => window.benchStats()")
    page.evaluate("() => window.stopBench()")
    page.close()
    if errors:
        raise RuntimeError(f"{mode} at {points} points: {errors}")
    return {key: (end[key] - start[key]) / seconds for key in ("distinct", "calls")}


def summary(values: list[float]) -> str:
    """``median [min-max]`` of a mode's rates over rounds."""
    return f"{statistics.median(values):.1f} [{min(values):.1f}-{max(values):.1f}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[2000, 5000, 10000])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every mode per size")
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per mode and round")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of playback before measuring")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_port}"
    print("| points | mode | frames drawn / s, median [range] | Plotly.react calls / s, median |")
    print("| ---: | --- | ---: | ---: |")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for points in args.points:
            rates: dict[str, list[dict]] = {mode: [] for mode in MODES}
            for round_index in range(args.rounds):
                order = MODES[round_index % len(MODES) :] + MODES[: round_index % len(MODES)]
                for mode in order:
                    rates[mode].append(measure(browser, base_url, mode, points, args.warmup, args.seconds))
            for mode in MODES:
                drawn = summary([rate["distinct"] for rate in rates[mode]])
                calls = statistics.median(rate["calls"] for rate in rates[mode])
                print(f"| {points:,} | {mode} | {drawn} | {calls:.1f} |", flush=True)
        browser.close()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

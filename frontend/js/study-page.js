// Study page: a study's groups as the paper's table (bold best per column, n, unfinished members marked) and
// each group's curve of a chosen metric as its mean with a ± std band; a group opens as a compare of its members.

import { api } from './api.js';
import { el, showBanner, showMessage } from './dom.js';
import { runColor } from './format.js';

const MAX_COMPARE = 4;
const name = decodeURIComponent(window.location.pathname.split('/').pop());
const table = document.getElementById('study-table');
const picker = document.getElementById('metric');
const curves = document.getElementById('study-curves');

const fetchStudy = (metric) => fetch(`/api/studies/${encodeURIComponent(name)}?metric=${encodeURIComponent(metric)}`)
  .then(async (response) => {
    const body = await response.json();
    if (!response.ok) throw new Error(body.detail || `HTTP ${response.status}`);
    return body;
  });

function cellText(stat, column) {
  if (stat.mean == null) return '–';
  const scale = column.percent ? 100 : 1;
  const digits = column.percent || column.reduce === 'mean' ? 2 : 4;
  const show = (value) => (column.percent || column.reduce === 'mean' ? (value * scale).toFixed(digits)
    : Number(value.toPrecision(digits)).toString());
  return stat.std == null ? show(stat.mean) : `${show(stat.mean)} ± ${show(stat.std)}`;
}

function membersCell(group) {
  const left = group.members.filter((member) => !member.counted);
  const why = left.map((member) => el('span', { class: `status status-${member.status}`, title: member.name },
    member.status));
  return el('td', { class: 'study-n' }, `${group.counted}/${group.members.length}`, ...(why.length ? [' ', ...why] : []));
}

function compareLink(group) {
  const ids = group.members.filter((member) => member.counted).map((member) => member.id).slice(0, MAX_COMPARE);
  if (ids.length < 2) return el('span', { class: 'muted' }, ids.length ? el('a', { href: `/run/${ids[0]}` }, 'open') : '');
  return el('a', { href: `/compare?runs=${ids.join(',')}`, 'data-testid': 'compare-group' }, 'compare');
}

function renderTable(study) {
  const datasets = [...new Set(study.groups.map((group) => group.dataset))];
  const labels = [...new Set(study.groups.map((group) => group.label))];
  const at = new Map(study.groups.map((group) => [`${group.label}\u0000${group.dataset}`, group]));
  const head = [el('th', {}, 'group'), el('th', {}, '')];
  for (const dataset of datasets) {
    head.push(el('th', {}, datasets.length > 1 ? `${dataset} n` : 'n'));
    for (const column of study.columns) head.push(el('th', {}, column.label));
  }
  const rows = labels.map((label) => {
    const cells = [el('th', { scope: 'row' }, label)];
    const first = datasets.map((dataset) => at.get(`${label}\u0000${dataset}`)).find(Boolean);
    cells.push(el('td', {}, compareLink(first)));
    for (const dataset of datasets) {
      const group = at.get(`${label}\u0000${dataset}`);
      if (!group) { cells.push(...study.columns.map(() => el('td')), el('td')); continue; }
      cells.push(membersCell(group));
      for (const column of study.columns) {
        const text = cellText(group.statistics[column.name], column);
        cells.push(el('td', { class: 'num' }, group.best.includes(column.name) ? el('strong', {}, text) : text));
      }
    }
    return el('tr', {}, ...cells);
  });
  table.replaceChildren(el('div', { class: 'table-scroll' }, el('table', { class: 'study-table' },
    el('thead', {}, el('tr', {}, ...head)), el('tbody', {}, ...rows))));
}

function renderCurves(study, metricLabel) {
  const traces = [];
  study.groups.forEach((group, index) => {
    const { epoch, mean, std } = group.curve;
    const color = runColor(index);
    const name = `${group.label}${new Set(study.groups.map((g) => g.dataset)).size > 1 ? ` (${group.dataset})` : ''}`;
    const low = mean.map((value, i) => value - (std[i] ?? 0));
    const high = mean.map((value, i) => value + (std[i] ?? 0));
    traces.push({ x: epoch, y: low, mode: 'lines', line: { width: 0, color }, hoverinfo: 'skip', showlegend: false,
      legendgroup: group.key });
    traces.push({ x: epoch, y: high, mode: 'lines', line: { width: 0, color }, fill: 'tonexty', fillcolor: `${color}33`,
      hoverinfo: 'skip', showlegend: false, legendgroup: group.key, name: `${name} ± std` });
    traces.push({ x: epoch, y: mean, mode: 'lines+markers', line: { color }, name, legendgroup: group.key,
      customdata: group.curve.n, hovertemplate: `${name}<br>epoch %{x}: %{y:.4g} (n=%{customdata})<extra></extra>` });
  });
  window.Plotly.react(curves, traces, {
    margin: { t: 10, r: 10, b: 50, l: 70 }, height: 380,
    xaxis: { title: { text: 'epoch' }, tickformat: 'd', dtick: 1 },
    yaxis: { title: { text: `${metricLabel} (mean ± std)` } },
    legend: { orientation: 'h', y: -0.25 },
  }, { displayModeBar: false, responsive: true });
}

async function show(metric) {
  const catalog = await api.catalog();
  const spec = catalog.metrics.find((item) => item.name === metric);
  const study = await fetchStudy(metric);
  renderTable(study);
  renderCurves(study, spec ? spec.label : metric);
}

async function init() {
  document.getElementById('title').textContent = `Study ${name}`;
  document.getElementById('crumb').textContent = name;
  document.title = `centerlens · ${name}`;
  try {
    const catalog = await api.catalog();
    picker.replaceChildren(...catalog.metrics.map((metric) => el('option', { value: metric.name }, metric.label)));
    picker.value = 'test_top1';
    picker.addEventListener('change', () => show(picker.value).catch((error) => showBanner(error.message)));
    await show(picker.value);
  } catch (error) {
    showMessage(table, 'error', 'The study could not be loaded', error.message);
  }
}

init();

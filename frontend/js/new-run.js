// The runs page's "New run" panel: queue one run from a form, or a suite from the server's configs/ folder.

import { api, writeToken } from './api.js';
import { el } from './dom.js';

/** The settings a method has beyond the general ones: the schema's properties marked with their methods. */
function methodSettings(schema) {
  return Object.entries(schema.properties).filter(([, property]) => (property['x-methods'] || []).length)
    .map(([name, property]) => ({ name, property, methods: property['x-methods'] }));
}

function field(label, input, extra = {}) {
  return el('label', { class: 'field', ...extra }, el('span', {}, label), input);
}

function select(name, options, value) {
  return el('select', { name }, ...options.map(([key, text]) => el('option', { value: key, selected: key === value }, text)));
}

function numberInput(name, property) {
  const step = property.type === 'integer' ? 1 : 'any';
  const min = property.minimum ?? property.exclusiveMinimum;
  const max = property.maximum ?? property.exclusiveMaximum;
  return el('input', { type: 'number', name, value: property.default, step, min, max, required: true,
    title: property.description });
}

/** The input of one setting: a picker for named choices, a number field otherwise. */
function settingInput(name, property) {
  if (property.enum) return select(name, property.enum.map((key) => [key, key]), property.default);
  return numberInput(name, property);
}

function settingValue(property, value) {
  return property.enum ? value : Number(value);
}

/** The model field: the catalog's names offered as suggestions, a family's form (timm/<name>) named in
 * the hint, since any of its members may be typed. */
function modelInput(property, catalog) {
  const forms = property['x-forms'] || property.enum;
  const families = catalog.models.filter((spec) => spec.pattern);
  const list = el('datalist', { id: 'model-choices' },
    ...forms.filter((form) => !families.some((spec) => spec.name === form)).map((form) => el('option', { value: form })));
  const input = el('input', { name: 'model', value: property.default, list: 'model-choices', required: true,
    'data-testid': 'model', title: `${property.description}: ${forms.join(', ')}` });
  const hint = el('small', { class: 'muted', 'data-testid': 'model-hint' },
    `${forms.join(', ')}`, ...families.map((spec) => el('span', {}, ` — ${spec.name}: ${spec.description}`)));
  return { input, list, hint };
}

/** A status line under a form: `say(text, kind)` with kind `ok`, `error` or `busy`. */
function statusLine() {
  const line = el('p', { class: 'form-status', role: 'status', 'data-testid': 'form-status' });
  const say = (text, kind = 'ok') => {
    line.textContent = text;
    line.className = `form-status form-status-${kind}`;
  };
  return { line, say };
}

/** Run `task` with the form's button disabled, reporting success or the server's detail. */
async function submitting(form, say, busyText, task) {
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  say(busyText, 'busy');
  try {
    say(await task());
  } catch (error) {
    say(error.message, 'error');
  } finally {
    button.disabled = false;
  }
}

function runForm(schema, catalog, onQueued) {
  const props = schema.properties;
  const labels = Object.fromEntries(catalog.methods.map((spec) => [spec.name, spec.label]));
  const method = select('method', props.method.enum.map((key) => [key, `${key} — ${labels[key] || key}`]),
    'csd');
  method.title = props.method.description;
  const dataset = select('dataset', props.dataset.enum.map((key) => [key, key]), props.dataset.default);
  const model = modelInput(props.model, catalog);
  const seed = numberInput('seed', props.seed);
  const name = el('input', { name: 'name', maxlength: props.name.maxLength, title: props.name.description });
  const hyper = methodSettings(schema).map((spec) => ({ spec,
    label: field(spec.property['x-label'], settingInput(spec.name, spec.property)) }));
  const description = el('p', { class: 'muted method-description', 'data-testid': 'method-description' });
  const paramsTitle = el('span', { class: 'params-title' });
  const none = el('span', { class: 'muted no-params' }, 'no settings here beyond the defaults');
  const { line, say } = statusLine();
  const form = el('form', { class: 'run-form', 'data-testid': 'new-run-form' },
    el('h3', {}, 'One run'),
    el('div', { class: 'form-grid' }, field('method', method), field('dataset', dataset),
      field('epochs', numberInput('epochs', props.epochs)), field('seed', seed),
      field('name', name, { class: 'field field-wide' }),
      field('model', model.input, { class: 'field field-wide' }), model.list), model.hint, description,
    el('div', { class: 'form-grid method-params' }, paramsTitle, ...hyper.map((item) => item.label), none),
    el('div', { class: 'form-actions' }, el('button', { type: 'submit', class: 'primary' }, 'Queue run'), line));
  const update = () => {
    name.placeholder = `${method.value}-${dataset.value}-s${seed.value || 0}`;
    for (const item of hyper) item.label.hidden = !item.spec.methods.includes(method.value);
    none.hidden = hyper.some((item) => !item.label.hidden);
    paramsTitle.textContent = `${method.value} settings`;
    description.textContent = catalog.methods.find((spec) => spec.name === method.value)?.description || '';
  };
  form.addEventListener('input', update);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const values = new FormData(form);
    const settings = { method: method.value, dataset: dataset.value, model: model.input.value.trim(),
      epochs: Number(values.get('epochs')), seed: Number(values.get('seed')) };
    if (name.value.trim()) settings.name = name.value.trim();
    for (const item of hyper) {
      if (!item.label.hidden) settings[item.spec.name] = settingValue(item.spec.property, values.get(item.spec.name));
    }
    submitting(form, say, 'Queueing…', async () => {
      const run = await api.queueRun(settings);
      onQueued([run]);
      return `Queued ${run.name} (run ${run.id}); it starts when a worker is free.`;
    });
  });
  update();
  return form;
}

function suiteFacts(suite) {
  return `${suite.runs} runs: ${suite.methods.join(', ')} on ${suite.datasets.join(', ')}, `
    + `${suite.epochs.join('/')} epochs`;
}

function suiteForm(suites, onQueued) {
  if (!suites.length) {
    return el('div', { class: 'suite-form' }, el('h3', {}, 'A suite'),
      el('p', { class: 'muted' }, 'The server has no experiment files (configs/*.yaml).'));
  }
  const { line, say } = statusLine();
  const picker = select('suite', suites.map((suite) => [suite.name, suite.name]), suites[0].name);
  picker.setAttribute('data-testid', 'suite');
  const facts = el('p', { class: 'suite-facts' });
  const description = el('p', { class: 'muted suite-description' });
  const forceBox = el('input', { type: 'checkbox', name: 'force', 'data-testid': 'force' });
  const again = el('label', { class: 'check' }, forceBox, ' queue these runs again (they were queued before)');
  const button = el('button', { type: 'submit', class: 'primary' }, 'Queue suite');
  const form = el('form', { class: 'suite-form', 'data-testid': 'suite-form' }, el('h3', {}, 'A suite'),
    field('experiment file (configs/)', picker), facts, description, again, el('div', { class: 'form-actions' }, button, line));
  const update = () => {
    const suite = suites.find((item) => item.name === picker.value);
    facts.textContent = suite.error ? 'not a valid suite' : suiteFacts(suite);
    facts.classList.toggle('form-status-error', Boolean(suite.error));
    description.textContent = suite.error || suite.description;
    again.hidden = !suite.queued;
    button.disabled = Boolean(suite.error);
  };
  picker.addEventListener('change', update);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const suite = suites.find((item) => item.name === picker.value);
    submitting(form, say, 'Queueing…', async () => {
      const force = !again.hidden && forceBox.checked;
      let queued;
      try {
        queued = await api.queueSuite(suite.name, force);
      } catch (error) {
        if (error.status !== 409) throw error;
        suite.queued = true;
        update();
        throw new Error(`${suite.name} was queued before: tick “queue these runs again” to queue another copy.`);
      }
      onQueued(queued.runs);
      suite.queued = true;
      forceBox.checked = false;
      update();
      return `Queued suite ${queued.suite}: ${queued.runs.length} runs.`;
    });
  });
  update();
  return form;
}

function tokenField() {
  const input = el('input', { type: 'password', name: 'token', autocomplete: 'off', value: writeToken.get(),
    placeholder: 'CENTERLENS_TOKEN', 'data-testid': 'token' });
  input.addEventListener('input', () => writeToken.set(input.value.trim()));
  return el('div', { class: 'token-row' }, field('token', input),
    el('span', { class: 'muted' }, 'This server needs its CENTERLENS_TOKEN to queue or cancel runs (kept in this tab only).'));
}

/** Fill `container` with the New run panel; `onQueued(runs)` is called with the runs the server queued. */
export async function initNewRun(container, writes, onQueued) {
  if (writes === 'disabled') {
    container.replaceChildren(el('p', { class: 'message' },
      'Queueing from the dashboard is off: this server listens beyond this machine and has no token. Restart it '
      + 'with CENTERLENS_TOKEN set, or queue from a terminal with ', el('code', {}, 'centerlens queue'), '.'));
    return;
  }
  try {
    const [schema, catalog, suites] = await Promise.all([api.runSettings(), api.catalog(), api.suites()]);
    container.replaceChildren(...[writes === 'token' ? tokenField() : null,
      el('div', { class: 'new-run-forms' }, runForm(schema, catalog, onQueued), suiteForm(suites, onQueued)),
      el('p', { class: 'hint' }, 'Queued runs are trained by a worker on this database: keep ',
        el('code', {}, 'centerlens worker --db DATABASE'), ' running (one per GPU or machine).')].filter(Boolean));
  } catch (error) {
    container.replaceChildren(el('p', { class: 'message message-error' }, `Cannot load the run settings: ${error.message}`));
  }
}

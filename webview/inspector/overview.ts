// The inspector's Overview (contract, architecture, parameters), Metadata and Structure tabs,
// rendered from a summary; they hold no state.
import { formatParams, isExporterName, moduleOf } from '../../src/core/checkpoint/inspect/display';
import type { Summary } from '../../src/shared/protocol/inspector';
import { facts, h, prettyValue, section } from './dom';
import { el } from '../shared/host';

/** Opens docs/checkpoint-format.md (the owner sends the action). */
let onDocLink: () => void = () => {};

export function setDocLinkHandler(fn: () => void): void {
  onDocLink = fn;
}

type Contract = Extract<NonNullable<Extract<Summary, { format: 'onnx' }>['onnx']['contract']>, { ok: true }>['info'];

/** The output as declared: x (with the conversion the runtime does), u or v. */
function predictionText(info: Contract): string {
  if (info.declaredPrediction === 'v') return 'v (instantaneous velocity; x = z - t v)';
  if (info.declaredPrediction === 'u') return 'u (average velocity)';
  return info.modelType === 'flow-matching' ? 'x (denoised image; v = (z - x) / t)' : 'x (denoised image; u = (z - x) / t)';
}

function contractCard(s: Summary): HTMLElement | undefined {
  const c = s.format === 'onnx' ? s.onnx.contract : undefined;
  if (!c) {
    const p = h('p', s.architecture.family === 'pmfDiT-official'
      ? 'An official pMF checkpoint (PyTorch weights). The extension runs ONNX files that follow the pMF ' +
        'checkpoint format: convert this one with the command the "Copy convert command" button copies.'
      : 'Not an ONNX file: the extension runs pMF checkpoints in ONNX form. This view explains the file; ' +
        'export a trained model with pmf_trainer to run it.');
    return section('Runs in pMF Lab?', p, docLink());
  }
  if (!c.ok) {
    const p = h('p', undefined, 'contract-bad');
    p.append(h('span', undefined, 'codicon codicon-error'), h('span', ` Not a runnable pMF checkpoint (${c.code}): ${c.message}`));
    return section('pMF checkpoint contract', p, docLink());
  }
  const info = c.info;
  const sampling = info.defaultSampling;
  const classes = info.classNames;
  const rowsIn: Array<[string, string]> = [
    ['name', info.name || s.fileName],
    ['prediction', predictionText(info)],
    ['kind', info.kind],
  ];
  if (info.modelType === 'flow-matching') {
    rowsIn.push(['model type', `flow matching: a network of z and t (no r); sampled by ${info.defaultSolver ?? 'euler'} steps of ` +
      `the v-ODE${info.guidance === 'two-pass' ? ', CFG by two passes' : ''}`]);
  }
  if (info.kind === 'image') {
    rowsIn.push(['image', `${info.channels} × ${info.imageSize} × ${info.imageSize}, patch ${info.patchSize ?? '?'}`]);
  } else {
    rowsIn.push(['dimension D', String(info.dim)]);
  }
  const nc = info.numClasses;
  rowsIn.push(['classes', nc > 0 ? `${nc}: ${classes.slice(0, 12).join(', ')}${classes.length > 12 ? ', …' : ''}` : 'none (unconditional)']);
  rowsIn.push(['inputs', info.inputs.join(', ')]);
  rowsIn.push(['guidance', info.hasCfg ? 'omega and interval [t_min, t_max] are inputs' : 'none']);
  rowsIn.push(['default sampling', `${sampling.steps} step${sampling.steps === 1 ? '' : 's'}` +
    (info.hasCfg ? `, ω ${sampling.omega}, interval [${sampling.tMin}, ${sampling.tMax}]` : '')]);
  rowsIn.push(['noise scale, t_eps', `${info.noiseScale}, ${info.tEps}`]);
  rowsIn.push(['data range', `[${info.dataRange.join(', ')}]`]);
  const ok = h('p', undefined, 'contract-ok');
  ok.append(h('span', undefined, 'codicon codicon-pass'), h('span', ' A runnable pMF checkpoint (format version ' +
    `${info.formatVersion}).`));
  const card = section('pMF checkpoint contract', ok, facts(rowsIn, 'Contract'));
  const training = info.training;
  if (Object.keys(training).length) {
    card.append(h('h3', 'Training'), facts(Object.entries(training).map(([k, v]) =>
      // JSON values (the message came as JSON): strings as they are, anything else as JSON
      [k, typeof v === 'string' ? v : JSON.stringify(v)]), 'Training'));
  }
  return card;
}

function docLink(): HTMLElement {
  const a = h('a', 'The pMF checkpoint format');
  a.href = '#';
  a.addEventListener('click', (e) => {
    e.preventDefault();
    onDocLink();
  });
  return a;
}

function architectureCard(s: Summary): HTMLElement {
  const a = s.architecture;
  const family = { 'pmfDiT-official': 'pmfDiT (official pMF checkpoint)', pmfDiT: 'pmfDiT (pMF Lab)', 'toy-mlp': 'toy MLP',
    unknown: 'not recognised' }[a.family];
  const rowsIn: Array<[string, string]> = [['family', a.label ? `${family}: ${a.label}` : family]];
  for (const [k, v] of Object.entries(a.config)) rowsIn.push([k, String(v)]);
  return section('Architecture', facts(rowsIn, 'Architecture'), h('p', `Inferred from ${a.basis}.`, 'note'));
}

function paramsCard(s: Summary): HTMLElement {
  const total = s.totalParams || 1;
  const rowsIn: Array<[string, string]> = Object.entries(s.paramsByDtype)
    .sort((x, y) => y[1] - x[1])
    .map(([dt, n]) => [dt, `${formatParams(n)} (${((100 * n) / total).toFixed(1)} %)`]);
  const groups = new Map<string, number>();
  for (const t of s.tensors) {
    // a weight the exporter named onnx::MatMul_N counts for the module whose node reads it
    const path = (isExporterName(t.name) && moduleOf(t)) || t.name;
    const top = path.split('.').slice(0, path.startsWith('net.') ? 2 : 1).join('.');
    groups.set(top, (groups.get(top) ?? 0) + t.numel);
  }
  const top = [...groups.entries()].sort((x, y) => y[1] - x[1]).slice(0, 12);
  const card = section('Parameters', facts(rowsIn, 'Parameters by dtype'));
  if (top.length > 1) {
    card.append(h('h3', 'Largest groups'), facts(top.map(([g, n]) =>
      [g, `${formatParams(n)} (${((100 * n) / total).toFixed(1)} %)`]), 'Parameters by group'));
  }
  return card;
}

export function renderOverview(s: Summary): void {
  const parts = [contractCard(s), architectureCard(s), paramsCard(s)].filter((x): x is HTMLElement => !!x);
  el('overview').replaceChildren(...parts);
}

export function renderMetadata(s: Summary): void {
  const entries = Object.entries(s.metadata);
  if (!entries.length) {
    el('metadata').replaceChildren(h('p', 'The file carries no metadata.', 'note'));
    return;
  }
  el('metadata').replaceChildren(facts(entries.map(([k, v]) => [k, h('pre', prettyValue(v))]), 'Metadata'));
}

export function renderStructure(s: Summary): void {
  const parts: HTMLElement[] = [];
  if (s.format === 'onnx') {
    const o = s.onnx;
    parts.push(section('Graph', facts([
      ['IR version', String(o.irVersion)],
      ['producer', o.producer || '—'],
      ['opsets', o.opsets.map((x) => `${x.domain || 'ai.onnx'} ${x.version}`).join(', ')],
      ['nodes', String(o.nodeCount)],
      ['inputs', o.inputs.map((i) => `${i.name}: ${i.elemType} [${i.dims.map((d) => d ?? '?').join(', ')}]`).join('\n')],
      ['outputs', o.outputs.map((i) => `${i.name}: ${i.elemType} [${i.dims.map((d) => d ?? '?').join(', ')}]`).join('\n')],
    ], 'Graph')));
    const ops = Object.entries(o.opCounts).sort((a, b) => b[1] - a[1]);
    parts.push(section('Operators', facts(ops.map(([k, n]) => [k, String(n)]), 'Operators')));
  }
  if (s.format === 'pytorch') {
    const p = s.pickle;
    const layout = { zip: 'torch.save zip archive (PyTorch ≥ 1.6)', torchscript: 'TorchScript archive (torch.jit.save)',
      legacy: 'legacy torch.save format (PyTorch < 1.6)' }[p.layout];
    parts.push(section('Pickle', facts([
      ['layout', layout],
      ['protocol', String(p.protocol)],
      ['tensors at', p.tensorPath || '(top level)'],
    ], 'Pickle'), h('p', 'pMF Lab reads pickles with a parser: nothing in the file is executed.', 'note')));
    const globals = h('table', undefined, 'facts');
    globals.setAttribute('aria-label', 'Globals');
    for (const g of p.globals) {
      const tr = h('tr', undefined, g.allowed ? '' : 'bad');
      const status = h('td');
      status.append(h('span', undefined, `codicon codicon-${g.allowed ? 'pass' : 'error'}`),
        h('span', g.allowed ? ' expected in a state dict' : ' would run on torch.load(weights_only=False)'));
      tr.append(h('th', `${g.module}.${g.name}`), status);
      globals.append(tr);
    }
    parts.push(section(`Globals referenced (${p.globals.length})`, globals));
    const top = Object.entries(p.topLevel);
    if (top.length) parts.push(section('Other top-level entries', facts(top, 'Top level')));
  }
  if (!parts.length) parts.push(h('p', 'safetensors: a JSON header and raw tensors; nothing else to show.', 'note'));
  el('structure').replaceChildren(...parts);
}


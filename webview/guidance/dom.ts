// Small DOM helpers for the Explore Guidance page: elements with attributes, labelled range
// sliders with their value, vscode-elements text fields and selects.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import { h } from '../shared/dom';

export type VscodeSingleSelect = HTMLElementTagNameMap['vscode-single-select'];
export type VscodeTextfield = HTMLElementTagNameMap['vscode-textfield'];

export { h };

export interface Slider {
  root: HTMLElement;
  input: HTMLInputElement;
  set(value: number): void;
}

/** A labelled native range input (keyboard: arrows, Page Up / Down, Home, End) with its value shown. */
export function slider(id: string, label: string, help: string, range: { min: number; max: number; step: number },
  format: (v: number) => string, onInput: (v: number) => void): Slider {
  const input = h('input', { id, type: 'range', min: String(range.min), max: String(range.max), step: String(range.step) });
  const out = h('output', { for: id, class: 'value' });
  const set = (v: number) => {
    if (document.activeElement !== input || Math.abs(Number(input.value) - v) > range.step / 2) input.value = String(v);
    out.textContent = format(v);
    input.setAttribute('aria-valuetext', `${label} ${format(v)}`);
  };
  input.addEventListener('input', () => {
    const v = Number(input.value);
    out.textContent = format(v);
    input.setAttribute('aria-valuetext', `${label} ${format(v)}`);
    onInput(v);
  });
  const lab = h('label', { for: id, text: label, title: help });
  return { root: h('div', { class: 'slider', title: help }, lab, input, out), input, set };
}

export function textfield(id: string, label: string, help: string, onChange: (v: string) => void): { root: HTMLElement; field: VscodeTextfield } {
  const field = h('vscode-textfield', { id, 'aria-label': label });
  field.title = help;
  field.addEventListener('change', () => onChange(field.value));
  const root = h('div', { class: 'field' }, h('vscode-label', { for: id, text: label, title: help }), field);
  return { root, field };
}

export function select(id: string, label: string, options: [string, string][], onChange: (v: string) => void): { root: HTMLElement; select: VscodeSingleSelect } {
  const s = h('vscode-single-select', { id, 'aria-label': label });
  for (const [value, text] of options) s.append(h('vscode-option', { value, text }));
  s.addEventListener('change', () => onChange(s.value));
  const root = h('div', { class: 'field' }, h('vscode-label', { for: id, text: label }), s);
  return { root, select: s };
}

export function button(id: string, text: string, icon: string, title: string, secondary = true): HTMLElementTagNameMap['vscode-button'] {
  const b = h('vscode-button', { id, icon, title });
  b.textContent = text;
  if (secondary) b.setAttribute('secondary', '');
  return b;
}

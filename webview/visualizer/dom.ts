// Small DOM helpers for the Field Visualizer's controls: element creation, labelled fields,
// vscode-elements text fields, selects and buttons.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import { h } from '../shared/dom';

export type VscodeSingleSelect = HTMLElementTagNameMap['vscode-single-select'];
export type VscodeTextfield = HTMLElementTagNameMap['vscode-textfield'];
export type VscodeCheckbox = HTMLElementTagNameMap['vscode-checkbox'];
export type VscodeButton = HTMLElementTagNameMap['vscode-button'];

export { h };

export function labelled(text: string, control: HTMLElement, help?: string): HTMLElement {
  const label = h('vscode-label', { for: control.id, text });
  if (help) label.title = help;
  const wrap = h('div', { class: 'field' }, label, control);
  wrap.dataset.for = control.id;
  return wrap;
}

export function textfield(id: string, label: string, attrs: Record<string, string> = {}): VscodeTextfield {
  const t = h('vscode-textfield', { id, ...attrs });
  t.label = label;
  return t;
}

export function select(id: string, label: string, options: [string, string][]): VscodeSingleSelect {
  const s = h('vscode-single-select', { id });
  s.label = label;
  for (const [value, text] of options) s.append(h('vscode-option', { value, text }));
  return s;
}

export function button(id: string, text: string, icon: string, secondary = true, title = ''): VscodeButton {
  const b = h('vscode-button', { id, icon, text });
  if (secondary) b.setAttribute('secondary', '');
  if (title) b.title = title;
  return b;
}

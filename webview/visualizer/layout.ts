// The Field Visualizer page's skeleton: the toolbar, the messages (error, status, the defaults
// note), the empty-state line, and the content (t and r controls, view bar, the fields and the
// plots side by side). The panels are filled by their owners (fieldCanvas, toyPlane, plots).
import { h } from './dom';

export interface PageLayout {
  empty: HTMLElement;
  status: HTMLElement;
  /** Why the defaults fit this model ("1 step: this model costs 66.7 GFLOP per image; more steps on request"). */
  defaultsNote: HTMLElement;
  readout: HTMLElement;
  panelsHost: HTMLElement;
  toyHost: HTMLElement;
  plotsHost: HTMLElement;
  content: HTMLElement;
  showError(message: string): void;
  hideError(): void;
}

/** Builds the page in #app (made if missing) around the toolbar, time controls and view bar. */
export function pageLayout(toolbar: HTMLElement, time: HTMLElement, viewBar: HTMLElement): PageLayout {
  const app = document.getElementById('app') ?? document.body.appendChild(h('div', { id: 'app' }));
  const errorBox = h('div', { id: 'error', role: 'alert' });
  errorBox.hidden = true;
  const errorText = h('span', { class: 'text' });
  const errorClose = h('vscode-button', { icon: 'close', secondary: '', 'aria-label': 'Dismiss the error', title: 'Dismiss' });
  errorClose.addEventListener('click', () => { errorBox.hidden = true; });
  errorBox.append(h('span', { class: 'codicon codicon-error', 'aria-hidden': 'true' }), errorText, errorClose);
  const status = h('div', { id: 'status', role: 'status', 'aria-live': 'polite' });
  const empty = h('div', { id: 'empty', text: 'Waiting for the extension\u2026' });
  const defaultsNote = h('div', { id: 'defaults-note' });
  defaultsNote.hidden = true;
  const readout = h('div', { id: 'readout', class: 'readout', 'aria-live': 'polite' });
  const panelsHost = h('div', { id: 'panels' });
  const toyHost = h('div', { id: 'toy' });
  toyHost.hidden = true;
  const panelsSection = h('section', { class: 'fields', 'aria-label': 'Fields at the selected frame' }, readout, panelsHost, toyHost);
  const plotsHost = h('section', { id: 'plots', 'aria-label': 'Measures along t' });
  const workspace = h('main', { class: 'workspace' }, panelsSection, plotsHost);
  const content = h('div', { class: 'content' }, time, viewBar, workspace);
  content.hidden = true;
  app.replaceChildren(toolbar, h('div', { class: 'messages' }, errorBox, status, defaultsNote), empty, content);
  return {
    empty, status, defaultsNote, readout, panelsHost, toyHost, plotsHost, content,
    showError: (message) => {
      errorText.textContent = message;
      errorBox.hidden = false;
    },
    hideError: () => { errorBox.hidden = true; },
  };
}

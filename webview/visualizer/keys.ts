// The Field Visualizer's keyboard: Ctrl/Cmd+Enter runs, Escape stops what is busy, arrows / Home
// / End move along t, + and - zoom; keys typed into a control stay with the control.
export interface KeyActions {
  run(): void;
  cancel(): void;
  /** Whether there is a trajectory to move along (its frame count), else undefined. */
  frames(): number | undefined;
  frame(): number;
  selectFrame(f: number): void;
  zoom(dir: 1 | -1): void;
}

export function installKeys(a: KeyActions): void {
  document.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') {
      e.preventDefault();
      a.run();
      return;
    }
    const target = e.target as HTMLElement | null;
    const tag = target?.tagName ?? '';
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === 'Escape' && document.body.hasAttribute('aria-busy') && tag !== 'CANVAS') {
      e.preventDefault();
      a.cancel();
      return;
    }
    if (/^(INPUT|TEXTAREA|SELECT|CANVAS)$/.test(tag) || tag.startsWith('VSCODE-') || target?.isContentEditable) {
      if (!(tag === 'VSCODE-BUTTON' || tag === 'VSCODE-CHECKBOX')) return;
    }
    const F = a.frames();
    if (F === undefined) return;
    switch (e.key) {
      case 'ArrowLeft': a.selectFrame(a.frame() - 1); break;
      case 'ArrowRight': a.selectFrame(a.frame() + 1); break;
      case 'Home': a.selectFrame(0); break;
      case 'End': a.selectFrame(F - 1); break;
      case '+': case '=': a.zoom(1); break;
      case '-': a.zoom(-1); break;
      default: return;
    }
    e.preventDefault();
  });
}

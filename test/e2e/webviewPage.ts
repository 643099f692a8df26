// Reading and driving the panels' pages in the end-to-end tests: canvas digests, controls, sliders.
import type { FrameLocator } from 'playwright-core';

/** A digest of a canvas's pixels (and how many distinct values it holds), read in the webview. */
export async function canvasDigest(wv: FrameLocator, selector: string): Promise<{ sum: number; distinct: number }> {
  return wv.locator(selector).first().evaluate((c: any) => {
    const d: Uint8ClampedArray = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    const seen = new Set<number>();
    for (let i = 0; i < d.length; i += 4) {
      sum = (sum * 31 + d[i] * 7 + d[i + 1] * 3 + d[i + 2]) % 1_000_000_007;
      if (seen.size < 64) seen.add(d[i] * 65536 + d[i + 1] * 256 + d[i + 2]);
    }
    return { sum, distinct: seen.size };
  });
}

export async function drawnCount(wv: FrameLocator): Promise<number> {
  return Number(await wv.locator('body').getAttribute('data-drawn'));
}

/** Sets a control's value as a user would: the value, then input and change events. */
export async function setControl(wv: FrameLocator, selector: string, value: string | number): Promise<void> {
  await wv.locator(selector).evaluate((el: any, v: string) => {
    el.value = v;
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }, String(value));
}

/** Moves a range input, then waits for the next draw. */
export async function slide(wv: FrameLocator, selector: string, value: number): Promise<void> {
  const before = await drawnCount(wv);
  await setControl(wv, selector, value);
  await wv.locator(`body:not([data-drawn="${before}"])`).waitFor({ timeout: 30_000 });
}


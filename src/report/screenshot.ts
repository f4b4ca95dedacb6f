import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { SubprocessError } from '../core/errors.ts';

/** Where Debian's chromium lives; PARITY_CHROMIUM overrides it. */
export function chromiumPath(): string | undefined {
  const candidates = [process.env.PARITY_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  return candidates.find((path): path is string => path !== undefined && path !== '' && existsSync(path));
}

/**
 * Flags for a headless Chromium on a closed network: without the background-networking ones it tries (and fails)
 * to reach Google's services at every start.
 */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface PageCheck {
  /** Console errors and page errors the page raised. */
  errors: string[];
  verdict: string | null;
  /** Ids of the charts that rendered with at least one drawn shape. */
  charts: string[];
  /** Elements drawn past the right edge of their card, or cards that scroll sideways: each as a sentence. */
  overflows: string[];
  /** Charts whose legend box overlaps the plotting area. */
  legendOverlaps: string[];
}

/** The page width a sign-off meeting's projector or laptop shows. */
export const REPORT_VIEWPORT_WIDTH = 1280;

/** Opens report.html in headless Chromium, saves a full-page screenshot, and reports what the page showed. */
export async function screenshotReport(htmlPath: string, pngPath: string): Promise<PageCheck> {
  const executablePath = chromiumPath();
  if (executablePath === undefined) {
    throw new SubprocessError('no Chromium found for the report screenshot: install Debian\'s chromium (apt-get install chromium) or set PARITY_CHROMIUM');
  }
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: REPORT_VIEWPORT_WIDTH, height: 900 } });
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(pathToFileURL(htmlPath).href, { waitUntil: 'load' });
    const verdict = await page.getAttribute('#verdict', 'data-verdict');
    const charts = await page.$$eval('svg.chart', (svgs) =>
      svgs.filter((svg) => svg.querySelector('path.series, rect.bar') !== null).map((svg) => svg.id),
    );
    const overflows = await page.$$eval('section', (sections) =>
      sections.flatMap((section) => {
        const card = section.getBoundingClientRect();
        const title = section.querySelector('h2')?.textContent ?? 'a card';
        const found: string[] = [];
        if (section.scrollWidth > section.clientWidth + 1) found.push(`${title}: the card scrolls sideways (${section.scrollWidth} px in ${section.clientWidth} px)`);
        for (const element of Array.from(section.querySelectorAll('*')) as { getBoundingClientRect(): { right: number; width: number }; tagName: string }[]) {
          const box = element.getBoundingClientRect();
          if (box.width > 0 && box.right > card.right + 1) {
            found.push(`${title}: a ${element.tagName.toLowerCase()} ends at ${Math.round(box.right)} px, past the card's edge at ${Math.round(card.right)} px`);
            break;
          }
        }
        return found;
      }),
    );
    const legendOverlaps = await page.$$eval('svg.chart', (svgs) =>
      svgs.flatMap((svg) => {
        const plot = svg.querySelector('rect.plot-area')?.getBoundingClientRect();
        if (plot === undefined) return [];
        return Array.from(svg.querySelectorAll('g.legend-box'))
          .map((legend) => (legend as { getBoundingClientRect(): { left: number; right: number; top: number; bottom: number } }).getBoundingClientRect())
          .filter((box) => box.left < plot.right - 1 && box.right > plot.left + 1 && box.top < plot.bottom - 1 && box.bottom > plot.top + 1)
          .map(() => `${svg.id}: the legend overlaps the plotting area`);
      }),
    );
    await page.screenshot({ path: pngPath, fullPage: true });
    return { errors, verdict, charts, overflows, legendOverlaps };
  } finally {
    await browser.close();
  }
}

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
}

/** Opens report.html in headless Chromium, saves a full-page screenshot, and reports what the page showed. */
export async function screenshotReport(htmlPath: string, pngPath: string): Promise<PageCheck> {
  const executablePath = chromiumPath();
  if (executablePath === undefined) {
    throw new SubprocessError('no Chromium found for the report screenshot: install Debian\'s chromium (apt-get install chromium) or set PARITY_CHROMIUM');
  }
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
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
    await page.screenshot({ path: pngPath, fullPage: true });
    return { errors, verdict, charts };
  } finally {
    await browser.close();
  }
}

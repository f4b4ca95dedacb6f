import type { Series } from './report-data.ts';

/** Inline SVG charts for the self-contained HTML report: no script, no network, readable printed. */

const WIDTH = 640;
const PLOT_HEIGHT = 225;
const MARGIN = { top: 30, right: 20, bottom: 45, left: 70 };
const LEGEND_ITEM_WIDTH = 165;
const LEGEND_ROW_HEIGHT = 16;
/** Fewer points than this in every series is too little to draw a line through. */
const MIN_LINE_POINTS = 3;

/**
 * The legend sits between the title and the plotting area, in rows of as many items as fit: never over the curves.
 * Returns its SVG and the height it takes.
 */
function legend(names: readonly string[]): { svg: string; height: number } {
  if (names.length === 0) return { svg: '', height: 0 };
  const perRow = Math.max(1, Math.floor((WIDTH - MARGIN.left - MARGIN.right) / LEGEND_ITEM_WIDTH));
  const items = names.map((name, index) => {
    const x = MARGIN.left + (index % perRow) * LEGEND_ITEM_WIDTH;
    const y = MARGIN.top + Math.floor(index / perRow) * LEGEND_ROW_HEIGHT;
    const colour = PALETTE[index % PALETTE.length] as string;
    return `<rect x="${x}" y="${y + 2}" width="10" height="10" fill="${colour}"/><text x="${x + 14}" y="${y + 11}" class="legend">${escapeXml(name)}</text>`;
  });
  const rows = Math.ceil(names.length / perRow);
  return { svg: `<g class="legend-box">${items.join('')}</g>`, height: rows * LEGEND_ROW_HEIGHT + 6 };
}

function open(id: string, title: string, height: number): string[] {
  return [
    `<svg id="${id}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeXml(title)}">`,
    `<text x="${WIDTH / 2}" y="18" text-anchor="middle" class="chart-title">${escapeXml(title)}</text>`,
  ];
}

function notice(id: string, title: string, text: string): string {
  const height = MARGIN.top + PLOT_HEIGHT + MARGIN.bottom;
  return [...open(id, title, height), `<text x="${WIDTH / 2}" y="${height / 2}" text-anchor="middle" class="chart-empty">${escapeXml(text)}</text></svg>`].join('');
}
export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];

/** Text safe in XML and HTML content and double-quoted attributes; characters XML 1.0 forbids are dropped. */
export function escapeXml(text: string): string {
  // eslint-disable-next-line no-control-regex -- the control characters are exactly what is matched
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function formatTick(value: number): string {
  if (Math.abs(value) >= 1000) return `${(value / 1000).toFixed(value % 1000 === 0 ? 0 : 1)}k`;
  return Number.isInteger(value) ? String(value) : value.toPrecision(3);
}

export interface LineChartOptions {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Draw steps (a CDF) instead of straight segments. */
  step?: boolean;
  /** The x range to draw, e.g. the whole run for a time axis, whatever the data covers. */
  xDomain?: readonly [number, number];
}

/** A line chart with axes, ticks, grid and a legend; with no data, or too little to draw, it says so instead. */
export function lineChart({ id, title, xLabel, yLabel, series, step = false, xDomain }: LineChartOptions): string {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return notice(id, title, 'no data for this run');
  const most = Math.max(...series.map((s) => s.points.length));
  if (!step && most < MIN_LINE_POINTS) return notice(id, title, `too little data to draw: ${most} point${most === 1 ? '' : 's'} per series`);
  const key = legend(series.map((s) => s.name));
  const top = MARGIN.top + key.height;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PLOT_HEIGHT;
  const parts = open(id, title, top + plotH + MARGIN.bottom);
  parts.push(key.svg);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xMin = xDomain?.[0] ?? Math.min(...xs);
  const xTop = xDomain?.[1] ?? Math.max(...xs);
  const xMax = xTop <= xMin ? xMin + 1 : xTop;
  const yMin = Math.min(0, ...ys);
  const yMax = Math.max(...ys) === yMin ? yMin + 1 : Math.max(...ys) * 1.05;
  const x = (v: number): number => MARGIN.left + ((v - xMin) / (xMax - xMin)) * plotW;
  const y = (v: number): number => top + plotH - ((v - yMin) / (yMax - yMin)) * plotH;
  parts.push(`<rect x="${MARGIN.left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" class="plot-area"/>`);
  for (const tick of niceTicks(yMin, yMax)) {
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(tick)}" y2="${y(tick)}" class="grid"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y(tick) + 4}" text-anchor="end" class="tick">${formatTick(tick)}</text>`);
  }
  for (const tick of niceTicks(xMin, xMax)) {
    parts.push(`<text x="${x(tick)}" y="${top + plotH + 16}" text-anchor="middle" class="tick">${formatTick(tick)}</text>`);
  }
  parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${top + plotH}" y2="${top + plotH}" class="axis"/>`);
  parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${top}" y2="${top + plotH}" class="axis"/>`);
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${top + plotH + MARGIN.bottom - 8}" text-anchor="middle" class="label">${escapeXml(xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" class="label">${escapeXml(yLabel)}</text>`);
  series.forEach((s, index) => {
    const colour = PALETTE[index % PALETTE.length] as string;
    let path = '';
    s.points.forEach(([px, py], i) => {
      if (i === 0) path += `M${x(px).toFixed(1)},${y(py).toFixed(1)}`;
      else if (step) path += `H${x(px).toFixed(1)}V${y(py).toFixed(1)}`;
      else path += `L${x(px).toFixed(1)},${y(py).toFixed(1)}`;
    });
    parts.push(`<path d="${path}" fill="none" stroke="${colour}" stroke-width="2" class="series" data-series="${escapeXml(s.name)}"/>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

export interface BarChartOptions {
  id: string;
  title: string;
  yLabel: string;
  groups: { label: string; bars: { name: string; value: number }[] }[];
}

/** Grouped bars (one group per route, one bar per backend). */
export function barChart({ id, title, yLabel, groups }: BarChartOptions): string {
  const values = groups.flatMap((g) => g.bars.map((b) => b.value));
  if (values.length === 0) return notice(id, title, 'no data for this run');
  const names = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.name)))];
  const key = legend(names);
  const top = MARGIN.top + key.height;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PLOT_HEIGHT;
  const parts = open(id, title, top + plotH + MARGIN.bottom);
  parts.push(key.svg);
  parts.push(`<rect x="${MARGIN.left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" class="plot-area"/>`);
  const yMax = Math.max(1, ...values) * 1.1;
  const y = (v: number): number => top + plotH - (v / yMax) * plotH;
  for (const tick of niceTicks(0, yMax)) {
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(tick)}" y2="${y(tick)}" class="grid"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y(tick) + 4}" text-anchor="end" class="tick">${formatTick(tick)}</text>`);
  }
  const groupW = plotW / groups.length;
  groups.forEach((group, gi) => {
    const barW = (groupW * 0.7) / Math.max(1, group.bars.length);
    group.bars.forEach((bar, bi) => {
      const bx = MARGIN.left + gi * groupW + groupW * 0.15 + bi * barW;
      const colour = PALETTE[names.indexOf(bar.name) % PALETTE.length] as string;
      parts.push(`<rect x="${bx.toFixed(1)}" y="${y(bar.value).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - y(bar.value)).toFixed(1)}" fill="${colour}" class="bar"><title>${escapeXml(`${group.label} ${bar.name}: ${bar.value}`)}</title></rect>`);
    });
    parts.push(`<text x="${MARGIN.left + gi * groupW + groupW / 2}" y="${top + plotH + 16}" text-anchor="middle" class="tick">${escapeXml(group.label)}</text>`);
  });
  parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${top + plotH}" y2="${top + plotH}" class="axis"/>`);
  parts.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" class="label">${escapeXml(yLabel)}</text></svg>`);
  return parts.join('');
}

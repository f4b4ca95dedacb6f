import type { Series } from './report-data.ts';

/** Inline SVG charts for the self-contained HTML report: no script, no network, readable printed. */

const WIDTH = 640;
const HEIGHT = 300;
const MARGIN = { top: 30, right: 20, bottom: 45, left: 70 };
export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
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
}

/** A line chart with axes, ticks, grid and a legend; an empty chart says so instead of drawing nothing. */
export function lineChart({ id, title, xLabel, yLabel, series, step = false }: LineChartOptions): string {
  const all = series.flatMap((s) => s.points);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const parts: string[] = [
    `<svg id="${id}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeXml(title)}">`,
    `<text x="${WIDTH / 2}" y="18" text-anchor="middle" class="chart-title">${escapeXml(title)}</text>`,
  ];
  if (all.length === 0) {
    parts.push(`<text x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle" class="chart-empty">no data for this run</text></svg>`);
    return parts.join('');
  }
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs) === xMin ? xMin + 1 : Math.max(...xs);
  const yMin = Math.min(0, ...ys);
  const yMax = Math.max(...ys) === yMin ? yMin + 1 : Math.max(...ys) * 1.05;
  const x = (v: number): number => MARGIN.left + ((v - xMin) / (xMax - xMin)) * plotW;
  const y = (v: number): number => MARGIN.top + plotH - ((v - yMin) / (yMax - yMin)) * plotH;
  for (const tick of niceTicks(yMin, yMax)) {
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(tick)}" y2="${y(tick)}" class="grid"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y(tick) + 4}" text-anchor="end" class="tick">${formatTick(tick)}</text>`);
  }
  for (const tick of niceTicks(xMin, xMax)) {
    parts.push(`<text x="${x(tick)}" y="${MARGIN.top + plotH + 16}" text-anchor="middle" class="tick">${formatTick(tick)}</text>`);
  }
  parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}" class="axis"/>`);
  parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" class="axis"/>`);
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 8}" text-anchor="middle" class="label">${escapeXml(xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle" class="label">${escapeXml(yLabel)}</text>`);
  series.forEach((s, index) => {
    const colour = PALETTE[index % PALETTE.length] as string;
    let path = '';
    s.points.forEach(([px, py], i) => {
      if (i === 0) path += `M${x(px).toFixed(1)},${y(py).toFixed(1)}`;
      else if (step) path += `H${x(px).toFixed(1)}V${y(py).toFixed(1)}`;
      else path += `L${x(px).toFixed(1)},${y(py).toFixed(1)}`;
    });
    parts.push(`<path d="${path}" fill="none" stroke="${colour}" stroke-width="2" class="series" data-series="${escapeXml(s.name)}"/>`);
    parts.push(`<rect x="${MARGIN.left + 10 + index * 150}" y="${MARGIN.top + 4}" width="10" height="10" fill="${colour}"/>`);
    parts.push(`<text x="${MARGIN.left + 24 + index * 150}" y="${MARGIN.top + 13}" class="legend">${escapeXml(s.name)}</text>`);
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
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const parts = [
    `<svg id="${id}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeXml(title)}">`,
    `<text x="${WIDTH / 2}" y="18" text-anchor="middle" class="chart-title">${escapeXml(title)}</text>`,
  ];
  const values = groups.flatMap((g) => g.bars.map((b) => b.value));
  if (values.length === 0) {
    parts.push(`<text x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle" class="chart-empty">no data for this run</text></svg>`);
    return parts.join('');
  }
  const yMax = Math.max(1, ...values) * 1.1;
  const y = (v: number): number => MARGIN.top + plotH - (v / yMax) * plotH;
  for (const tick of niceTicks(0, yMax)) {
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(tick)}" y2="${y(tick)}" class="grid"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y(tick) + 4}" text-anchor="end" class="tick">${formatTick(tick)}</text>`);
  }
  const groupW = plotW / groups.length;
  const names = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.name)))];
  groups.forEach((group, gi) => {
    const barW = (groupW * 0.7) / Math.max(1, group.bars.length);
    group.bars.forEach((bar, bi) => {
      const bx = MARGIN.left + gi * groupW + groupW * 0.15 + bi * barW;
      const colour = PALETTE[names.indexOf(bar.name) % PALETTE.length] as string;
      parts.push(`<rect x="${bx.toFixed(1)}" y="${y(bar.value).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(MARGIN.top + plotH - y(bar.value)).toFixed(1)}" fill="${colour}" class="bar"><title>${escapeXml(`${group.label} ${bar.name}: ${bar.value}`)}</title></rect>`);
    });
    parts.push(`<text x="${MARGIN.left + gi * groupW + groupW / 2}" y="${MARGIN.top + plotH + 16}" text-anchor="middle" class="tick">${escapeXml(group.label)}</text>`);
  });
  names.forEach((name, index) => {
    parts.push(`<rect x="${MARGIN.left + 10 + index * 150}" y="${MARGIN.top + 4}" width="10" height="10" fill="${PALETTE[index % PALETTE.length] as string}"/>`);
    parts.push(`<text x="${MARGIN.left + 24 + index * 150}" y="${MARGIN.top + 13}" class="legend">${escapeXml(name)}</text>`);
  });
  parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}" class="axis"/>`);
  parts.push(`<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle" class="label">${escapeXml(yLabel)}</text></svg>`);
  return parts.join('');
}

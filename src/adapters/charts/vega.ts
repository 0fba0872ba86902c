import { existsSync } from 'node:fs';
import type { WeekPoint } from '../../domain/insights.js';
import { SEVERITIES } from '../../domain/severity.js';
import type { ChartRenderer, RenderedChart } from '../../ports/charts.js';

/**
 * Charts as Vega-Lite specs, compiled and rendered to SVG by Vega on the server, then rasterised to
 * PNG by resvg (a native SVG renderer): no headless browser. The three libraries are loaded at the
 * first chart, not at start-up, so a bot that never draws one keeps its idle memory.
 */

type Libs = { vega: typeof import('vega'); vl: typeof import('vega-lite'); Resvg: typeof import('@resvg/resvg-js').Resvg };
let libs: Promise<Libs> | null = null;
const load = (): Promise<Libs> =>
  (libs ??= Promise.all([import('vega'), import('vega-lite'), import('@resvg/resvg-js')]).then(([vega, vl, r]) => ({ vega, vl, Resvg: r.Resvg })));

/**
 * resvg needs fonts to draw text. Loading every system font costs ~100 ms per chart, so a known
 * sans font is used when present (Debian/Ubuntu/Alpine/macOS paths); else all system fonts.
 */
const FONT_CANDIDATES = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/TTF/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf',
  '/System/Library/Fonts/Supplemental/Arial.ttf',
];
let fontOptions: { loadSystemFonts: boolean; fontFiles?: string[]; defaultFontFamily?: string } | null = null;
function fonts() {
  if (fontOptions) return fontOptions;
  const file = FONT_CANDIDATES.find((f) => existsSync(f));
  fontOptions = file ? { loadSystemFonts: false, fontFiles: [file] } : { loadSystemFonts: true };
  return fontOptions;
}

const SEV_COLORS = ['#d62728', '#ff7f0e', '#e7ba52', '#9e9e9e'];
const WIDTH = 640;

/** The rows the trend chart draws: durations (minutes) per week and metric, incident counts per week and severity. */
export function trendData(weeks: WeekPoint[]) {
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const durations = weeks.flatMap((w) =>
    (
      [
        ['MTTA', w.mtta],
        ['MTTR', w.mttr],
      ] as const
    ).flatMap(([metric, s]) => (s ? [{ week: day(w.weekStart), metric, median: s.medianMs / 60_000, p90: s.p90Ms / 60_000 }] : [])),
  );
  const counts = weeks.flatMap((w) => SEVERITIES.map((severity) => ({ week: day(w.weekStart), severity, incidents: w.bySeverity[severity] })));
  return { mtta: durations.filter((d) => d.metric === 'MTTA'), mttr: durations.filter((d) => d.metric === 'MTTR'), counts };
}

/**
 * The Vega-Lite spec of the trend chart, with named data sets (`mtta`, `mttr`, `counts`) filled at
 * render time, so the compiled and parsed chart is reused from one render to the next.
 */
export function trendSpec(title: string): Record<string, unknown> {
  const x = { field: 'week', type: 'temporal', title: null, axis: { format: '%b %d', labelAngle: 0 } };
  const trend = (metric: 'MTTA' | 'MTTR', color: string) => ({
    title: { text: `${metric} per week (minutes): median, band to p90`, anchor: 'start', fontSize: 12 },
    width: WIDTH,
    height: 130,
    data: { name: metric.toLowerCase() },
    encoding: { x },
    layer: [
      { mark: { type: 'area', opacity: 0.25, color }, encoding: { y: { field: 'median', type: 'quantitative', title: null }, y2: { field: 'p90' } } },
      { mark: { type: 'line', point: true, color }, encoding: { y: { field: 'median', type: 'quantitative', title: null } } },
    ],
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, anchor: 'start', fontSize: 15 },
    background: 'white',
    padding: 16,
    config: { font: 'DejaVu Sans, Liberation Sans, Arial, sans-serif', view: { stroke: null }, axis: { grid: true, gridColor: '#eee' } },
    vconcat: [
      trend('MTTA', '#1f77b4'),
      trend('MTTR', '#9467bd'),
      {
        title: { text: 'Incidents per week by severity', anchor: 'start', fontSize: 12 },
        width: WIDTH,
        height: 130,
        data: { name: 'counts' },
        mark: { type: 'bar' },
        encoding: {
          x: { ...x, timeUnit: 'yearmonthdate', type: 'ordinal', axis: { format: '%b %d', labelAngle: 0 } },
          y: { field: 'incidents', type: 'quantitative', title: null, stack: 'zero' },
          color: { field: 'severity', type: 'nominal', scale: { domain: [...SEVERITIES], range: SEV_COLORS }, legend: { orient: 'top', title: null } },
        },
      },
    ],
  };
}

export function createVegaChartRenderer(opts: { scale?: number } = {}): ChartRenderer {
  const scale = opts.scale ?? 1.25;
  // Compiling Vega-Lite and parsing the Vega spec cost as much as drawing: keep the parsed chart
  // per title (a handful: periods × filters), and only feed it new rows.
  const parsed = new Map<string, unknown>();
  return {
    async renderTrend({ title, weeks }): Promise<RenderedChart> {
      const { vega, vl, Resvg } = await load();
      let runtime = parsed.get(title) as ReturnType<typeof vega.parse> | undefined;
      if (!runtime) {
        runtime = vega.parse(vl.compile(trendSpec(title) as never).spec);
        if (parsed.size >= 32) parsed.delete(parsed.keys().next().value!);
        parsed.set(title, runtime);
      }
      const view = new vega.View(runtime, { renderer: 'none' });
      const data = trendData(weeks);
      view.data('mtta', data.mtta).data('mttr', data.mttr).data('counts', data.counts);
      try {
        const svg = await view.toSVG();
        const img = new Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, font: fonts() }).render();
        return { png: img.asPng(), width: img.width, height: img.height };
      } finally {
        view.finalize();
      }
    },
  };
}

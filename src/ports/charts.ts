import type { WeekPoint } from '../domain/insights.js';

/** A chart as a PNG (for Slack) with its pixel size. */
export interface RenderedChart {
  png: Uint8Array;
  width: number;
  height: number;
}

/** Renders the insights charts in-process (no browser). */
export interface ChartRenderer {
  /** Weekly MTTA and MTTR (median line, median–p90 band) and incidents per week by severity. */
  renderTrend(input: { title: string; weeks: WeekPoint[] }): Promise<RenderedChart>;
}

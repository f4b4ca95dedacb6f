import { request } from 'undici';

const REQUEST_TIMEOUT_MS = 2000;

export interface RouteLabel {
  port: number;
  customer: string;
  device: string;
}

/**
 * The route labels a relay that serves `/debug/config` reports (the reference relay does: its routes with their
 * customer and device), so a replay through it shows "20500 acme-fleet/calamplmd" rather than a bare port. A relay
 * without the endpoint gives none: labels are a courtesy, never a reason to fail.
 */
export async function fetchRouteLabels(debugUrl: string): Promise<RouteLabel[]> {
  try {
    const response = await request(`${debugUrl.replace(/\/$/, '')}/debug/config`, { headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
    if (response.statusCode !== 200) {
      await response.body.dump();
      return [];
    }
    const body = (await response.body.json()) as { routes?: unknown };
    if (!Array.isArray(body.routes)) return [];
    return body.routes.flatMap((route: unknown) => {
      if (typeof route !== 'object' || route === null) return [];
      const { port, customer, device } = route as Record<string, unknown>;
      return typeof port === 'number' ? [{ port, customer: typeof customer === 'string' ? customer : '', device: typeof device === 'string' ? device : '' }] : [];
    });
  } catch {
    return [];
  }
}

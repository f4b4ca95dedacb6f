/** A value as JSON holds it: what a run's stored settings (a relay's routes.json fields, a fault plan) are read back as. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export const isJsonObject = (value: unknown): value is JsonObject => value !== null && typeof value === 'object' && !Array.isArray(value);

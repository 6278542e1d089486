import type { z } from 'zod';
import { AcmeError } from '../errors.js';

/** Parses a payload with its zod schema; a mismatch is malformed, naming the field. */
export function parsePayload<S extends z.ZodType>(schema: S, payload: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(payload);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.length ? issue.path.join('.') : '(payload)';
  throw new AcmeError('malformed', `${what}: ${field}: ${issue.message}`);
}

/** Building blocks of the admin API's OpenAPI document (src/admin/openapi.ts). */
export type Schema = Record<string, unknown>;

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
export const str: Schema = { type: 'string' };
export const date: Schema = { type: 'string', format: 'date-time' };
export const int: Schema = { type: 'integer', minimum: 0 };
export const strings: Schema = { type: 'array', items: str };
export const nextOffset: Schema = { type: ['integer', 'null'], description: 'offset of the next page; null on the last page' };
export const closed = (properties: Record<string, Schema>, required: string[]): Schema => (
  { type: 'object', additionalProperties: false, properties, required }
);

export const json = (schema: Schema) => ({ content: { 'application/json': { schema } } });
export const ok = (description: string, name: string) => ({ description, ...json(ref(name)) });
export const failure = (description: string) => ({ description, ...json(ref('Error')) });
export const authFailures = {
  401: failure('missing, invalid or expired access token'),
  403: failure('the token lacks the admin scope or is for another API'),
};
export const bodyFailures = {
  400: failure('invalid input'), 413: failure('body too large'), 415: failure('body is not application/json'),
};
export const missing = { 404: failure('no such resource') };
export const idParam = (name: string) => ({ name, in: 'path', required: true, schema: str });
export const pageParams = [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
  { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
];

export function op(summary: string, responses: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { summary, ...extra, responses: { ...responses, ...authFailures } };
}
export const body = (name: string, required = true) => ({ requestBody: { required, ...json(ref(name)) } });

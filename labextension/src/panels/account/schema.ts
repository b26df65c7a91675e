/**
 * JSON Schema helpers of the generated settings form, free of DOM: resolving
 * pydantic's `$ref`/`$defs` and `anyOf: [T, null]`, checking a value against
 * the constraints a form can check before the server does, and the PATCH body
 * (only what changed) between two documents.
 */
import type { IJSONSchema, JSONObject, JSONValue } from '../../api/account';

/** A property's schema with references resolved and "or null" unwrapped. */
export interface IResolvedSchema {
  schema: IJSONSchema;
  /** `anyOf`/`oneOf` with a `{"type": "null"}` branch, or `type: [T, "null"]`. */
  nullable: boolean;
}

/**
 * Resolve `$ref` (`#/$defs/X`, `#/definitions/X`, any JSON pointer into
 * `root`), single-branch `allOf`, and a nullable `anyOf`/`oneOf`. Keywords next
 * to a `$ref` (pydantic puts `description` and `default` there) win over the
 * target's.
 */
export function resolveSchema(
  schema: IJSONSchema,
  root: IJSONSchema,
  seen: ReadonlySet<string> = new Set()
): IResolvedSchema {
  let current = schema;
  let nullable = false;
  const visited = new Set(seen);
  for (let step = 0; step < 32; step++) {
    if (current.$ref !== undefined) {
      const ref = current.$ref;
      if (visited.has(ref)) {
        throw new Error(`settings schema: circular $ref ${ref}`);
      }
      visited.add(ref);
      const { $ref: _ignored, ...siblings } = current;
      void _ignored;
      current = { ...lookupRef(root, ref), ...siblings };
      continue;
    }
    if (current.allOf && current.allOf.length === 1) {
      const { allOf, ...siblings } = current;
      current = { ...allOf[0], ...siblings };
      continue;
    }
    const branches = current.anyOf ?? current.oneOf;
    if (branches) {
      const others = branches.filter(branch => !isNullSchema(branch));
      if (others.length === 1 && others.length < branches.length) {
        const { anyOf: _a, oneOf: _o, ...siblings } = current;
        void _a;
        void _o;
        nullable = true;
        current = { ...others[0], ...siblings };
        continue;
      }
    }
    if (Array.isArray(current.type)) {
      const types = current.type.filter(type => type !== 'null');
      if (types.length < current.type.length) {
        nullable = true;
      }
      current = { ...current, type: types.length === 1 ? types[0] : types };
    }
    return { schema: current, nullable };
  }
  throw new Error('settings schema: $ref chain too deep');
}

function isNullSchema(schema: IJSONSchema): boolean {
  return (
    schema.type === 'null' ||
    (schema.const === null && schema.type === undefined)
  );
}

/** `#/$defs/Name` (or any local JSON pointer) inside `root`. */
export function lookupRef(root: IJSONSchema, ref: string): IJSONSchema {
  if (!ref.startsWith('#')) {
    throw new Error(
      `settings schema: only local $ref is supported, not ${ref}`
    );
  }
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/').filter(Boolean)) {
    const part = decodeURIComponent(raw)
      .replace(/~1/g, '/')
      .replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null || !(part in node)) {
      throw new Error(`settings schema: $ref ${ref} points nowhere`);
    }
    node = (node as Record<string, unknown>)[part];
  }
  if (typeof node !== 'object' || node === null) {
    throw new Error(`settings schema: $ref ${ref} is not a schema`);
  }
  return node as IJSONSchema;
}

/** The one type of a schema (`string`, `integer`, ...), inferred from `enum` if absent. */
export function schemaType(schema: IJSONSchema): string | undefined {
  if (typeof schema.type === 'string') {
    return schema.type;
  }
  if (schema.properties) {
    return 'object';
  }
  if (schema.enum && schema.enum.length > 0) {
    const kinds = new Set(schema.enum.map(value => typeof value));
    if (kinds.size === 1) {
      const kind = [...kinds][0];
      return kind === 'number' ? 'number' : kind;
    }
  }
  return undefined;
}

/** `default_row_limit` → `Default row limit`: a label when the schema has no title. */
export function humanize(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * What is wrong with `value` for `schema`, in words, or null if nothing a
 * form can check is. Covers the keywords pydantic emits for constrained
 * types (bounds, multipleOf, lengths, pattern, enum, and `not`).
 */
export function validateValue(
  schema: IJSONSchema,
  value: JSONValue
): string | null {
  if (value === null) {
    return null;
  }
  const type = schemaType(schema);
  if (
    type === 'integer' &&
    !(typeof value === 'number' && Number.isInteger(value))
  ) {
    return 'must be a whole number';
  }
  if (
    type === 'number' &&
    !(typeof value === 'number' && Number.isFinite(value))
  ) {
    return 'must be a number';
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) {
      return `must be at least ${schema.minimum}`;
    }
    if (schema.maximum !== undefined && value > schema.maximum) {
      return `must be at most ${schema.maximum}`;
    }
    if (
      schema.exclusiveMinimum !== undefined &&
      value <= schema.exclusiveMinimum
    ) {
      return `must be more than ${schema.exclusiveMinimum}`;
    }
    if (
      schema.exclusiveMaximum !== undefined &&
      value >= schema.exclusiveMaximum
    ) {
      return `must be less than ${schema.exclusiveMaximum}`;
    }
    if (
      schema.multipleOf !== undefined &&
      !isMultiple(value, schema.multipleOf)
    ) {
      return `must be a multiple of ${schema.multipleOf}`;
    }
  }
  if (typeof value === 'string') {
    const length = Array.from(value).length;
    if (schema.minLength !== undefined && length < schema.minLength) {
      return schema.minLength === 1
        ? 'must not be empty'
        : `must be at least ${schema.minLength} characters`;
    }
    if (schema.maxLength !== undefined && length > schema.maxLength) {
      return `must be at most ${schema.maxLength} characters`;
    }
    if (
      schema.pattern !== undefined &&
      !new RegExp(schema.pattern, 'u').test(value)
    ) {
      return `must match the pattern ${schema.pattern}`;
    }
  }
  if (schema.enum && !schema.enum.some(option => jsonEqual(option, value))) {
    return `must be one of ${schema.enum.map(option => JSON.stringify(option)).join(', ')}`;
  }
  if (
    schema.not &&
    validateValue(schema.not, value) === null &&
    matchesType(schema.not, value)
  ) {
    return `must not be ${describeSchema(schema.not)}`;
  }
  return null;
}

/**
 * What is wrong with the items chosen for an array property (`minItems`,
 * `maxItems`), in words; an optional array may also be left empty.
 */
export function validateArray(
  schema: IJSONSchema,
  value: JSONValue[],
  nullable: boolean
): string | null {
  const min = schema.minItems;
  const max = schema.maxItems;
  if (
    min !== undefined &&
    value.length < min &&
    !(nullable && value.length === 0)
  ) {
    return min === 1 ? 'choose at least one' : `choose at least ${min}`;
  }
  if (max !== undefined && value.length > max) {
    return `choose at most ${max}`;
  }
  return null;
}

function isMultiple(value: number, step: number): boolean {
  const ratio = value / step;
  return Math.abs(ratio - Math.round(ratio)) < 1e-9;
}

function matchesType(schema: IJSONSchema, value: JSONValue): boolean {
  const type = schemaType(schema);
  switch (type) {
    case undefined:
      return true;
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'string':
    case 'boolean':
      return typeof value === type;
    case 'object':
      return (
        typeof value === 'object' && value !== null && !Array.isArray(value)
      );
    case 'array':
      return Array.isArray(value);
    default:
      return false;
  }
}

/** `between 1 and 29`, `one of "a", "b"`: what a `not` forbids, in words. */
function describeSchema(schema: IJSONSchema): string {
  if (schema.enum) {
    return `one of ${schema.enum.map(value => JSON.stringify(value)).join(', ')}`;
  }
  if (schema.minimum !== undefined && schema.maximum !== undefined) {
    return `between ${schema.minimum} and ${schema.maximum}`;
  }
  if (schema.minimum !== undefined) {
    return `${schema.minimum} or more`;
  }
  if (schema.maximum !== undefined) {
    return `${schema.maximum} or less`;
  }
  return 'this value';
}

/** Structural equality of JSON values (key order ignored). */
export function jsonEqual(
  a: JSONValue | undefined,
  b: JSONValue | undefined
): boolean {
  if (a === b) {
    return true;
  }
  if (a === null || b === null || a === undefined || b === undefined) {
    return false;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((item, index) => jsonEqual(item, b[index]))
    );
  }
  if (typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every(key => jsonEqual(a[key], b[key]));
  }
  return false;
}

function isObject(value: JSONValue | undefined): value is JSONObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The PATCH body that turns `before` into `after`: changed keys only, nested
 * objects field by field (the server merges them so), arrays and other
 * values whole. Empty when nothing changed.
 */
export function diffSettings(
  before: JSONObject,
  after: JSONObject
): JSONObject {
  const patch: JSONObject = {};
  for (const [key, value] of Object.entries(after)) {
    const old = before[key];
    if (isObject(value) && isObject(old)) {
      const nested = diffSettings(old, value);
      if (Object.keys(nested).length > 0) {
        patch[key] = nested;
      }
    } else if (!jsonEqual(old, value)) {
      patch[key] = value;
    }
  }
  return patch;
}

/**
 * `{"a.b": "problem", "": "unplaced"}` from a server message in the
 * `field.path: problem; other: problem` form the API uses for 422s. A leading
 * `body.` is dropped; parts without a known field go under the empty key.
 */
export function fieldProblems(
  message: string,
  knownPaths: ReadonlySet<string>
): Map<string, string> {
  const problems = new Map<string, string>();
  for (const part of message.split(/;\s+/)) {
    const match = /^([A-Za-z0-9_.[\]-]+):\s*(.+)$/s.exec(part.trim());
    const path = match ? match[1].replace(/^body\./, '') : '';
    if (match && knownPaths.has(path)) {
      const previous = problems.get(path);
      problems.set(path, previous ? `${previous}; ${match[2]}` : match[2]);
    } else {
      const previous = problems.get('');
      problems.set('', previous ? `${previous}; ${part.trim()}` : part.trim());
    }
  }
  return problems;
}

// Opaque cursors (changesSince, listPage): base64url of a small JSON object. The adapter
// says how its cursor maps to JSON and checks what it reads back; anything else (garbage,
// another adapter's cursor, a cursor of the other kind) is refused with the adapter's
// own VALIDATION error, never half-read.

export interface CursorCodec<T> {
  encode(cursor: T): string;
  /** Throws the adapter's error for a cursor it did not issue. */
  decode(raw: string): T;
}

export interface CursorShape<T> {
  /** The JSON object written into the cursor (include a version field to evolve it). */
  toJson(cursor: T): Record<string, unknown>;
  /** The cursor read back, or null when the object is not one of this kind. May throw. */
  fromJson(json: Record<string, unknown>): T | null;
  /** The error for a cursor that is not one of this kind (`cause`: what went wrong reading it). */
  invalid(raw: string, cause?: unknown): Error;
}

export function encodeCursorJson(json: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(json), 'utf8').toString('base64url');
}

export function cursorCodec<T>(shape: CursorShape<T>): CursorCodec<T> {
  return {
    encode: (cursor) => encodeCursorJson(shape.toJson(cursor)),
    decode(raw) {
      let value: T | null = null;
      let cause: unknown;
      try {
        const json = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown;
        if (json && typeof json === 'object' && !Array.isArray(json)) value = shape.fromJson(json as Record<string, unknown>);
      } catch (e) {
        cause = e;
      }
      if (value === null) throw shape.invalid(raw, cause);
      return value;
    },
  };
}

// Subscriptions end when the key that opened them is revoked (on any instance, see
// src/http/revocations.ts): the stream yields one last error (UNAUTHENTICATED) and
// completes. An SSE response then ends; a graphql-ws socket authenticated by the key is
// closed with 4403 by the WebSocket layer.
import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Revocations } from '../http/revocations.ts';
import type { GraphQLContext } from './builder.ts';

export const REVOKED_MESSAGE = 'The API key of this subscription was revoked.';

const REVOKED = Symbol('revoked');

function isAsyncIterable(value: unknown): value is AsyncIterable<ExecutionResult> {
  return value != null && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

/** `source`, ending (after one UNAUTHENTICATED error) when the key is revoked. */
export function endWhenRevoked(
  source: AsyncIterable<ExecutionResult>,
  apiKeyId: string,
  revocations: Revocations,
): AsyncIterableIterator<ExecutionResult> {
  const it = source[Symbol.asyncIterator]();
  let signal!: () => void;
  const revoked = new Promise<typeof REVOKED>((resolve) => {
    signal = () => resolve(REVOKED);
  });
  const unwatch = revocations.watch(apiKeyId, () => signal());
  let finished = false;
  const finish = async () => {
    if (finished) return;
    finished = true;
    unwatch();
    await it.return?.();
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (finished) return { done: true, value: undefined };
      const r = await Promise.race([it.next(), revoked]);
      if (r === REVOKED) {
        await finish();
        const error = new GraphQLError(REVOKED_MESSAGE, { extensions: { code: 'UNAUTHENTICATED' } });
        return { done: false, value: { errors: [error] } };
      }
      if (r.done) {
        finished = true;
        unwatch();
      }
      return r;
    },
    async return() {
      await finish();
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      await finish();
      throw error;
    },
  };
}

export function useEndOnRevocation(revocations: Revocations): Plugin {
  return {
    onSubscribe({ args }) {
      const apiKeyId = (args.contextValue as Partial<GraphQLContext>).apiKeyId;
      if (!apiKeyId) return;
      return {
        onSubscribeResult({ result, setResult }) {
          if (isAsyncIterable(result)) setResult(endWhenRevoked(result, apiKeyId, revocations));
        },
      };
    },
  };
}

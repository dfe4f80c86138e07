// Times every GraphQL operation (crm_sync_graphql_operation_duration_seconds), with
// operation names as bounded label values.
import { getOperationAST, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Metrics } from '../metrics.ts';

/** Operation names are the client's choice: keep label values short and tame. */
export function operationLabel(name: string | null | undefined): string {
  if (!name) return 'anonymous';
  return /^[_A-Za-z][_0-9A-Za-z]{0,63}$/.test(name) ? name : 'invalid';
}

export const OTHER_OPERATIONS = 'other';

/**
 * Labels operation names with a bounded set of values: the first `max` distinct names
 * this instance sees keep their own label, later ones are counted as `other` (so a
 * client inventing names cannot grow the number of series without bound).
 */
export function boundedOperationLabels(max: number): (name: string | null | undefined) => string {
  const known = new Set<string>();
  return (name) => {
    const label = operationLabel(name);
    if (label === 'anonymous' || label === 'invalid' || known.has(label)) return label;
    if (known.size >= max) return OTHER_OPERATIONS;
    known.add(label);
    return label;
  };
}

/**
 * Envelop/yoga plugin: times every GraphQL operation (execution; for subscriptions, until
 * the stream is set up) by type, operation name (bounded: see boundedOperationLabels) and
 * status (ok / error).
 */
export function useGraphQLMetrics(metrics: Metrics, opts: { maxOperations?: number } = {}): Plugin {
  const label = boundedOperationLabels(opts.maxOperations ?? 100);
  const observe = (args: { document: DocumentNode; operationName?: string | null }, started: number, errors: boolean) => {
    const op = getOperationAST(args.document, args.operationName);
    metrics.graphqlDuration.observe(
      { type: op?.operation ?? 'unknown', operation: label(args.operationName ?? op?.name?.value), status: errors ? 'error' : 'ok' },
      (performance.now() - started) / 1000,
    );
  };
  const hasErrors = (result: unknown) => Boolean((result as { errors?: unknown[] } | null)?.errors?.length);
  return {
    onExecute({ args }) {
      const started = performance.now();
      return {
        onExecuteDone({ result }) {
          observe(args, started, Symbol.asyncIterator in Object(result) ? false : hasErrors(result));
        },
      };
    },
    onSubscribe({ args }) {
      const started = performance.now();
      return {
        onSubscribeResult({ result }) {
          observe(args, started, Symbol.asyncIterator in Object(result) ? false : hasErrors(result));
        },
        onSubscribeError() {
          observe(args, started, true);
        },
      };
    },
  };
}

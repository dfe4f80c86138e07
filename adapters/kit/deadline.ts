// The deadline of one CRM call: a call without an answer by then fails (the adapter's
// NETWORK error, retryable) so one hung CRM never holds a worker longer. The call itself
// is not cancelled: its late answer is ignored.

/** `work`'s outcome, or `timeout()`'s error once `ms` have passed without one. */
export async function withDeadline<T>(work: Promise<T>, ms: number, timeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(timeout()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

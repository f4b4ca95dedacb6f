// How long a request through a proxy or a pooler waits for its answer, and the words a run keeps for one that got
// none in that time (`http_sends.error`, `pg_sends.error`, quoted by the analysis's findings). Plain JavaScript: the
// HTTP sending thread loads it without the TypeScript loader.

/**
 * The wait unless told otherwise (`--answer-timeout`). A proxy that never answers would otherwise hold the replay, an
 * interrupted one too, for as long as it stays silent; a request it leaves this long is recorded as unanswered, naming
 * the wait, and is the proxy's finding.
 */
export const ANSWER_TIMEOUT_MS = 30_000;

/** Why a request got no answer when its wait ran out. @param {number} answerTimeoutMs */
export function noAnswerWithin(answerTimeoutMs) {
  return `no answer within ${answerTimeoutMs / 1000} s (--answer-timeout)`;
}

/**
 * `GET /sessions` under `--workers N`: the primary answers the admin listener, the sessions live in
 * the workers. As prom-client's AggregatorRegistry does for /metrics, the primary asks every worker
 * over the cluster's IPC and joins their lists (each row names its worker's process in `gateway`);
 * a worker that does not answer in time is left out, not waited for.
 */
import cluster from 'node:cluster';
import type { SessionView } from './sessions.js';

const ASK = 'pinhole:sessions?';
const ANSWER = 'pinhole:sessions';
const ANSWER_TIMEOUT_MS = 2_000;

interface Ask {
  readonly kind: typeof ASK;
  readonly id: number;
}
interface Answer {
  readonly kind: typeof ANSWER;
  readonly id: number;
  readonly sessions: SessionView[];
}

/** In a worker: answer the primary's questions with this worker's sessions. */
export function answerSessionQuestions(list: () => SessionView[]): void {
  process.on('message', (message: Partial<Ask>) => {
    if (message.kind === ASK && typeof message.id === 'number') process.send?.({ kind: ANSWER, id: message.id, sessions: list() } satisfies Answer);
  });
}

let asked = 0;

/** In the primary: every worker's sessions, joined. */
export function clusterSessions(): Promise<SessionView[]> {
  const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined && w.isConnected());
  const id = ++asked;
  return Promise.all(
    workers.map(
      (worker) =>
        new Promise<SessionView[]>((resolve) => {
          const timer = setTimeout(() => done([]), ANSWER_TIMEOUT_MS);
          const onMessage = (message: Partial<Answer>): void => {
            if (message.kind === ANSWER && message.id === id && Array.isArray(message.sessions)) done(message.sessions);
          };
          const done = (sessions: SessionView[]): void => {
            clearTimeout(timer);
            worker?.off('message', onMessage);
            resolve(sessions);
          };
          worker?.on('message', onMessage);
          worker?.send({ kind: ASK, id } satisfies Ask);
        }),
    ),
  ).then((lists) => lists.flat());
}

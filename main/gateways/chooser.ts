/**
 * Which gateway endpoint new tunnels go to, and when to measure the others. Pure decisions over
 * samples (an injected clock and random source, no sockets, no timers), so every rule is tested
 * with tables and properties.
 *
 * What users of Clash, sing-box and Zscaler complained about, and the rule here that prevents it:
 * - flapping on a lossy link: an endpoint's estimate is the median of its last samples (a spike
 *   moves nothing), a switch needs the other endpoint to be better by BOTH a ratio and a number of
 *   milliseconds, confirmed by several of its own samples in a row;
 * - staying on the backup after the primary recovered: a recovered endpoint comes back the same
 *   way (confirmed samples), without waiting for a long interval;
 * - not re-testing right after a failure: a failure re-tests the failed endpoint within a second
 *   (then backs off) and brings the others' probes forward;
 * - probing every server at once: one probe in flight at a time, spread over the interval with
 *   jitter;
 * - everyone on the first gateway: among endpoints within tolerance of the best, each user takes
 *   the one a stable hash of their name picks (rendezvous hashing), so users spread and an
 *   endpoint added or removed moves only its own share;
 * - staying minutes on a gateway that got slow (issue 28): the endpoint in use is watched through
 *   its own PINGs; when the median of its recent round trips is clearly above its usual one (the
 *   same tolerance as a switch), every endpoint is measured every second or so for a short window,
 *   so a clearly faster one is confirmed within seconds instead of probe intervals;
 * - flapping on a jittery link however many samples arrive: at most `maxSwitchesPerMinute`
 *   switches of choice (faster, spread, recovered) in any minute; a failure still moves at once.
 */

export interface ChooserOptions {
  /** Endpoints as "host:port", in the profile's order. */
  endpoints: readonly string[];
  /** The user name: input of the spreading hash. */
  userKey: string;
  /** Where tunnels go at first (the racing dial's winner); the first endpoint when omitted. */
  current?: string;
  /** A switch needs the other endpoint lower by this fraction of the current's estimate... */
  toleranceRatio?: number;
  /** ...and by at least this many milliseconds. */
  toleranceMs?: number;
  /** Samples of the new endpoint in a row that must agree before a switch. */
  confirmSamples?: number;
  /** Samples kept per endpoint; the estimate is their (lower) median. */
  window?: number;
  /** Background probe interval per endpoint (each probe time is jittered). */
  probeIntervalMs?: number;
  /** Jitter as a fraction of the interval, both ways. */
  jitterRatio?: number;
  /** First re-test of a failed endpoint; doubles per failure up to the probe interval. */
  retestMs?: number;
  /** While the endpoint in use looks slower than usual, every endpoint is measured this often... */
  fastProbeMs?: number;
  /** ...for this long after the slowdown was seen. */
  fastWindowMs?: number;
  /** Switches of choice allowed in any 60 s (a failure or a removal always moves). */
  maxSwitchesPerMinute?: number;
  now: () => number;
  /** In [0, 1), like Math.random. */
  random: () => number;
}

export type SampleKind = 'handshake' | 'ping' | 'probe';
export type SwitchReason = 'faster' | 'spread' | 'recovered' | 'failed' | 'removed';
export type EndpointHealth = 'unknown' | 'up' | 'down';

export interface SwitchDecision {
  from: string;
  to: string;
  reason: SwitchReason;
  /** For the log and the UI: why, in one sentence. */
  sentence: string;
}

export interface EndpointView {
  endpoint: string;
  health: EndpointHealth;
  /** The estimate (median of recent samples), null without samples. */
  rttMs: number | null;
  samples: number;
  current: boolean;
  nextProbeAt: number;
  /** Code of the last failure while it is down. */
  failure?: string;
}

interface EndpointState {
  endpoint: string;
  health: EndpointHealth;
  samples: number[];
  nextProbeAt: number;
  failures: number;
  failure: string | undefined;
  /** Came back from down and has not been chosen since. */
  recovered: boolean;
}

const DEFAULTS = {
  toleranceRatio: 0.2,
  toleranceMs: 10,
  confirmSamples: 3,
  window: 5,
  probeIntervalMs: 60_000,
  jitterRatio: 0.2,
  retestMs: 1_000,
  fastProbeMs: 1_000,
  fastWindowMs: 20_000,
  maxSwitchesPerMinute: 2,
};

/** The recent round trips of the endpoint in use whose median is compared with its usual one. */
const RECENT_SAMPLES = 3;
const MINUTE_MS = 60_000;

/** FNV-1a over UTF-16 units with a final avalanche (murmur3 fmix32): a stable 32-bit score. */
export const stableHash = (text: string): number => {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
};

/** Rendezvous hashing: the endpoint with the highest score for this user. Stable and minimal-move. */
export const spreadChoice = (userKey: string, endpoints: readonly string[]): string | undefined => {
  let best: string | undefined;
  let bestScore = -1;
  for (const endpoint of endpoints) {
    const score = stableHash(`${userKey}\n${endpoint}`);
    if (score > bestScore || (score === bestScore && best !== undefined && endpoint < best)) {
      best = endpoint;
      bestScore = score;
    }
  }
  return best;
};

/** The lower median: with spikes in at most half the samples it is still a clean sample. */
const lowerMedian = (samples: readonly number[]): number | null => {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
};

const ms = (value: number | null): string => (value === null ? 'no answer yet' : `${Math.round(value * 10) / 10} ms`);

export class GatewayChooser {
  private readonly options: Required<Omit<ChooserOptions, 'current'>>;
  private readonly states = new Map<string, EndpointState>();
  private currentEndpoint: string;
  private pending: { to: string; count: number } | undefined;
  private inFlight: string | undefined;
  /** The usual round trip of the endpoint in use: its lowest estimate since it became current. */
  private baseline: number | undefined;
  /** Until then, every endpoint is measured every `fastProbeMs` (the endpoint in use got slower). */
  private fastUntil = 0;
  /** When the recent switches of choice happened (for the rate limit). */
  private switchTimes: number[] = [];

  constructor(options: ChooserOptions) {
    this.options = {
      endpoints: options.endpoints,
      userKey: options.userKey,
      toleranceRatio: options.toleranceRatio ?? DEFAULTS.toleranceRatio,
      toleranceMs: options.toleranceMs ?? DEFAULTS.toleranceMs,
      confirmSamples: options.confirmSamples ?? DEFAULTS.confirmSamples,
      window: options.window ?? DEFAULTS.window,
      probeIntervalMs: options.probeIntervalMs ?? DEFAULTS.probeIntervalMs,
      jitterRatio: options.jitterRatio ?? DEFAULTS.jitterRatio,
      retestMs: options.retestMs ?? DEFAULTS.retestMs,
      fastProbeMs: options.fastProbeMs ?? DEFAULTS.fastProbeMs,
      fastWindowMs: options.fastWindowMs ?? DEFAULTS.fastWindowMs,
      maxSwitchesPerMinute: options.maxSwitchesPerMinute ?? DEFAULTS.maxSwitchesPerMinute,
      now: options.now,
      random: options.random,
    };
    if (options.endpoints.length === 0) throw new RangeError('A gateway chooser needs at least one endpoint.');
    const now = options.now();
    const count = options.endpoints.length;
    // The first probes are spread over the first interval, one slot per endpoint, each jittered
    // within the middle half of its slot, so two are never closer than half a slot (the spacing).
    options.endpoints.forEach((endpoint, i) => {
      const slot = i + 0.25 + 0.5 * options.random();
      this.states.set(endpoint, this.fresh(endpoint, now + (this.options.probeIntervalMs * slot) / count));
    });
    this.currentEndpoint = options.current !== undefined && this.states.has(options.current) ? options.current : (options.endpoints[0] as string);
  }

  /** Where new tunnels go. */
  get current(): string {
    return this.currentEndpoint;
  }

  /** The caller now uses `endpoint` (a dial picked it): decisions continue from there. */
  use(endpoint: string): void {
    if (!this.states.has(endpoint)) return;
    this.currentEndpoint = endpoint;
    this.pending = undefined;
    this.baseline = undefined;
    const state = this.states.get(endpoint) as EndpointState;
    state.recovered = false;
  }

  /** True while every endpoint is measured quickly because the one in use got slower. */
  get comparing(): boolean {
    return this.options.now() < this.fastUntil;
  }

  /** A round trip measured to `endpoint` (handshake time, PING, probe). */
  record(endpoint: string, rttMs: number, kind: SampleKind = 'probe'): SwitchDecision | undefined {
    const state = this.states.get(endpoint);
    if (!state || !Number.isFinite(rttMs) || rttMs < 0) return undefined;
    if (state.health === 'down') state.recovered = true;
    state.health = 'up';
    state.failures = 0;
    state.failure = undefined;
    state.samples.push(rttMs);
    if (state.samples.length > this.options.window) state.samples.shift();
    if (this.inFlight === endpoint) {
      this.inFlight = undefined;
      if (this.comparing) this.schedule(state, this.jittered(this.options.fastProbeMs), this.options.fastProbeMs / (2 * this.states.size));
      else this.schedule(state, this.jittered(this.options.probeIntervalMs));
    } else if (kind !== 'probe' && !this.comparing) {
      // A fresh measurement from the traffic itself: the background probe can wait a full interval.
      state.nextProbeAt = Math.max(state.nextProbeAt, this.options.now() + this.options.probeIntervalMs / 2);
    }
    if (endpoint === this.currentEndpoint) this.watchCurrent(state);
    return this.evaluate(endpoint);
  }

  /**
   * `endpoint` failed (dial error, PING timeout, probe failure). It is excluded until it answers
   * again, re-tested soon with backoff; if it was in use, the best other endpoint is chosen at once.
   */
  fail(endpoint: string, code: string): SwitchDecision | undefined {
    const state = this.states.get(endpoint);
    if (!state) return undefined;
    state.health = 'down';
    state.samples = [];
    state.failures += 1;
    state.failure = code;
    state.recovered = false;
    if (this.inFlight === endpoint) this.inFlight = undefined;
    this.schedule(state, Math.min(this.options.retestMs * 2 ** (state.failures - 1), this.options.probeIntervalMs));
    if (this.pending?.to === endpoint) this.pending = undefined;
    if (endpoint !== this.currentEndpoint) return undefined;
    // Re-test the others now instead of waiting for their interval: all due at once, and still
    // one in flight at a time (dueProbe), so they go one after the other, in list order.
    const now = this.options.now();
    for (const other of this.states.values()) {
      if (other.endpoint !== endpoint && other.health !== 'down') other.nextProbeAt = Math.min(other.nextProbeAt, now);
    }
    const to = this.emergencyChoice(endpoint);
    if (to === undefined) return undefined;
    return this.switchTo(to, 'failed', `${endpoint} stopped answering (${code}); new tunnels go to ${to} (${ms(this.estimate(to))}).`);
  }

  /** The endpoints changed (a profile refresh). New ones are probed soon; a removed current one is left at once when another answers. */
  setEndpoints(endpoints: readonly string[]): SwitchDecision | undefined {
    if (endpoints.length === 0) return undefined;
    const now = this.options.now();
    let slot = 1;
    for (const endpoint of endpoints) {
      if (this.states.has(endpoint)) continue;
      this.states.set(endpoint, this.fresh(endpoint, now + slot * this.spacing() * 0.1 * (1 + this.options.random())));
      slot += 1;
    }
    for (const endpoint of [...this.states.keys()]) {
      if (!endpoints.includes(endpoint) && endpoint !== this.currentEndpoint) this.states.delete(endpoint);
    }
    if (this.inFlight !== undefined && !this.states.has(this.inFlight)) this.inFlight = undefined;
    if (endpoints.includes(this.currentEndpoint)) return undefined;
    const to = this.emergencyChoice(this.currentEndpoint);
    if (to === undefined) return undefined;
    const from = this.currentEndpoint;
    const decision = this.switchTo(to, 'removed', `${from} is no longer in the profile; new tunnels go to ${to} (${ms(this.estimate(to))}).`);
    this.states.delete(from);
    return decision;
  }

  /**
   * The one endpoint to probe now, or undefined (nothing due, or a probe still in flight). The
   * caller answers with record() or fail() for it.
   */
  dueProbe(): string | undefined {
    if (this.inFlight !== undefined) return undefined;
    const now = this.options.now();
    let due: EndpointState | undefined;
    for (const state of this.states.values()) {
      if (state.nextProbeAt <= now && (due === undefined || state.nextProbeAt < due.nextProbeAt)) due = state;
    }
    if (due === undefined) return undefined;
    this.inFlight = due.endpoint;
    return due.endpoint;
  }

  /** When the next probe is due (for the caller's one timer); undefined while a probe is in flight. */
  nextProbeAt(): number | undefined {
    if (this.inFlight !== undefined) return undefined;
    let next: number | undefined;
    for (const state of this.states.values()) if (next === undefined || state.nextProbeAt < next) next = state.nextProbeAt;
    return next;
  }

  /**
   * The order for a racing dial: the endpoint in use (or chosen) first, then the measured ones by
   * estimate, then the never-tried ones in profile order, then the ones that are down (they may
   * have recovered; the race only reaches them after the others had their stagger).
   */
  dialOrder(): string[] {
    const rank = (s: EndpointState): number => (s.health === 'up' ? 0 : s.health === 'unknown' ? 1 : 2);
    const others = [...this.states.values()]
      .filter((s) => s.endpoint !== this.currentEndpoint)
      .sort((a, b) => rank(a) - rank(b) || (lowerMedian(a.samples) ?? 0) - (lowerMedian(b.samples) ?? 0));
    const current = this.states.get(this.currentEndpoint);
    return [...(current && current.health !== 'down' ? [current] : []), ...others, ...(current && current.health === 'down' ? [current] : [])].map((s) => s.endpoint);
  }

  snapshot(): EndpointView[] {
    return [...this.states.values()].map((s) => ({
      endpoint: s.endpoint,
      health: s.health,
      rttMs: lowerMedian(s.samples),
      samples: s.samples.length,
      current: s.endpoint === this.currentEndpoint,
      nextProbeAt: s.nextProbeAt,
      ...(s.failure === undefined ? {} : { failure: s.failure }),
    }));
  }

  /** b is better than a by the tolerance: lower by the ratio AND by the milliseconds. */
  clearlyBetter(candidate: number, current: number): boolean {
    return current - candidate >= this.options.toleranceMs && candidate <= current * (1 - this.options.toleranceRatio);
  }

  /**
   * The endpoint in use, after one of its samples: one answer clearly slower than usual is measured
   * again soon; the median of the recent ones clearly slower starts a comparison of every endpoint.
   */
  private watchCurrent(state: EndpointState): void {
    const latest = state.samples.at(-1) as number;
    if (this.baseline === undefined) {
      if (state.samples.length >= Math.ceil(this.options.window / 2)) this.baseline = lowerMedian(state.samples) as number;
      return;
    }
    if (!this.clearlyBetter(this.baseline, latest)) {
      this.baseline = Math.min(this.baseline, lowerMedian(state.samples) as number);
      return;
    }
    const now = this.options.now();
    const recent = lowerMedian(state.samples.slice(-RECENT_SAMPLES)) as number;
    if (state.samples.length < RECENT_SAMPLES || !this.clearlyBetter(this.baseline, recent)) {
      state.nextProbeAt = Math.min(state.nextProbeAt, now + this.options.fastProbeMs);
      return;
    }
    // Slower than usual for several answers: compare everyone now. The new level is the usual one
    // from here, so only a further rise starts another comparison.
    this.baseline = recent;
    if (this.comparing) return;
    this.fastUntil = now + this.options.fastWindowMs;
    for (const other of this.states.values()) {
      if (other.health !== 'down') other.nextProbeAt = Math.min(other.nextProbeAt, other === state ? now + this.options.fastProbeMs : now);
    }
  }

  /** Switches of choice in the last minute. */
  private recentSwitches(): number {
    const since = this.options.now() - MINUTE_MS;
    this.switchTimes = this.switchTimes.filter((at) => at > since);
    return this.switchTimes.length;
  }

  private fresh(endpoint: string, nextProbeAt: number): EndpointState {
    return { endpoint, health: 'unknown', samples: [], nextProbeAt, failures: 0, failure: undefined, recovered: false };
  }

  private estimate(endpoint: string): number | null {
    return lowerMedian(this.states.get(endpoint)?.samples ?? []);
  }

  /** Probes of different endpoints keep at least this far apart. */
  private spacing(): number {
    return this.options.probeIntervalMs / (2 * Math.max(1, this.states.size));
  }

  private jittered(base: number): number {
    return base * (1 + this.options.jitterRatio * (2 * this.options.random() - 1));
  }

  /** Next probe `delay` from now, moved later while it would land within the spacing of another's. */
  private schedule(state: EndpointState, delay: number, spacing = this.spacing()): void {
    let at = this.options.now() + delay;
    for (let i = 0; i < this.states.size; i++) {
      const clash = [...this.states.values()].find((o) => o !== state && Math.abs(o.nextProbeAt - at) < spacing);
      if (clash === undefined) break;
      at = clash.nextProbeAt + spacing;
    }
    state.nextProbeAt = at;
  }

  /** Endpoints whose estimate is good enough to take part in a decision. */
  private measured(): EndpointState[] {
    const enough = Math.ceil(this.options.window / 2);
    return [...this.states.values()].filter((s) => s.health === 'up' && s.samples.length >= enough);
  }

  /** The user's pick among the endpoints not clearly worse than the best one. */
  private target(candidates: readonly EndpointState[]): string | undefined {
    const estimates = candidates.map((s) => lowerMedian(s.samples) as number);
    if (estimates.length === 0) return undefined;
    const best = Math.min(...estimates);
    const band = candidates.filter((_s, i) => !this.clearlyBetter(best, estimates[i] as number)).map((s) => s.endpoint);
    return spreadChoice(this.options.userKey, band);
  }

  private evaluate(sampled: string): SwitchDecision | undefined {
    const current = this.states.get(this.currentEndpoint);
    const candidates = this.measured();
    // No decision on a thin estimate of the current endpoint: it may be one unlucky spike.
    if (!current || !candidates.includes(current)) {
      this.pending = undefined;
      return undefined;
    }
    const to = this.target(candidates);
    if (to === undefined || to === this.currentEndpoint) {
      this.pending = undefined;
      return undefined;
    }
    if (this.pending?.to !== to) this.pending = { to, count: 0 };
    if (sampled === to) this.pending.count += 1;
    if (this.pending.count < this.options.confirmSamples) return undefined;
    // A choice, not an emergency: it waits while the minute's switches are spent.
    if (this.recentSwitches() >= this.options.maxSwitchesPerMinute) return undefined;
    const from = this.currentEndpoint;
    const target = this.states.get(to) as EndpointState;
    const theirs = this.estimate(to) as number;
    const ours = this.estimate(from) as number;
    const n = this.options.confirmSamples;
    if (this.clearlyBetter(theirs, ours)) {
      return this.switchTo(to, 'faster', `${to} answers in ${ms(theirs)} against ${ms(ours)} for ${from} (${n} samples in a row); new tunnels go to ${to}.`);
    }
    if (target.recovered) {
      return this.switchTo(to, 'recovered', `${to} answers again (${ms(theirs)}, ${n} samples in a row, ${ms(ours)} for ${from}); new tunnels go back to ${to}.`);
    }
    return this.switchTo(to, 'spread', `${to} is as fast as ${from} (${ms(theirs)} against ${ms(ours)}) and is this user's share of the gateways; new tunnels go to ${to}.`);
  }

  /** After a failure: the best-measured endpoint, else one that answered at all, else one never tried. */
  private emergencyChoice(leaving: string): string | undefined {
    const others = [...this.states.values()].filter((s) => s.endpoint !== leaving);
    const fromUp = this.target(others.filter((s) => s.health === 'up' && s.samples.length > 0));
    if (fromUp !== undefined) return fromUp;
    const unknown = others.find((s) => s.health === 'unknown');
    if (unknown) return unknown.endpoint;
    // Every other endpoint is down too: the one due for its re-test first is the best bet.
    return others.filter((s) => s.health === 'down').sort((a, b) => a.nextProbeAt - b.nextProbeAt)[0]?.endpoint;
  }

  private switchTo(to: string, reason: SwitchReason, sentence: string): SwitchDecision {
    const from = this.currentEndpoint;
    this.currentEndpoint = to;
    this.pending = undefined;
    this.baseline = undefined;
    this.fastUntil = 0;
    if (reason !== 'failed' && reason !== 'removed') this.switchTimes.push(this.options.now());
    const state = this.states.get(to);
    if (state) state.recovered = false;
    return { from, to, reason, sentence };
  }
}

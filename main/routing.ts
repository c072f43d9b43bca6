/**
 * One routing decision for a profile: the calling app's rule first (block wins, direct goes
 * direct), then the domain rules (a link's `domains` list, shared/rules.ts) for everything else.
 * The decision is a value that says where a request goes and, for a block, which rule said so: the
 * local proxy evaluates it once per request and never asks again.
 * The PAC served at /proxy.pac is compiled from the same domain rules, so a browser using the PAC
 * and an app using the proxy directly get the same answer for every host.
 */
import { managedRules, type ManagedConfig } from '../shared/managed.js';
import { generatePac } from '../shared/pac.js';
import type { Profile } from '../shared/profile.js';
import { compileRules, rulesFromLinkDomains, type CompiledRules, type Rule, type RuleAction } from '../shared/rules.js';
import { AppRules } from './apps/app-rules.js';

/** The refusal code of a block says whose rule it was. */
export type BlockCode = 'PINHOLE_APP_BLOCKED' | 'PINHOLE_DOMAIN_BLOCKED';

/** The rule a block came from, as written: an app's executable path or a domain pattern; `default` when no rule matched. */
export const DEFAULT_RULE = 'default';

/** Where one request goes. */
export type RouteDecision =
  | { readonly route: 'tunnel' }
  | { readonly route: 'direct' }
  | {
      readonly route: 'block';
      readonly code: BlockCode;
      readonly rule: string;
      /** The calling app's display name, when it is known (the refusal names it). */
      readonly app?: string;
    };

export const TUNNEL: RouteDecision = { route: 'tunnel' };
export const DIRECT: RouteDecision = { route: 'direct' };

/** The application that opened a connection to the local proxy, when it could be told (main/apps). */
export interface CallingApp {
  path: string;
  name: string;
}

export interface RouteQuery {
  host: string;
  port: number;
  app?: CallingApp;
}

export interface Routing {
  decide(query: RouteQuery): RouteDecision;
  /** The PAC for a local proxy at `listen` ("127.0.0.1:PORT"). */
  pac(listen: string): string;
  readonly domainRules: CompiledRules;
  readonly appRules: AppRules;
}

export interface RoutingOptions {
  /** A link's or profile's domain list; empty means everything through the tunnel. */
  domains?: readonly string[];
  /** Explicit domain rules instead of a domain list. */
  rules?: { rules: readonly Rule[]; defaultAction: RuleAction };
  appRules?: Partial<Pick<Profile, 'appRules' | 'defaultAppAction'>>;
}

export const createRouting = ({ domains, rules, appRules }: RoutingOptions = {}): Routing => {
  const set = rules ?? rulesFromLinkDomains(domains);
  const domainRules = compileRules(set.rules, set.defaultAction);
  const apps = new AppRules(appRules);
  // An app's block or direct overrides the domain rules; its 'tunnel' defers to them.
  const decide = ({ host, app }: RouteQuery): RouteDecision => {
    const appAction = apps.decide(app);
    const named = app ? { app: app.name } : {};
    if (appAction === 'block') return { route: 'block', code: 'PINHOLE_APP_BLOCKED', rule: app && apps.has(app.path) ? app.path : DEFAULT_RULE, ...named };
    if (appAction === 'direct') return DIRECT;
    const verdict = domainRules.match(host);
    if (verdict.action === 'block') return { route: 'block', code: 'PINHOLE_DOMAIN_BLOCKED', rule: verdict.rule?.match ?? DEFAULT_RULE, ...named };
    return verdict.action === 'direct' ? DIRECT : TUNNEL;
  };
  return {
    decide,
    pac: (listen) => generatePac(set.rules, set.defaultAction, listen),
    domainRules,
    appRules: apps,
  };
};

/** The routing of a stored profile: its domain list and its app rules. */
export const routingForProfile = (profile: Pick<Profile, 'domains' | 'appRules' | 'defaultAppAction'>): Routing =>
  createRouting({ domains: profile.domains, appRules: { appRules: profile.appRules, defaultAppAction: profile.defaultAppAction } });

/** A direct route the administrator forbade (managed configuration `forbidDirect`) is refused, named as such. */
export const FORBID_DIRECT_RULE = 'managed: forbidDirect';

/**
 * The routing for a profile (its domains and app rules) under a managed configuration
 * (shared/managed.ts): the managed routing lists replace the profile's domain rules, and with
 * `forbidDirect` nothing goes direct: a direct domain rule (the PAC too) and an app's direct rule
 * are refused instead, named as the administrator's. Without a managed configuration: the profile's.
 */
export const routingUnderManaged = (config: ManagedConfig | undefined, options: Pick<RoutingOptions, 'domains' | 'appRules'> = {}): Routing => {
  const forbid = config?.forbidDirect === true;
  const managed = config === undefined ? undefined : managedRules(config);
  let rules = managed ?? rulesFromLinkDomains(options.domains);
  if (forbid) rules = { rules: rules.rules.map((r) => (r.action === 'direct' ? { ...r, action: 'block' as const } : r)), defaultAction: rules.defaultAction === 'direct' ? 'block' : rules.defaultAction };
  const base = createRouting({ rules, ...(options.appRules === undefined ? {} : { appRules: options.appRules }) });
  if (!forbid) return base;
  return {
    ...base,
    decide: (query) => {
      const decision = base.decide(query);
      return decision.route === 'direct' ? { route: 'block', code: 'PINHOLE_DOMAIN_BLOCKED', rule: FORBID_DIRECT_RULE, ...(query.app ? { app: query.app.name } : {}) } : decision;
    },
  };
};

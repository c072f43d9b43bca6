/**
 * One routing decision for a profile: the calling app's rule first (block wins, direct goes
 * direct), then the domain rules (a link's `domains` list, shared/rules.ts) for everything else.
 * The PAC served at /proxy.pac is compiled from the same domain rules, so a browser using the PAC
 * and an app using the proxy directly get the same answer for every host.
 */
import { generatePac } from '../shared/pac.js';
import type { AppAction, Profile } from '../shared/profile.js';
import { compileRules, rulesFromLinkDomains, type CompiledRules, type Rule, type RuleAction } from '../shared/rules.js';
import { AppRules } from './apps/app-rules.js';
import type { Decision } from './proxy/local-proxy.js';

export interface RouteQuery {
  host: string;
  /** The calling app's executable, when it could be told. */
  path?: string;
}

export interface Routing {
  decide(request: RouteQuery): Decision;
  /** Which rule a 'block' came from (the refusal's code says so: PINHOLE_APP_BLOCKED or PINHOLE_DOMAIN_BLOCKED). */
  blockedBy(request: RouteQuery): 'app' | 'domain';
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

/** Pure composition: an app's block or direct overrides the domain rules; 'tunnel' defers to them. */
export const composeDecision = (app: AppAction, domain: RuleAction): Decision => (app === 'block' ? 'block' : app === 'direct' ? 'direct' : domain);

export const createRouting = ({ domains, rules, appRules }: RoutingOptions = {}): Routing => {
  const set = rules ?? rulesFromLinkDomains(domains);
  const domainRules = compileRules(set.rules, set.defaultAction);
  const apps = new AppRules(appRules);
  const appAction = (request: RouteQuery): AppAction => apps.decide(request.path === undefined ? undefined : { path: request.path });
  return {
    decide: (request) => composeDecision(appAction(request), domainRules.decide(request.host)),
    blockedBy: (request) => (appAction(request) === 'block' ? 'app' : 'domain'),
    pac: (listen) => generatePac(set.rules, set.defaultAction, listen),
    domainRules,
    appRules: apps,
  };
};

/** The routing of a stored profile: its domain list and its app rules. */
export const routingForProfile = (profile: Pick<Profile, 'domains' | 'appRules' | 'defaultAppAction'>): Routing =>
  createRouting({ domains: profile.domains, appRules: { appRules: profile.appRules, defaultAppAction: profile.defaultAppAction } });

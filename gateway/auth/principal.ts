/**
 * Who a tunnel belongs to, once authenticated. Two kinds of users share a gateway: the users file's
 * (htpasswd, named by the file) and the identity provider's (a tunnel credential, named by e-mail or
 * subject). Their names may be equal (`alice@example.com` in both), so everything that counts or
 * ends tunnels by user (limits, sessions, revocation) keys on `key`, which carries the kind; `name`
 * is what logs and answers show. Pure.
 */

export type PrincipalKind = 'htpasswd' | 'oidc';

export interface Principal {
  readonly kind: PrincipalKind;
  /** The name logs, access lines and the sessions view show: the htpasswd name, or the e-mail else the subject. */
  readonly name: string;
  /** The namespaced name limits and sessions count under: `htpasswd:NAME` or `oidc:ISSUER#SUBJECT`. */
  readonly key: string;
  /** The identity provider's `sub` and `iss`, and the verified e-mail (oidc only). */
  readonly subject?: string;
  readonly issuer?: string;
  readonly email?: string;
}

export const htpasswdPrincipal = (name: string): Principal => ({ kind: 'htpasswd', name, key: `htpasswd:${name}` });

export const credentialPrincipal = (identity: { readonly user: string; readonly subject: string; readonly issuer: string; readonly email?: string | undefined }): Principal => ({
  kind: 'oidc',
  name: identity.user,
  key: `oidc:${identity.issuer}#${identity.subject}`,
  subject: identity.subject,
  issuer: identity.issuer,
  ...(identity.email === undefined ? {} : { email: identity.email }),
});

/** A door's or a test's answer (a bare name is a users-file user) as a Principal. */
export const principalOf = (who: string | Principal): Principal => (typeof who === 'string' ? htpasswdPrincipal(who) : who);

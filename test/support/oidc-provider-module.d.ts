/** The part of oidc-provider's API the test provider uses (the package ships no types). */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<{ prompt: { name: string }; grantId?: string }>;
    interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
    DeviceCode: { findByUserCode(userCode: string): Promise<(Record<string, unknown> & { save(): Promise<string> }) | undefined> };
    Grant: (new (init: { accountId: string; clientId: string }) => { addOIDCScope(scope: string): void; addOIDCClaims(claims: string[]): void; save(): Promise<string> }) & {
      find(id: string): Promise<{ destroy(): Promise<void> } | undefined>;
    };
  }
}

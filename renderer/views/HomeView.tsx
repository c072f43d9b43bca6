import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Client } from '../../shared/contract.js';
import type { GatewaysStatus } from '../../shared/gateway-status.js';
import { ConnectionCheck } from '../components/ConnectionCheck.js';
import { Sparkline } from '../components/Sparkline.js';
import { stateWords } from '../../shared/state-words.js';
import { formatBytes, type EngineState } from '../engine-state.js';

const useNow = (active: boolean): number => {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
};

/** Several endpoints: which gateway new tunnels go to, its round trip, the others' state, and why the last switch happened. */
const GatewaysCard = ({ gateways }: { gateways: GatewaysStatus }) => {
  const { t } = useTranslation();
  const rtt = (ms: number | null): string => (ms === null ? t('home.gateways.noRtt') : t('home.gateways.rttMs', { ms: Math.round(ms) }));
  const ordered = [...gateways.endpoints].sort((a, b) => Number(b.endpoint === gateways.inUse) - Number(a.endpoint === gateways.inUse));
  return (
    <div className="card gateways-card" data-testid="gateways">
      <span className="stat-label">{t('home.gateways.title')}</span>
      <ul className="gateway-list">
        {ordered.map((e) => (
          <li key={e.endpoint} className={`gateway gateway-${e.health}${e.endpoint === gateways.inUse ? ' gateway-in-use' : ''}`} data-testid={e.endpoint === gateways.inUse ? 'gateway-in-use' : undefined}>
            <code>{e.endpoint}</code>
            <span className="muted">
              {e.endpoint === gateways.inUse ? `${t('home.gateways.inUse')} · ${rtt(e.rttMs)}` : e.health === 'up' ? `${t('home.gateways.health.up')} · ${rtt(e.rttMs)}` : t(`home.gateways.health.${e.health}`)}
            </span>
          </li>
        ))}
      </ul>
      {gateways.lastSwitch && <p className="stat-sub">{t('home.gateways.lastSwitch', { sentence: gateways.lastSwitch.sentence })}</p>}
      {gateways.profileRefreshedAt !== undefined && <p className="stat-sub">{t('home.gateways.profileRefreshed', { time: new Date(gateways.profileRefreshedAt).toLocaleTimeString() })}</p>}
    </div>
  );
};

/** Errors a new sign-in can cure (issue 18): the Home page offers "Sign in again" beside them. */
const SIGN_IN_AGAIN: ReadonlySet<string> = new Set(['PINHOLE_CREDENTIAL_REVOKED', 'PINHOLE_CREDENTIAL_EXPIRED', 'PINHOLE_SIGNIN_REQUIRED', 'PINHOLE_SIGNIN_CODE_EXPIRED', 'PINHOLE_SIGNIN_DENIED', 'PINHOLE_SIGNIN_FAILED']);

/** The last network change (roaming, sleep and wake) and a captive portal's sign-in page, as the engine reports them. */
const NetworkBanner = ({ status }: { status: EngineState['status'] }) => {
  const { t } = useTranslation();
  const network = status?.network;
  const portal = status?.portal;
  if (portal !== undefined) {
    return (
      <div className="banner banner-warn" role="status" data-testid="network-change">
        {t('home.network.portal')}{' '}
        <a href={portal} target="_blank" rel="noreferrer">
          {t('home.network.openPortal')}
        </a>{' '}
        <code>{portal}</code>
      </div>
    );
  }
  if (network === undefined || status?.state === 'disconnected') return null;
  const words =
    network.state === 'reconnected' ? t('home.network.reconnected', { seconds: ((network.tookMs ?? 0) / 1000).toFixed(1) }) : t(`home.network.${network.state}`);
  return (
    <div className={`banner ${network.state === 'reconnected' ? 'banner-ok' : 'banner-warn'}`} role="status" data-testid="network-change">
      {words}
    </div>
  );
};

export const HomeView = ({ client, state, goTo }: { client: Client; state: EngineState; goTo: (page: 'profiles') => void }) => {
  const { t } = useTranslation();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [copied, setCopied] = useState<string | undefined>();
  const status = state.status;
  const phase = status?.state ?? 'disconnected';
  const on = phase === 'connected' || phase === 'connecting' || phase === 'reconnecting';
  const now = useNow(phase === 'reconnecting');
  const profiles = state.profiles?.profiles ?? [];
  const [chosen, setChosen] = useState<string | undefined>();
  const selected = chosen ?? state.profiles?.defaultId ?? undefined;

  const toggle = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      if (on) await client.disconnect();
      else await client.connect(selected ? { profileId: selected } : {});
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const copy = async (what: 'address' | 'export', text: string): Promise<void> => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(what);
      setTimeout(() => setCopied(undefined), 1500);
    } catch {
      setCopied(undefined);
    }
  };

  // A link used for this session only connects without a profile: then the switch and stats still show (and its sign-in's code).
  if (state.profiles && profiles.length === 0 && phase === 'disconnected' && !status?.signIn) {
    return (
      <section className="view home">
        <div className="empty-hero">
          <div className="hero-mark" aria-hidden="true" />
          <h1>{t('home.welcomeTitle')}</h1>
          <p className="muted">{t('home.welcomeText')}</p>
          <button type="button" className="button primary" onClick={() => goTo('profiles')}>
            {t('home.addProfile')}
          </button>
        </div>
      </section>
    );
  }

  // The heading names the state; the reason, when there is one, is in the banner below it.
  const { key: wordKey, values: wordValues } = stateWords({ ...status, state: phase, error: undefined });
  const words = t(`home.state.${wordKey}`, wordValues);
  const retryIn = status?.retryAt ? Math.max(0, Math.ceil((status.retryAt - now) / 1000)) : undefined;
  const lastRate = state.throughput.at(-1)?.rate ?? 0;
  const stats = state.stats;

  return (
    <section className="view home">
      <div className={`hero hero-${phase}`}>
        <button
          type="button"
          role="switch"
          aria-checked={on}
          aria-label={t('home.switchLabel')}
          className={`big-switch switch-${phase}`}
          disabled={busy || (profiles.length === 0 && !on) || (on && state.profiles?.managed?.lockConnectSwitch === true)}
          onClick={() => void toggle()}
        >
          <span className="knob" aria-hidden="true" />
        </button>
        <div className="hero-text">
          <h1 className="state-words" aria-live="polite" data-testid="state-words">
            {words}
          </h1>
          {profiles.length > 1 && !on ? (
            <label className="inline-field">
              <span className="muted">{t('home.profile')}</span>
              <select value={selected ?? ''} onChange={(e) => setChosen(e.target.value)}>
                {profiles.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.name}
                  </option>
                ))}
              </select>
            </label>
          ) : (
            <p className="muted">
              {t('home.profile')}: <strong>{status?.profile ?? profiles.find((p) => p.id === selected)?.name ?? '—'}</strong>
            </p>
          )}
        </div>
      </div>

      {status?.signIn && (
        <div className="banner banner-warn sign-in" role="status" data-testid="sign-in">
          <strong>{t('home.signIn.title')}</strong>{' '}
          {t('home.signIn.open')}{' '}
          <a href={status.signIn.verificationUriComplete ?? status.signIn.verificationUri} target="_blank" rel="noreferrer" data-testid="sign-in-link">
            {status.signIn.verificationUri}
          </a>{' '}
          {t('home.signIn.enter')} <code className="user-code" data-testid="sign-in-code">{status.signIn.userCode}</code>
        </div>
      )}
      {(phase === 'error' || phase === 'reconnecting') && status?.error && (
        <div className={`banner ${phase === 'error' ? 'banner-error' : 'banner-warn'}`} role="alert">
          <strong>{t('home.reason')}</strong> {status.error.message}
          {retryIn !== undefined && <span className="retry"> {t('home.retryIn', { count: retryIn })}</span>}
          {phase === 'error' && SIGN_IN_AGAIN.has(status.error.code) && (
            <button type="button" className="button" disabled={busy} onClick={() => void toggle()} data-testid="sign-in-again">
              {t('home.signIn.again')}
            </button>
          )}
        </div>
      )}
      <NetworkBanner status={status} />
      {error && (
        <div className="banner banner-error" role="alert">
          {error}
        </div>
      )}
      {(status?.warnings ?? []).map((warning) => (
        <div key={warning} className="banner banner-warn" role="status">
          {warning}
        </div>
      ))}

      <div className="cards">
        <div className="card stat">
          <span className="stat-label">{t('home.openTunnels')}</span>
          <span className="stat-value" data-testid="open-tunnels">
            {stats?.openTunnels ?? 0}
          </span>
          <span className="stat-sub">{t('home.totalTunnels', { count: stats?.totalTunnels ?? 0 })}</span>
        </div>
        <div className="card stat wide">
          <span className="stat-label">{t('home.throughput')}</span>
          <span className="stat-value">{formatBytes(lastRate)}/s</span>
          <Sparkline samples={state.throughput} label={t('home.sparklineLabel')} />
          <span className="stat-sub" data-testid="bytes-total">
            ↑ {formatBytes(stats?.bytesUp ?? 0)} · ↓ {formatBytes(stats?.bytesDown ?? 0)}
          </span>
        </div>
        <div className="card stat">
          <span className="stat-label">{t('home.rtt')}</span>
          <span className="stat-value">{stats?.rttMs == null ? '—' : `${Math.round(stats.rttMs)} ms`}</span>
          <span className="stat-sub">{t('home.gatewayConnections', { count: stats?.gatewayConnections ?? 0 })}</span>
        </div>
      </div>

      {/* LAN box mode (issue 14): one row per terminal using this box. */}
      {stats?.terminals !== undefined && stats.terminals.length > 0 && (
        <div className="card" data-testid="terminals">
          <span className="stat-label">{t('home.terminals')}</span>
          <table>
            <thead>
              <tr>
                <th>{t('home.terminalSource')}</th>
                <th>{t('home.terminalRequests')}</th>
                <th>{t('home.terminalTraffic')}</th>
                <th>{t('home.terminalRefused')}</th>
              </tr>
            </thead>
            <tbody>
              {stats.terminals.map((terminal) => (
                <tr key={terminal.source}>
                  <td>
                    <code>{terminal.source}</code>
                  </td>
                  <td>{terminal.requests}</td>
                  <td>
                    ↑ {formatBytes(terminal.bytesUp)} · ↓ {formatBytes(terminal.bytesDown)}
                  </td>
                  <td>{terminal.refused}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {phase === 'connected' && status?.gateways && status.gateways.endpoints.length > 1 && <GatewaysCard gateways={status.gateways} />}

      <ConnectionCheck client={client} profileId={on ? undefined : selected} />

      {state.info && (
        <div className="card proxy-card">
          <div className="proxy-row">
            <span className="muted">{t('home.proxyAddress')}</span>
            <code data-testid="proxy-address">{state.info.proxyAddress}</code>
            <button type="button" className="button small" onClick={() => void copy('address', state.info?.proxyAddress ?? '')}>
              {copied === 'address' ? t('common.copied') : t('common.copy')}
            </button>
          </div>
          <div className="proxy-row">
            <span className="muted">{t('home.shellExport')}</span>
            <code className="ellipsis">{state.info.shellExport}</code>
            <button type="button" className="button small" onClick={() => void copy('export', state.info?.shellExport ?? '')}>
              {copied === 'export' ? t('common.copied') : t('common.copy')}
            </button>
          </div>
        </div>
      )}
    </section>
  );
};

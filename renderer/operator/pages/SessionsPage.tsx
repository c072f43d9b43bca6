import { useCallback, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ControlReply } from '../../../shared/operator-api.js';
import { OperatorApiError, type OperatorApi } from '../api.js';
import { formatBytes } from '../format.js';
import { usePolling } from '../usePolling.js';

const when = (value: string | number | undefined): string => (value === undefined ? '–' : new Date(value).toLocaleString());

/** What the last action did, in the operator's words: sent to the fleet, Redis not answering, or no Redis at all. */
interface Outcome {
  readonly what: 'disconnect' | 'revoke';
  readonly who: string;
  readonly reply?: ControlReply;
  readonly problem?: string;
}

const OutcomeBanner = ({ outcome }: { outcome: Outcome }) => {
  const { t } = useTranslation();
  if (outcome.problem !== undefined) {
    return (
      <p className="banner banner-error" role="alert" data-testid="control-outcome">
        {outcome.problem}
      </p>
    );
  }
  const fleet = outcome.reply?.fleet ?? 'no-state';
  const key = `operator.sessions.${outcome.what}.${fleet === 'sent' ? 'sent' : fleet === 'unreachable' ? 'unreachable' : 'noState'}`;
  return (
    <p className={`banner ${fleet === 'sent' ? 'banner-ok' : 'banner-warn'}`} role="status" data-testid="control-outcome" data-fleet={fleet}>
      {t(key, { who: outcome.who, reason: outcome.reply?.reason ?? '' })}
    </p>
  );
};

export const SessionsPage = ({ api }: { api: OperatorApi }) => {
  const { t } = useTranslation();
  const load = useCallback(() => api.sessions(), [api]);
  const { data, error, reload } = usePolling(load, 3_000);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome>();

  const act = async (what: Outcome['what'], who: string, question: string, work: () => Promise<ControlReply>): Promise<void> => {
    if (!window.confirm(question)) return;
    setBusy(true);
    setOutcome(undefined);
    try {
      setOutcome({ what, who, reply: await work() });
    } catch (err) {
      setOutcome({ what, who, problem: err instanceof OperatorApiError ? err.message : String(err) });
    } finally {
      setBusy(false);
      await reload();
    }
  };

  return (
    <div className="view wide">
      <div className="view-head">
        <h1>{t('operator.sessions.title')}</h1>
      </div>
      {error && (
        <p className="banner banner-error" role="alert">
          {t('operator.loadFailed', { reason: error.message })}
        </p>
      )}
      {outcome && <OutcomeBanner outcome={outcome} />}
      {data?.missing.map((m) => (
        <p key={m.gateway} className="banner banner-warn" data-testid="sessions-missing">
          {t(m.why === 'down' ? 'operator.sessions.down' : 'operator.sessions.unsupported', { gateway: m.gateway })}
        </p>
      ))}
      {data && data.sessions.length === 0 && <p className="empty">{t('operator.sessions.none')}</p>}
      {data && data.sessions.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th>{t('operator.sessions.user')}</th>
              <th>{t('operator.sessions.gateway')}</th>
              <th>{t('operator.sessions.client')}</th>
              <th className="num">{t('operator.users.tunnels')}</th>
              <th className="num">{t('operator.users.bytes')}</th>
              <th>{t('operator.sessions.since')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data.sessions.map((s) => (
              <tr key={`${s.gateway}/${s.id}`} data-session={s.id} data-session-user={s.user}>
                <td>{s.user}</td>
                <td>{s.gateway}</td>
                <td className="ellipsis">{[s.client, s.transport].filter(Boolean).join(' · ') || '–'}</td>
                <td className="num" data-testid="session-tunnels">
                  {s.tunnels ?? '–'}
                </td>
                <td className="num" data-testid="session-bytes">
                  {formatBytes((s.bytesUp ?? 0) + (s.bytesDown ?? 0))}
                </td>
                <td>{when(s.since)}</td>
                <td>
                  <div className="row-actions">
                    <button
                      type="button"
                      className="button small"
                      disabled={busy}
                      onClick={() => void act('disconnect', s.user, t('operator.sessions.confirmDisconnect', { user: s.user, gateway: s.gateway }), () => api.disconnect(s.gateway, s.id))}
                    >
                      {t('operator.sessions.disconnectButton')}
                    </button>
                    <button
                      type="button"
                      className="button small danger"
                      disabled={busy}
                      onClick={() => void act('revoke', s.user, t('operator.sessions.confirmRevoke', { user: s.user }), () => api.revokeUser(s.user))}
                    >
                      {t('operator.sessions.revokeButton')}
                    </button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
};

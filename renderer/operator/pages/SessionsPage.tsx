import { useCallback } from 'react';
import { useTranslation } from 'react-i18next';
import type { OperatorApi } from '../api.js';
import { formatBytes } from '../format.js';
import { usePolling } from '../usePolling.js';

const when = (value: string | number | undefined): string => (value === undefined ? '–' : new Date(value).toLocaleString());

export const SessionsPage = ({ api }: { api: OperatorApi }) => {
  const { t } = useTranslation();
  const load = useCallback(() => api.sessions(), [api]);
  const { data, error } = usePolling(load, 3_000);
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
            </tr>
          </thead>
          <tbody>
            {data.sessions.map((s) => (
              <tr key={`${s.gateway}/${s.id}`} data-session={s.id}>
                <td>{s.user}</td>
                <td>{s.gateway}</td>
                <td className="ellipsis">{[s.client, s.transport].filter(Boolean).join(' · ') || '–'}</td>
                <td className="num">{s.tunnels ?? '–'}</td>
                <td className="num">{formatBytes((s.bytesUp ?? 0) + (s.bytesDown ?? 0))}</td>
                <td>{when(s.since)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {/* Disconnect and revoke arrive with the fleet control module (sessions registry); no button until they do something real. */}
    </div>
  );
};

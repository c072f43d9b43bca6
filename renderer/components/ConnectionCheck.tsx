import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Client } from '../../shared/contract.js';
import type { DoctorReport } from '../../shared/doctor.js';

const MARK = { pass: '✓', fail: '✗', skip: '–' } as const;

/** "Check my connection": runs the path check (the same one as `pinhole doctor`) for `profileId` (default: the connected or default one) and shows each hop's verdict. */
export const ConnectionCheck = ({ client, profileId }: { client: Client; profileId: string | undefined }) => {
  const { t } = useTranslation();
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState<DoctorReport | undefined>();
  const [error, setError] = useState<string | undefined>();

  const check = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      setReport(await client.checkConnection(profileId === undefined ? {} : { profileId }));
    } catch (err) {
      setReport(undefined);
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const failed = report?.hops.find((h) => h.status === 'fail');
  return (
    <div className="card connection-check" data-testid="connection-check">
      <div className="check-head">
        <span className="stat-label">{t('doctor.title')}</span>
        <button type="button" className="button small" disabled={busy} onClick={() => void check()}>
          {busy ? t('doctor.checking') : t('doctor.check')}
        </button>
      </div>
      {error && (
        <div className="banner banner-error" role="alert">
          {error}
        </div>
      )}
      {report && (
        <>
          <ol className="check-hops" aria-live="polite">
            {report.hops.map((hop) => (
              <li key={hop.hop} className={`check-hop check-${hop.status}`} data-testid={`hop-${hop.hop}`} data-status={hop.status}>
                <span className="check-mark" aria-label={t(`doctor.status.${hop.status}`)}>
                  {MARK[hop.status]}
                </span>
                <div>
                  <strong>{t(`doctor.hops.${hop.hop}`)}</strong>
                  <p className="check-verdict">{hop.verdict}</p>
                  {hop.status === 'fail' && hop.action && (
                    <p className="check-action">
                      <strong>{t('doctor.whatToDo')}</strong> {hop.action}
                    </p>
                  )}
                </div>
              </li>
            ))}
          </ol>
          <p className={failed ? 'banner banner-error' : 'banner banner-ok'} data-testid="check-summary">
            {failed ? t('doctor.stoppedAt', { hop: t(`doctor.hops.${failed.hop}`) }) : t('doctor.passed')}
          </p>
          <p className="muted small" data-testid="check-firewall">
            <strong>{t('doctor.firewall')}:</strong> {report.firewallSentence}
          </p>
        </>
      )}
    </div>
  );
};

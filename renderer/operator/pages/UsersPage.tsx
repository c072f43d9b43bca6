import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import QRCode from 'qrcode';
import type { LinkReply, UserRow } from '../../../shared/operator-api.js';
import { OperatorApiError, type OperatorApi } from '../api.js';
import { formatBytes } from '../format.js';
import { usePolling } from '../usePolling.js';

/** The link just issued: shown once, with a copy button and a QR code; gone when dismissed. */
const IssuedLink = ({ issued, onDone }: { issued: LinkReply; onDone: () => void }) => {
  const { t } = useTranslation();
  const [qr, setQr] = useState<string>();
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    void QRCode.toDataURL(issued.link, { errorCorrectionLevel: 'M', margin: 1, width: 220 }).then(setQr);
  }, [issued.link]);
  const copy = async (): Promise<void> => {
    await navigator.clipboard.writeText(issued.link);
    setCopied(true);
  };
  return (
    <section className="card issued" aria-label={t('operator.users.linkFor', { user: issued.user })}>
      <div className="row-between">
        <strong>{t('operator.users.linkFor', { user: issued.user })}</strong>
        <button type="button" className="button small" onClick={onDone}>
          {t('operator.users.done')}
        </button>
      </div>
      <p className="banner banner-warn">{t('operator.users.shownOnce')}</p>
      <div className="issued-body">
        {qr && <img className="qr" src={qr} alt={t('operator.users.qr')} width={220} height={220} />}
        <div className="issued-text">
          <code className="link-text" data-testid="issued-link">
            {issued.link}
          </code>
          <button type="button" className="button primary" onClick={() => void copy()}>
            {copied ? t('common.copied') : t('common.copy')}
          </button>
        </div>
      </div>
    </section>
  );
};

export const UsersPage = ({ api }: { api: OperatorApi }) => {
  const { t } = useTranslation();
  const load = useCallback(() => api.users(), [api]);
  const { data, error, reload } = usePolling(load, 3_000);
  const [name, setName] = useState('');
  const [problem, setProblem] = useState<string>();
  const [issued, setIssued] = useState<LinkReply>();
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string>();

  const act = async (work: () => Promise<unknown>): Promise<void> => {
    setBusy(true);
    setProblem(undefined);
    try {
      await work();
    } catch (err) {
      setProblem(err instanceof OperatorApiError ? err.message : String(err));
    } finally {
      setBusy(false);
      await reload();
    }
  };

  /** The users file, and the fleet control beside it: say so when the fleet was not told at once. */
  const setDisabled = async (user: string, disabled: boolean): Promise<void> => {
    const { control } = await api.setDisabled(user, disabled);
    if (control?.fleet === 'unreachable') setNotice(t('operator.users.controlUnreachable', { user, reason: control.reason ?? '' }));
    else if (control?.fleet === 'no-state') setNotice(t('operator.users.controlNoState', { user }));
    else setNotice(undefined);
  };

  const add = (event: FormEvent): void => {
    event.preventDefault();
    void act(async () => {
      await api.addUser(name.trim());
      setName('');
    });
  };

  const row = (user: UserRow) => (
    <tr key={user.name} data-user={user.name}>
      <td className="ellipsis">{user.name}</td>
      <td>
        <span className={`pill ${user.disabled ? 'pill-off' : 'pill-on'}`}>{t(user.disabled ? 'operator.users.disabled' : 'operator.users.enabled')}</span>
      </td>
      <td className="num">{user.tunnels ?? '–'}</td>
      <td className="num">{user.bytes === undefined ? '–' : formatBytes(user.bytes)}</td>
      <td>{user.lastSeen === undefined ? '–' : new Date(user.lastSeen).toLocaleString()}</td>
      <td>
        <div className="row-actions">
        <button type="button" className="button small" disabled={busy} onClick={() => void act(async () => setIssued(await api.issueLink(user.name, 'h2')))}>
          {t('operator.users.issueLink')}
        </button>
        <button type="button" className="button small" disabled={busy} onClick={() => void act(() => setDisabled(user.name, !user.disabled))}>
          {t(user.disabled ? 'operator.users.enable' : 'operator.users.disable')}
        </button>
        <button
          type="button"
          className="button small danger"
          disabled={busy}
          onClick={() => {
            if (window.confirm(t('operator.users.confirmDelete', { user: user.name }))) void act(() => api.deleteUser(user.name));
          }}
        >
          {t('common.delete')}
        </button>
        </div>
      </td>
    </tr>
  );

  return (
    <div className="view wide">
      <div className="view-head">
        <h1>{t('operator.users.title')}</h1>
        <form className="inline-field" onSubmit={add}>
          <input aria-label={t('operator.users.newName')} placeholder={t('operator.users.newName')} value={name} onChange={(event) => setName(event.target.value)} />
          <button type="submit" className="button primary" disabled={busy || name.trim() === ''}>
            {t('operator.users.add')}
          </button>
        </form>
      </div>
      {problem && (
        <p className="banner banner-error" role="alert">
          {problem}
        </p>
      )}
      {error && (
        <p className="banner banner-error" role="alert">
          {t('operator.loadFailed', { reason: error.message })}
        </p>
      )}
      {notice && (
        <p className="banner banner-warn" role="status" data-testid="control-notice">
          {notice}
        </p>
      )}
      {issued && <IssuedLink issued={issued} onDone={() => setIssued(undefined)} />}
      {data && !data.sessionsKnown && <p className="muted small">{t('operator.users.noSessions')}</p>}
      {data && data.users.length === 0 && <p className="empty">{t('operator.users.none')}</p>}
      {data && data.users.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th>{t('operator.users.name')}</th>
              <th>{t('operator.users.status')}</th>
              <th className="num">{t('operator.users.tunnels')}</th>
              <th className="num">{t('operator.users.bytes')}</th>
              <th>{t('operator.users.lastSeen')}</th>
              <th />
            </tr>
          </thead>
          <tbody>{data.users.map(row)}</tbody>
        </table>
      )}
    </div>
  );
};

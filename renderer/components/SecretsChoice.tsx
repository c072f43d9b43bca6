/**
 * Shown in Profiles and Settings while no keychain answers (a headless box): says so, and offers
 * the two ways on, starting a keyring and trying again, or a passphrase-encrypted secrets file.
 */
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { Client, Info } from '../../shared/contract.js';

export const SecretsChoice = ({ client, info, refreshInfo }: { client: Client; info: Info | undefined; refreshInfo: () => Promise<void> }) => {
  const { t } = useTranslation();
  const [file, setFile] = useState<string | undefined>();
  const [passphrase, setPassphrase] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  if (!info || info.keychain.available) return null;
  const path = file ?? info.keychain.suggestedFile ?? '';

  const attempt = async (what: () => Promise<unknown>): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      await what();
      setPassphrase('');
      await refreshInfo();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const useFile = (event: FormEvent): void => {
    event.preventDefault();
    void attempt(() => client.useSecretsFile({ file: path, passphrase }));
  };

  return (
    <div className="card secrets-choice" role="region" aria-label={t('secrets.noneTitle')} data-testid="secrets-choice">
      <h2>{t('secrets.noneTitle')}</h2>
      <p>{t('secrets.noneText')}</p>
      <div className="secrets-way">
        <h3>{t('secrets.keyringTitle')}</h3>
        <p className="muted small">{t('secrets.keyringHelp')}</p>
        <div className="actions">
          <button type="button" className="button" disabled={busy} onClick={() => void attempt(() => client.retryKeychain())}>
            {t('secrets.retry')}
          </button>
        </div>
      </div>
      <form className="secrets-way form" onSubmit={useFile} aria-label={t('secrets.fileTitle')}>
        <h3>{t('secrets.fileTitle')}</h3>
        <label className="field">
          <span>{t('secrets.filePath')}</span>
          <input className="mono" value={path} required spellCheck={false} onChange={(e) => setFile(e.target.value)} />
        </label>
        <label className="field">
          <span>{t('secrets.passphrase')}</span>
          <input type="password" value={passphrase} required autoComplete="new-password" onChange={(e) => setPassphrase(e.target.value)} />
        </label>
        <p className="muted small">{t('secrets.fileHelp')}</p>
        <div className="actions">
          <button type="submit" className="button primary" disabled={busy}>
            {t('secrets.useFile')}
          </button>
        </div>
      </form>
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
    </div>
  );
};

import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Client } from '../../shared/contract.js';
import type { AppAction } from '../../shared/profile.js';
import { Segmented } from '../components/Segmented.js';
import type { EngineState } from '../engine-state.js';

const ACTIONS: AppAction[] = ['tunnel', 'direct', 'block'];

export const AppsView = ({ client, state }: { client: Client; state: EngineState }) => {
  const { t } = useTranslation();
  const [error, setError] = useState<string | undefined>();
  const options = ACTIONS.map((value) => ({ value, label: t(`apps.action.${value}`) }));
  const apps = state.apps?.apps ?? [];
  const run = async (call: () => Promise<unknown>): Promise<void> => {
    setError(undefined);
    try {
      await call();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <section className="view">
      <header className="view-head">
        <h1>{t('apps.title')}</h1>
      </header>
      <p className="muted">{t('apps.intro')}</p>
      {error && (
        <div className="banner banner-error" role="alert">
          {error}
        </div>
      )}
      <div className="card row-between">
        <span>{t('apps.default')}</span>
        <Segmented label={t('apps.default')} value={state.apps?.defaultAction ?? 'tunnel'} options={options} onChange={(action) => void run(() => client.setDefaultAppAction({ action }))} />
      </div>
      {apps.length === 0 ? (
        <p className="empty">{t('apps.empty', { address: state.info?.proxyAddress ?? '127.0.0.1' })}</p>
      ) : (
        <ul className="list" aria-label={t('apps.title')}>
          {apps.map((app) => (
            <li key={app.path} className="list-item" data-testid="app-item">
              <div className="list-main">
                <strong>{app.name}</strong>
                <span className="muted small ellipsis" title={app.path}>
                  {app.path}
                </span>
                <span className="muted small">
                  {t('apps.connections', { count: app.connections })}
                  {app.lastSeen > 0 && ` · ${t('apps.lastSeen', { time: new Date(app.lastSeen).toLocaleTimeString() })}`}
                </span>
              </div>
              <Segmented label={t('apps.ruleFor', { name: app.name })} value={app.action} options={options} onChange={(action) => void run(() => client.setAppRule({ path: app.path, action }))} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
};

import { useEffect, useMemo, useState, type KeyboardEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { UiSettings } from '../shared/contract.js';
import { useEngineState } from './engine-state.js';
import { StateDot } from './components/StateDot.js';
import { languageFor } from './i18n/index.js';
import type { Connection } from './transport.js';
import { AppsView } from './views/AppsView.js';
import { HomeView } from './views/HomeView.js';
import { LogsView } from './views/LogsView.js';
import { ProfilesView } from './views/ProfilesView.js';
import { SettingsView } from './views/SettingsView.js';

const PAGES = ['home', 'profiles', 'apps', 'logs', 'settings'] as const;
type Page = (typeof PAGES)[number];

const applyTheme = (theme: UiSettings['theme'] | undefined): void => {
  const dark = theme === 'dark' || (theme !== 'light' && window.matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
};

export const App = ({ connection }: { connection: Connection }) => {
  const { t, i18n } = useTranslation();
  const { client } = connection;
  const [state, refreshInfo] = useEngineState(client);
  const [page, setPage] = useState<Page>('home');
  const [lost, setLost] = useState<string | undefined>();
  const [incomingLink, setIncomingLink] = useState<string | undefined>();

  // A pinhole:// link opened from outside (protocol handler, second launch): show its preview.
  useEffect(
    () =>
      client.on('link', ({ link }) => {
        setIncomingLink(link);
        setPage('profiles');
      }),
    [client],
  );

  useEffect(() => connection.onClose((reason) => setLost(reason || t('app.lostNoReason'))), [connection, t]);
  useEffect(() => {
    applyTheme(state.settings?.theme);
    const media = window.matchMedia('(prefers-color-scheme: dark)');
    const onChange = (): void => applyTheme(state.settings?.theme);
    media.addEventListener('change', onChange);
    return () => media.removeEventListener('change', onChange);
  }, [state.settings?.theme]);
  // The chosen language, or with 'system' the browser's / OS's, followed live when it changes.
  const languageSetting = state.settings?.language;
  useEffect(() => {
    if (!languageSetting) return;
    const apply = (): void => {
      const language = languageFor(languageSetting, navigator.languages);
      if (language !== i18n.language) void i18n.changeLanguage(language);
    };
    apply();
    if (languageSetting !== 'system') return;
    window.addEventListener('languagechange', apply);
    return () => window.removeEventListener('languagechange', apply);
  }, [languageSetting, i18n]);
  useEffect(() => {
    document.title = t('app.title');
  }, [t, i18n.language]);

  const onTabKey = (event: KeyboardEvent<HTMLButtonElement>, index: number): void => {
    const delta = event.key === 'ArrowDown' ? 1 : event.key === 'ArrowUp' ? -1 : 0;
    if (delta === 0) return;
    event.preventDefault();
    const next = PAGES[(index + delta + PAGES.length) % PAGES.length] ?? 'home';
    setPage(next);
    document.getElementById(`tab-${next}`)?.focus();
  };

  const view = useMemo(() => {
    switch (page) {
      case 'home':
        return <HomeView client={client} state={state} goTo={(p: Page) => setPage(p)} />;
      case 'profiles':
        return <ProfilesView client={client} state={state} incomingLink={incomingLink} refreshInfo={refreshInfo} />;
      case 'apps':
        return <AppsView client={client} state={state} />;
      case 'logs':
        return <LogsView client={client} state={state} />;
      case 'settings':
        return <SettingsView client={client} state={state} refreshInfo={refreshInfo} />;
    }
  }, [page, client, state, refreshInfo, incomingLink]);

  return (
    <div className="shell">
      <nav className="sidebar" aria-label={t('nav.label')}>
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <span className="brand-name">Pinhole</span>
        </div>
        <div role="tablist" aria-orientation="vertical" className="tabs">
          {PAGES.map((name, index) => (
            <button
              key={name}
              id={`tab-${name}`}
              role="tab"
              type="button"
              aria-selected={page === name}
              aria-controls="page"
              tabIndex={page === name ? 0 : -1}
              className="tab"
              onClick={() => setPage(name)}
              onKeyDown={(event) => onTabKey(event, index)}
            >
              <span className={`tab-icon icon-${name}`} aria-hidden="true" />
              {t(`nav.${name}`)}
            </button>
          ))}
        </div>
        <div className="sidebar-foot">
          <StateDot state={state.status?.state ?? 'disconnected'} />
          <span>{t(`stateShort.${state.status?.state ?? 'disconnected'}`)}</span>
        </div>
      </nav>
      <main className="page">
        <div id="page" role="tabpanel" aria-labelledby={`tab-${page}`} tabIndex={-1} className="page-inner">
          {lost !== undefined && (
            <div className="banner banner-error" role="alert">
              <strong>{t('app.lost')}</strong> {lost}
            </div>
          )}
          {view}
        </div>
      </main>
    </div>
  );
};

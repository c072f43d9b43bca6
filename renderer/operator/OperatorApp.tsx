import { useEffect, useState, type KeyboardEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { catalogues, type Language } from '../i18n/index.js';
import type { OperatorApi } from './api.js';
import { FleetPage } from './pages/FleetPage.js';
import { SessionsPage } from './pages/SessionsPage.js';
import { UsersPage } from './pages/UsersPage.js';

const PAGES = ['users', 'fleet', 'sessions'] as const;
type Page = (typeof PAGES)[number];

const LANGUAGE_NAMES: Record<Language, string> = { en: 'English', 'zh-CN': '简体中文', es: 'Español' };

export const OperatorApp = ({ api }: { api: OperatorApi }) => {
  const { t, i18n } = useTranslation();
  const [page, setPage] = useState<Page>('users');
  useEffect(() => {
    document.title = t('operator.title');
  }, [t, i18n.language]);

  const onTabKey = (event: KeyboardEvent<HTMLButtonElement>, index: number): void => {
    const delta = event.key === 'ArrowDown' ? 1 : event.key === 'ArrowUp' ? -1 : 0;
    if (delta === 0) return;
    event.preventDefault();
    const next = PAGES[(index + delta + PAGES.length) % PAGES.length] ?? 'users';
    setPage(next);
    document.getElementById(`tab-${next}`)?.focus();
  };

  return (
    <div className="shell">
      <nav className="sidebar" aria-label={t('nav.label')}>
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <span className="brand-name">{t('operator.brand')}</span>
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
              <span className={`tab-icon icon-op-${name}`} aria-hidden="true" />
              {t(`operator.nav.${name}`)}
            </button>
          ))}
        </div>
        <div className="sidebar-foot operator-foot">
          <label className="field">
            <span>{t('settings.language')}</span>
            <select value={i18n.language} onChange={(event) => void i18n.changeLanguage(event.target.value)}>
              {(Object.keys(catalogues) as Language[]).map((lng) => (
                <option key={lng} value={lng}>
                  {LANGUAGE_NAMES[lng]}
                </option>
              ))}
            </select>
          </label>
          <span className="small">{t('operator.version', { version: api.session.version })}</span>
        </div>
      </nav>
      <main className="page">
        <div id="page" role="tabpanel" aria-labelledby={`tab-${page}`} tabIndex={-1} className="page-inner">
          {page === 'users' && <UsersPage api={api} />}
          {page === 'fleet' && <FleetPage api={api} />}
          {page === 'sessions' && <SessionsPage api={api} />}
        </div>
      </main>
    </div>
  );
};

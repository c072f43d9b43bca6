import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { LANGUAGES, THEMES, type Client, type UiSettings, type UiSettingsPatch } from '../../shared/contract.js';
import { Segmented } from '../components/Segmented.js';
import type { EngineState } from '../engine-state.js';
import { detectLanguage } from '../i18n/index.js';
import { SecretsChoice } from '../components/SecretsChoice.js';
import { whereStored } from '../keychain-words.js';

const LANGUAGE_NAMES: Record<(typeof LANGUAGES)[number], string> = { en: 'English', 'zh-CN': '简体中文', es: 'Español' };

export const SettingsView = ({ client, state, refreshInfo }: { client: Client; state: EngineState; refreshInfo: () => Promise<void> }) => {
  const { t, i18n } = useTranslation();
  const settings = state.settings;
  const [error, setError] = useState<string | undefined>();
  const [port, setPort] = useState('');
  const [bypass, setBypass] = useState('');
  const [upstream, setUpstream] = useState('');
  const [exported, setExported] = useState<string | undefined>();
  const [exporting, setExporting] = useState(false);
  useEffect(() => {
    if (!settings) return;
    setPort(String(settings.localPort));
    setBypass(settings.bypass.join('\n'));
    setUpstream(settings.upstreamProxy);
  }, [settings]);

  if (!settings) return <section className="view" aria-busy="true" />;

  const update = async (patch: UiSettingsPatch): Promise<void> => {
    setError(undefined);
    try {
      await client.setSettings(patch);
      await refreshInfo();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  // The archive arrives as base64 (the contract carries text) and is saved as a download.
  const exportDiagnostics = async (): Promise<void> => {
    setError(undefined);
    setExporting(true);
    try {
      const { filename, base64 } = await client.exportDiagnostics();
      const bytes = Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0));
      const url = URL.createObjectURL(new Blob([bytes], { type: 'application/gzip' }));
      const anchor = document.createElement('a');
      anchor.href = url;
      anchor.download = filename;
      anchor.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
      setExported(filename);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setExporting(false);
    }
  };

  const toggle = (key: keyof Pick<UiSettings, 'systemProxyOnConnect' | 'startAtLogin' | 'connectAtStart'>, label: string, help: string) => (
    <div className="setting">
      <div>
        <span id={`label-${key}`}>{label}</span>
        <p className="muted small">{help}</p>
      </div>
      <button type="button" role="switch" aria-checked={settings[key]} aria-labelledby={`label-${key}`} className="toggle" onClick={() => void update({ [key]: !settings[key] })}>
        <span className="toggle-knob" aria-hidden="true" />
      </button>
    </div>
  );

  return (
    <section className="view settings">
      <header className="view-head">
        <h1>{t('settings.title')}</h1>
      </header>
      {error && (
        <div className="banner banner-error" role="alert">
          {error}
        </div>
      )}
      <SecretsChoice client={client} info={state.info} refreshInfo={refreshInfo} />
      <div className="card">
        <h2>{t('settings.appearance')}</h2>
        <div className="setting">
          <span>{t('settings.theme')}</span>
          <Segmented label={t('settings.theme')} value={settings.theme} options={THEMES.map((value) => ({ value, label: t(`settings.themes.${value}`) }))} onChange={(theme) => void update({ theme })} />
        </div>
        <div className="setting">
          <label htmlFor="language">{t('settings.language')}</label>
          <select id="language" value={settings.language} onChange={(e) => void update({ language: e.target.value as UiSettings['language'] })}>
            <option value="system">{t('settings.languages.system', { language: LANGUAGE_NAMES[detectLanguage(navigator.languages)] })}</option>
            {LANGUAGES.map((lng) => (
              <option key={lng} value={lng}>
                {LANGUAGE_NAMES[lng]}
              </option>
            ))}
          </select>
        </div>
      </div>

      <div className="card">
        <h2>{t('settings.proxy')}</h2>
        <div className="setting">
          <label htmlFor="port">{t('settings.localPort')}</label>
          <input
            id="port"
            className="narrow"
            inputMode="numeric"
            value={port}
            onChange={(e) => setPort(e.target.value)}
            onBlur={() => {
              const value = Number(port);
              if (Number.isInteger(value) && value >= 0 && value <= 65535) void update({ localPort: value });
              else setError(t('settings.portInvalid'));
            }}
          />
        </div>
        {toggle('systemProxyOnConnect', t('settings.systemProxy'), t('settings.systemProxyHelp'))}
        <div className="setting">
          <span>{t('settings.mode')}</span>
          <Segmented label={t('settings.mode')} value={settings.proxyMode} options={(['pac', 'manual'] as const).map((value) => ({ value, label: t(`settings.modes.${value}`) }))} onChange={(proxyMode) => void update({ proxyMode })} />
        </div>
        <label className="field">
          <span>{t('settings.bypass')}</span>
          <textarea rows={3} className="mono" value={bypass} onChange={(e) => setBypass(e.target.value)} onBlur={() => void update({ bypass: bypass.split(/[\n,]+/).map((s) => s.trim()).filter(Boolean) })} />
          <span className="muted small">{t('settings.bypassHelp')}</span>
        </label>
        <label className="field">
          <span>{t('settings.upstream')}</span>
          <input value={upstream} placeholder="proxy.corp.example:3128" spellCheck={false} onChange={(e) => setUpstream(e.target.value)} onBlur={() => void update({ upstreamProxy: upstream.trim() })} />
          <span className="muted small">{t('settings.upstreamHelp')}</span>
        </label>
      </div>

      <div className="card">
        <h2>{t('settings.startup')}</h2>
        {toggle('startAtLogin', t('settings.startAtLogin'), t('settings.startAtLoginHelp'))}
        {toggle('connectAtStart', t('settings.connectAtStart'), t('settings.connectAtStartHelp'))}
      </div>

      <div className="card">
        <h2>{t('settings.diagnostics')}</h2>
        <div className="setting">
          <p className="muted small">{t('settings.exportDiagnosticsHelp')}</p>
          <button type="button" className="button" disabled={exporting} onClick={() => void exportDiagnostics()}>
            {t('settings.exportDiagnostics')}
          </button>
        </div>
        {exported && (
          <p className="muted small" role="status" data-testid="diagnostics-exported">
            {t('settings.exportedDiagnostics', { filename: exported })}
          </p>
        )}
      </div>

      {state.info && (
        <div className="card">
          <h2>{t('settings.about')}</h2>
          <dl className="about">
            <dt>{t('settings.version')}</dt>
            <dd>{state.info.version}</dd>
            <dt>{t('settings.keychain')}</dt>
            <dd>{whereStored(state.info, t, i18n.language)}</dd>
            <dt>{t('home.proxyAddress')}</dt>
            <dd>
              <code>{state.info.proxyAddress}</code>
            </dd>
          </dl>
        </div>
      )}
    </section>
  );
};

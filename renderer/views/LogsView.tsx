import { useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Client } from '../../shared/contract.js';
import { LOG_LEVELS, type LogLine } from '../../shared/engine-api.js';
import type { EngineState } from '../engine-state.js';

const rank = (level: string): number => LOG_LEVELS.indexOf(level as (typeof LOG_LEVELS)[number]);

const fieldsText = (line: LogLine): string =>
  Object.entries(line.fields)
    .filter(([key]) => !['time', 'level', 'msg', 'pid', 'hostname', 'name'].includes(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');

export const LogsView = ({ client, state }: { client: Client; state: EngineState }) => {
  const { t } = useTranslation();
  const [level, setLevel] = useState<(typeof LOG_LEVELS)[number]>('info');
  const [query, setQuery] = useState('');
  const [paused, setPaused] = useState<LogLine[] | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const bottom = useRef<HTMLDivElement>(null);
  const source = paused ?? state.log;
  const lines = useMemo(() => {
    const q = query.trim().toLowerCase();
    return source.filter((line) => rank(line.level) >= rank(level) && (q === '' || `${line.msg} ${line.code ?? ''} ${fieldsText(line)}`.toLowerCase().includes(q)));
  }, [source, level, query]);

  useEffect(() => {
    if (!paused) bottom.current?.scrollIntoView({ block: 'end' });
  }, [lines.length, paused]);

  const asText = (): string => lines.map((l) => `${new Date(l.time).toISOString()} ${l.level.toUpperCase()} ${l.msg}${l.code ? ` [${l.code}]` : ''} ${fieldsText(l)}`.trim()).join('\n');

  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(asText());
      setNotice(t('logs.copied', { count: lines.length }));
    } catch {
      setNotice(t('logs.copyFailed'));
    }
  };

  const exportFile = async (): Promise<void> => {
    const { filename, text } = await client.exportLogs();
    const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
    const anchor = document.createElement('a');
    anchor.href = url;
    anchor.download = filename;
    anchor.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    setNotice(t('logs.exported', { filename }));
  };

  return (
    <section className="view logs">
      <header className="view-head">
        <h1>{t('logs.title')}</h1>
      </header>
      <div className="toolbar" role="toolbar" aria-label={t('logs.toolbar')}>
        <label className="inline-field">
          <span className="muted">{t('logs.level')}</span>
          <select value={level} onChange={(e) => setLevel(e.target.value as (typeof LOG_LEVELS)[number])}>
            {LOG_LEVELS.map((l) => (
              <option key={l} value={l}>
                {t(`logs.levels.${l}`)}
              </option>
            ))}
          </select>
        </label>
        <input type="search" className="search" placeholder={t('logs.search')} aria-label={t('logs.search')} value={query} onChange={(e) => setQuery(e.target.value)} />
        <button type="button" className="button small" aria-pressed={paused !== undefined} onClick={() => setPaused(paused ? undefined : state.log)}>
          {paused ? t('logs.resume') : t('logs.pause')}
        </button>
        <button type="button" className="button small" onClick={() => void copy()}>
          {t('common.copy')}
        </button>
        <button type="button" className="button small" onClick={() => void exportFile()}>
          {t('logs.export')}
        </button>
      </div>
      {notice && (
        <p className="muted small" role="status">
          {notice}
        </p>
      )}
      <div className="log-pane" role="log" aria-live={paused ? 'off' : 'polite'} aria-label={t('logs.title')} tabIndex={0}>
        {lines.length === 0 ? (
          <p className="empty">{source.length === 0 ? t('logs.empty') : t('logs.noMatch')}</p>
        ) : (
          lines.map((line) => (
            <div key={line.seq} className={`log-line level-${line.level}`} data-testid="log-line">
              <span className="log-time">{new Date(line.time).toLocaleTimeString()}</span>
              <span className="log-level">{line.level}</span>
              <span className="log-msg">{line.msg}</span>
              {line.code && <span className="log-code">{line.code}</span>}
              <span className="log-fields">{fieldsText(line)}</span>
            </div>
          ))
        )}
        <div ref={bottom} />
      </div>
    </section>
  );
};

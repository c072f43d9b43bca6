import { useCallback } from 'react';
import { useTranslation } from 'react-i18next';
import type { FleetPoint, GatewayView } from '../../../shared/operator-api.js';
import { Sparkline } from '../../components/Sparkline.js';
import type { OperatorApi } from '../api.js';
import { formatBytes, formatDuration } from '../format.js';
import { usePolling } from '../usePolling.js';

const CHARTS: Array<{ key: keyof Omit<FleetPoint, 'at'>; label: string; format: (n: number) => string }> = [
  { key: 'tunnels', label: 'operator.fleet.tunnels', format: String },
  { key: 'bytesPerSecond', label: 'operator.fleet.bytesPerSecond', format: (n) => `${formatBytes(n)}/s` },
  { key: 'authFailures', label: 'operator.fleet.authFailures', format: String },
  { key: 'penalties', label: 'operator.fleet.penalties', format: String },
];

const GatewayCard = ({ gateway }: { gateway: GatewayView }) => {
  const { t } = useTranslation();
  const last = gateway.history.at(-1);
  const state = !gateway.answering ? 'down' : gateway.ready ? 'ready' : 'draining';
  return (
    <section className={`card gateway-card gateway-${state}`} data-gateway={gateway.name} aria-label={gateway.name}>
      <div className="row-between">
        <div className="gateway-title">
          <span className={`state-dot ${state === 'ready' ? 'state-connected' : state === 'down' ? 'state-error' : 'state-connecting'}`} aria-hidden="true" />
          <strong>{gateway.name}</strong>
          <span className="muted small">{gateway.admin}</span>
        </div>
        <span className={`pill pill-${state}`} data-testid="gateway-state">
          {t(`operator.fleet.state.${state}`)}
        </span>
      </div>
      {!gateway.answering && (
        <p className="error-text small">
          {t('operator.fleet.notAnswering', { reason: gateway.problem ?? '' })}
          {gateway.lastAnswer !== undefined && ` ${t('operator.fleet.lastAnswer', { time: new Date(gateway.lastAnswer).toLocaleTimeString() })}`}
        </p>
      )}
      <div className="gateway-facts">
        <span>{t('operator.fleet.version', { version: gateway.version ?? '–' })}</span>
        <span>{t('operator.fleet.uptime', { uptime: gateway.uptimeSeconds === undefined ? '–' : formatDuration(gateway.uptimeSeconds) })}</span>
        <span>{t('operator.fleet.activeTunnels', { count: gateway.tunnels ?? 0 })}</span>
        <span data-testid="bytes-total">{t('operator.fleet.carried', { bytes: gateway.bytesTotal === undefined ? '–' : formatBytes(gateway.bytesTotal) })}</span>
      </div>
      <div className="charts">
        {CHARTS.map((chart) => (
          <div className="chart" key={chart.key}>
            <div className="stat-label">{t(chart.label)}</div>
            <div className="stat-sub">{last === undefined ? '–' : chart.format(last[chart.key])}</div>
            <Sparkline samples={gateway.history.map((p) => ({ time: p.at, rate: p[chart.key] }))} label={t(chart.label)} />
          </div>
        ))}
      </div>
    </section>
  );
};

export const FleetPage = ({ api }: { api: OperatorApi }) => {
  const { t } = useTranslation();
  const load = useCallback(() => api.fleet(), [api]);
  const { data, error } = usePolling(load, 3_000);
  return (
    <div className="view wide">
      <div className="view-head">
        <h1>{t('operator.fleet.title')}</h1>
        <span className="muted small">{t('operator.fleet.lastHour')}</span>
      </div>
      {error && (
        <p className="banner banner-error" role="alert">
          {t('operator.loadFailed', { reason: error.message })}
        </p>
      )}
      {data && data.gateways.length === 0 && <p className="empty">{t('operator.fleet.none')}</p>}
      {data?.gateways.map((gateway) => <GatewayCard key={gateway.name} gateway={gateway} />)}
    </div>
  );
};

/** `pinhole doctor`'s report for a person: one line per hop, what to do under a failure, the firewall rule last. */
import { HOP_TITLES, type DoctorReport } from '../../shared/doctor.js';

const MARK = { pass: '[ ok ]', fail: '[FAIL]', skip: '[ -- ]' } as const;

export const reportText = (report: DoctorReport): string => {
  const lines = [`Checking the path to the gateway ${report.gateway} (profile "${report.profile}"):`];
  for (const hop of report.hops) {
    lines.push(`${MARK[hop.status]} ${HOP_TITLES[hop.hop]}: ${hop.verdict}`);
    if (hop.status === 'fail' && hop.action) lines.push(`       What to do: ${hop.action}`);
  }
  lines.push(report.ok ? 'Every hop passed.' : `Stopped at: ${HOP_TITLES[report.hops.find((h) => h.status === 'fail')?.hop ?? 'resolve']}.`);
  lines.push(report.firewallSentence);
  return `${lines.join('\n')}\n`;
};

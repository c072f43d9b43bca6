/**
 * deploy/: the files parse, and they agree with the gateway's command line (every flag they pass
 * is one `pinhole-gateway run` knows) and with each other (ports, drain times, health paths).
 * HAProxy checks its own file (`haproxy -c`); the Helm templates are checked with their template
 * directives blanked (the GitHub workflow renders and lints them with helm itself).
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { gatewayBin, repoRoot, runCommand } from '../support/processes.js';

const deploy = join(repoRoot, 'deploy');
const chart = join(deploy, 'helm', 'pinhole-gateway');
const text = (path: string): Promise<string> => readFile(path, 'utf8');

/**
 * Runs `pinhole-gateway run` with these arguments but a directory that does not exist: the parser
 * runs first, so an unknown flag fails on its name, and known flags reach the directory error.
 */
const parserVerdict = async (args: string[]): Promise<string> => {
  const dirAt = args.indexOf('--dir');
  const patched = dirAt >= 0 ? args.map((a, i) => (i === dirAt + 1 ? '/nonexistent/pinhole' : a)) : [...args, '--dir', '/nonexistent/pinhole'];
  const result = await runCommand(gatewayBin, { args: patched });
  return result.stderr;
};

const assertFlagsKnown = async (args: string[], where: string): Promise<void> => {
  assert.equal(args[0], 'run', `${where} runs the gateway`);
  const stderr = await parserVerdict(args);
  assert.doesNotMatch(stderr, /Unknown option|Unexpected argument/, `${where}: ${stderr}`);
  assert.match(stderr, /\/nonexistent\/pinhole\/gateway\.yaml could not be read/, `${where}: ${stderr}`);
};

const flagValue = (args: string[], flag: string): string | undefined => {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
};
const portOf = (endpoint: string | undefined): number => Number(/:(\d+)$/.exec(endpoint ?? '')?.[1]);

/** A Helm template with its directives blanked: whole-line `{{- ... }}` dropped, inline ones made a placeholder. */
const blankTemplate = (source: string): string =>
  source
    .split('\n')
    .filter((line) => !/^\s*\{\{-?[^}]*-?\}\}\s*$/.test(line))
    .map((line) => line.replace(/\{\{-?[^}]*?-?\}\}/g, 'TEMPLATED'))
    .join('\n');

test('the reference haproxy.cfg is valid for HAProxy, speaks PROXY v2 to the gateways and checks /readyz on their admin port', async () => {
  const check = await runCommand('haproxy', { args: ['-c', '-f', join(deploy, 'haproxy.cfg')] });
  assert.equal(check.code, 0, check.stderr);
  const cfg = await text(join(deploy, 'haproxy.cfg'));
  assert.match(cfg, /^\s*mode tcp$/m);
  assert.match(cfg, /^\s*option httpchk GET \/readyz$/m);
  assert.match(cfg, /^\s*default-server send-proxy-v2 check .*\bport 9090\b/m);
  const directives = cfg.split('\n').filter((line) => !line.trimStart().startsWith('#')).join('\n');
  assert.doesNotMatch(directives, /check-send-proxy/, 'the checks go to the admin port, which takes no PROXY header');
});

test('compose.yaml: three gateways with a flag set the CLI knows, ports that match haproxy.cfg, HAProxy and Redis', async () => {
  const compose = parse(await text(join(deploy, 'compose.yaml'))) as {
    services: Record<string, { command?: string[]; stop_grace_period?: string; read_only?: boolean }>;
    networks: { fleet: { ipam: { config: Array<{ subnet: string }> } } };
  };
  const gateways = Object.entries(compose.services).filter(([name]) => name.startsWith('gateway'));
  assert.equal(gateways.length, 3);
  assert.ok(compose.services['haproxy'] !== undefined && compose.services['redis'] !== undefined);
  const cfg = await text(join(deploy, 'haproxy.cfg'));
  for (const [name, service] of gateways) {
    const args = service.command ?? [];
    assert.equal(service.read_only, true);
    assert.match(cfg, new RegExp(`server ${name} ${name}:${portOf(flagValue(args, '--listen'))}\\b`), `haproxy.cfg sends to ${name} on its --listen port`);
    assert.match(cfg, new RegExp(`check .*port ${portOf(flagValue(args, '--admin'))}\\b`), 'haproxy.cfg checks the --admin port');
    assert.equal(flagValue(args, '--trusted-proxy'), compose.networks.fleet.ipam.config[0]?.subnet, 'the gateways trust PROXY headers from the compose network only');
    const drain = Number(flagValue(args, '--drain-grace')) + Number(flagValue(args, '--drain-seconds'));
    assert.ok(Number.parseInt(service.stop_grace_period ?? '0', 10) > drain, 'Docker waits longer than the drain');
  }
  await assertFlagsKnown(gateways[0]![1].command ?? [], 'compose.yaml');
});

test('the Dockerfile runs as non-root, exposes the ports its CMD uses, and checks /healthz on the admin port', async () => {
  const dockerfile = await text(join(deploy, 'Dockerfile'));
  const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  assert.match(final, /^USER (?!root\b|0\b)\S+$/m);
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(final)?.[1] ?? '[]') as string[];
  const expose = (/^EXPOSE (.*)$/m.exec(final)?.[1] ?? '').split(/\s+/).map(Number);
  assert.ok(expose.includes(portOf(flagValue(cmd, '--listen'))) && expose.includes(portOf(flagValue(cmd, '--admin'))));
  assert.match(final, new RegExp(`HEALTHCHECK [\\s\\S]*http://127\\.0\\.0\\.1:${portOf(flagValue(cmd, '--admin'))}/healthz`));
  await assertFlagsKnown(cmd, 'the Dockerfile CMD');
});

test('the image runs compiled JavaScript: laid out as its runtime stage copies it, without sources or tsx, the gateway answers and works', async (t) => {
  const dockerfile = await text(join(deploy, 'Dockerfile'));
  const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  assert.match(dockerfile.slice(0, dockerfile.lastIndexOf('\nFROM ')), /^RUN node scripts\/build\.mjs\b/m, 'the build stage compiles');
  const instructions = final.split('\n').filter((line) => !line.startsWith('#')).join('\n');
  assert.doesNotMatch(instructions, /tsx|\.ts\b/, 'the runtime stage has no TypeScript and no tsx');
  // Every COPY of the runtime stage, rebuilt from this checkout (dist/ is built by npm test).
  const copies = [...final.matchAll(/^COPY (--from=build )?(\S+) (\S+)$/gm)].map((m) => ({ from: m[2]!.replace(/^\/app\//, ''), to: m[3]!.replace(/^\.\//, '') }));
  assert.deepEqual(copies.map((c) => c.to).sort(), ['bin', 'dist', 'native/build/Release/pinhole_native.node', 'node_modules', 'package.json']);
  const image = await mkdtemp(join(tmpdir(), 'pinhole-image-'));
  t.after(() => rm(image, { recursive: true, force: true }));
  for (const { from, to } of copies) {
    if (to === 'node_modules') await symlink(join(repoRoot, 'node_modules'), join(image, to));
    else await cp(join(repoRoot, from), join(image, to), { recursive: true });
  }
  const bin = join(image, 'bin', 'pinhole-gateway');
  const help = await runCommand(bin, { args: ['--help'] });
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /pinhole-gateway run/);
  assert.equal(help.stderr, '', 'no warning about sources: there are none');
  const init = await runCommand(bin, { args: ['init', '--dir', join(image, 'etc'), '--hostname', 'gw.example.test'] });
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/m);
});

test('the systemd units start bin/, which runs the compiled JavaScript in dist/', async () => {
  for (const [unit, program] of [[join(deploy, 'systemd', 'pinhole-gateway.service'), 'pinhole-gateway'], [join(deploy, 'pinhole-connect.service'), 'pinhole']] as const) {
    assert.match(await text(unit), new RegExp(`^ExecStart=/opt/pinhole/bin/${program} `, 'm'));
    const launcher = await text(join(repoRoot, 'bin', program));
    assert.match(launcher, /^exec node --enable-source-maps "\$root\/dist\/\S+\.js" "\$@"$/m);
    assert.doesNotMatch(launcher, /tsx/);
  }
});

test('bin/ runs the bundles in dist/bin/, and an error thrown inside them names its TypeScript file and line', async () => {
  for (const program of ['pinhole-gateway', 'pinhole']) {
    assert.match(await text(join(repoRoot, 'bin', program)), new RegExp(`^exec node --enable-source-maps "\\$root/dist/bin/${program}\\.js" "\\$@"$`, 'm'));
  }
  // gateway/cli/common.ts's usage() throws; it is called from the chunk that holds it, as bin/ would load it.
  const script = `
    import { readdirSync, readFileSync } from 'node:fs';
    const dir = ${JSON.stringify(join(repoRoot, 'dist', 'bin'))} + '/';
    for (const file of readdirSync(dir).filter((f) => /^chunk-.*\\.js$/.test(f) && readFileSync(dir + f, 'utf8').includes('UsageError = class'))) {
      const usage = Object.values(await import(dir + file)).find((v) => typeof v === 'function' && v.name === 'usage');
      try { usage?.('x'); } catch (err) { console.log(err.stack.split('\\n')[1]); }
    }`;
  const mapped = await runCommand(process.execPath, { args: ['--enable-source-maps', '--input-type=module', '-e', script] });
  assert.equal(mapped.code, 0, mapped.stderr);
  assert.match(mapped.stdout, /at usage \(\S*\/gateway\/cli\/common\.ts:\d+:\d+\)/);
});

test('the systemd unit is hardened, binds 443 by capability only, and waits longer than the drain', async () => {
  const unit = await text(join(deploy, 'systemd', 'pinhole-gateway.service'));
  for (const line of ['DynamicUser=yes', 'AmbientCapabilities=CAP_NET_BIND_SERVICE', 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'ProtectHome=yes', 'PrivateTmp=yes']) {
    assert.match(unit, new RegExp(`^${line}$`, 'm'));
  }
  const args = (/^ExecStart=\S+ (.*)$/m.exec(unit)?.[1] ?? '').split(/\s+/);
  assert.notEqual(portOf(flagValue(args, '--admin')), portOf(flagValue(args, '--listen')));
  assert.ok(Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1]) > Number(flagValue(args, '--drain-grace')) + Number(flagValue(args, '--drain-seconds')));
  await assertFlagsKnown(args, 'the systemd unit');
});

test('the Helm chart: values and templates parse; probes on the admin port; grace above the drain; PDB, Service, Secret, optional ServiceMonitor; flags the CLI knows', async () => {
  const values = parse(await text(join(chart, 'values.yaml'))) as { ports: { gateway: number; admin: number }; drain: { graceSeconds: number; seconds: number } };
  const meta = parse(await text(join(chart, 'Chart.yaml'))) as { apiVersion: string; name: string };
  assert.deepEqual([meta.apiVersion, meta.name], ['v2', 'pinhole-gateway']);
  const kinds = new Set<string>();
  for (const file of (await readdir(join(chart, 'templates'))).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(blankTemplate(await text(join(chart, 'templates', file))))) {
      assert.deepEqual(doc.errors, [], `${file} parses`);
      const kind = (doc.toJS() as { kind?: string } | null)?.kind;
      if (kind !== undefined) kinds.add(kind);
    }
  }
  for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget', 'Secret', 'ServiceMonitor']) assert.ok(kinds.has(kind), `the chart has a ${kind}`);
  const deployment = await text(join(chart, 'templates', 'deployment.yaml'));
  assert.match(deployment, /readinessProbe:\s+httpGet:\s+path: \/readyz\s+port: admin/);
  assert.match(deployment, /livenessProbe:\s+httpGet:\s+path: \/healthz\s+port: admin/);
  assert.match(deployment, /containerPort: \{\{ \.Values\.ports\.admin \}\}/);
  assert.match(deployment, /--admin\n\s+- "0\.0\.0\.0:\{\{ \.Values\.ports\.admin \}\}"/);
  assert.match(deployment, /readOnlyRootFilesystem: true/);
  assert.match(deployment, /terminationGracePeriodSeconds: \{\{ add \.Values\.drain\.graceSeconds \.Values\.drain\.seconds 10 \}\}/);
  assert.notEqual(values.ports.admin, values.ports.gateway);
  // Every flag of the container's args (values are templated, so each gets a stand-in).
  const flags = [...deployment.matchAll(/^\s+- (--[a-z-]+)$/gm)].map((m) => m[1]!);
  assert.ok(flags.includes('--ticket-keys') && flags.includes('--drain-grace'));
  await assertFlagsKnown(['run', ...flags.flatMap((f) => [f, 'x'])], 'the Helm Deployment');
});

test('the GitHub workflow builds the image from deploy/Dockerfile and lints and renders the chart', async () => {
  const workflow = parse(await text(join(repoRoot, '.github', 'workflows', 'gateway-image.yml'))) as { jobs: Record<string, { steps: Array<{ run?: string; with?: Record<string, unknown> }> }> };
  const steps = Object.values(workflow.jobs).flatMap((job) => job.steps);
  assert.ok(steps.some((s) => s.with?.['file'] === 'deploy/Dockerfile'));
  assert.ok(steps.some((s) => s.run?.includes('helm lint deploy/helm/pinhole-gateway') === true));
  assert.ok(steps.some((s) => s.run?.includes('helm template') === true));
});

/** The sniffer's public surface: probes and their table, the ClientHello and PROXY parsers, sniff() and routing. */
export type { Probe, ProbeAnswer, ProbeResult } from './probe.js';
export { CLIENT_HELLO_MAX_BYTES, parseClientHello, type ClientHello, type ClientHelloParse, type ClientHelloInvalidReason } from './client-hello.js';
export {
  PROBES,
  TLS_ONLY,
  TLS_HELLO_ONLY,
  tlsHelloProbe,
  classify,
  tlsRecordProbe,
  customProbe,
  tableMaxBytes,
  tlsProbe,
  sshProbe,
  httpProbe,
  http2Probe,
  openvpnProbe,
  HTTP2_PREFACE,
  HTTP_REQUEST_LINE_MAX,
  type Classification,
  type CustomProbeSpec,
} from './probes.js';
export {
  PROXY_V1_MAX,
  PROXY_V2_MAX,
  PROXY_V2_SIGNATURE,
  encodeProxyV1,
  encodeProxyV2,
  normaliseIp,
  parseProxyHeader,
  type ProxyEndpoint,
  type ProxyHeader,
  type ProxyParse,
} from './proxy-protocol.js';
export { readHead, readProxyHeader, sniff, type ProxyHeaderRead, type ReadEnd, type SniffOptions, type SniffResult } from './sniff.js';
export { chooseRoute, hostnameMatches, normaliseHostname, type RouteDecision, type RouteTable, type SniRoute, type SniffVerdict } from './routes.js';

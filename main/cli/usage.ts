/**
 * Each `pinhole` command's usage text, apart from the command's module so that `pinhole CMD --help`
 * is answered without loading the command (its tunnels, keychain, console server).
 */
export const USAGE = {
  connect: [
    'usage: pinhole connect LINK|PROFILE [--listen ADDR:PORT [--allow-from CIDR]... [--local-users FILE]] [--system-proxy [--pac]] [--upstream-proxy HOST:PORT|auto] [--secrets-file FILE]',
    '       pinhole connect --server HOST:PORT --user NAME --password-stdin (--pin SHA256 | --ca FILE | --insecure)',
    '                       [--server-name NAME] [--transport h2|h1|wss] [--listen 127.0.0.1:PORT] [--upstream-proxy HOST:PORT|auto]',
    '',
    '  PROFILE                   a profile stored with `pinhole profile import` (none given: the default profile);',
    '                            its password is read from the OS keychain',
    '  --secrets-file FILE       read passwords from this passphrase-encrypted file instead of the OS keychain',
    '                            (passphrase in PINHOLE_SECRETS_PASSPHRASE); for machines without a keychain',
    '  --log-format human|json   log lines for a person or for a machine (default: human on a terminal, JSON otherwise)',
    '  --upstream-proxy auto     reach the gateway through the proxy the OS was set to before Pinhole (a corporate PAC is evaluated)',
    '                            a proxy that wants a sign-in gets the user and password from https_proxy & co.',
    '                            (http://user:password@host:port) or, for auto, from the GNOME proxy settings',
    '  --listen ADDR:PORT --allow-from CIDR...   LAN box mode: share the proxy (HTTP and SOCKS5 on one port) with the terminals',
    '                            in these ranges (a non-loopback --listen needs --allow-from); others are closed unread',
    '  --half-close-timeout S    a tunnel one side has closed ends after S seconds without a byte (default 15, 0 = never)',
    '  --idle-timeout S          a tunnel ends after S seconds without a byte either way (default 3600, 0 = never)',
    '  --local-users FILE        terminals must sign in (htpasswd file: bcrypt, apr1 or SHA1 lines, as the gateway reads)',
    '  --session-timeout SECONDS a gateway that stops answering gets no new tunnels at once, but the tunnels already open on',
    '                            it run on until nothing arrived from it for this long (default 15), then they are reset',
    '  --byte-path js|native|auto which code moves the tunnels\' bytes (default auto: the native byte path where it is built,',
    '                            for HTTP/1.1 tunnels; js: the JavaScript path everywhere); the start-up log says which runs',
    '  --no-early-start          every new tunnel waits for the gateway\'s answer (by default a destination accepted in the',
    '                            last 10 minutes gets its first bytes sent with the CONNECT, one round trip sooner)',
    '  --no-netwatch             do not watch the network: without it, an address or route change (Linux) or a wake from',
    '                            sleep makes Pinhole check the gateway at once and reconnect over the new network',
    '  --portal-probe URL        the plain http address asked when the gateway\'s certificate fails its pin, to tell a',
    '                            captive portal (a redirect) from an attack (default http://GATEWAY-HOST/)',
  ].join('\n'),
  forward:
    'usage: pinhole forward -L [BIND:]PORT:HOST:PORT | udp:[BIND:]PORT:HOST:PORT [-L ...] LINK [--transport wss|h2|h1] [--insecure] [--upstream-proxy HOST:PORT] [--log-format human|json] [--session-timeout SECONDS]\n' +
    '                       [--half-close-timeout S] [--idle-timeout S]   (silent tunnels end; defaults 15 and 3600, 0 = never)\n' +
    '                       [--byte-path js|native|auto]   (which code moves the bytes; default auto: native for HTTP/1.1 tunnels where built)\n' +
    '                       [--no-early-start]   (every tunnel waits for the gateway\'s answer before its first byte)\n' +
    '       pinhole forward -L stdio:HOST:PORT LINK [--transport wss|h2|h1]   (logs go to stderr)',
  console: [
    'usage: pinhole console [--listen 127.0.0.1:PORT] [--secrets-file FILE] [--log-format human|json]',
    '',
    '  --secrets-file FILE       keep passwords in this passphrase-encrypted file instead of the OS keychain',
    '                            (passphrase in PINHOLE_SECRETS_PASSPHRASE); without a keychain the UI offers the same',
    '  --log-format human|json   log lines on stderr for a person or for a machine (default: human on a terminal, JSON otherwise)',
  ].join('\n'),
  doctor: [
    'usage: pinhole doctor [PROFILE | --link-file FILE|-] [--destination HOST:PORT] [--upstream-proxy HOST:PORT|auto] [--json] [--bundle FILE]',
    '',
    '  Checks each hop to the gateway in order and stops at the first that fails: the name resolves, TCP to its port',
    '  opens (directly or through the corporate proxy), the TLS certificate matches the pin, the credential is accepted,',
    '  a request through the tunnel reaches a destination, the system proxy points at the local proxy. The last line',
    '  says what the firewall must allow. Exit 0 only when no hop failed.',
    '',
    '  PROFILE                   a stored profile (none given: the default profile)',
    '  --link-file FILE|-        check a provisioning link read from FILE (- : standard input) instead',
    '  --destination HOST:PORT   a destination the gateway allows, for the request through the tunnel',
    '                            (default: the profile\'s first domain on port 443; none: that hop is not checked)',
    '  --upstream-proxy HOST:PORT|auto  reach the gateway through this corporate proxy (default: the profile\'s or the settings\')',
    '  --local-proxy ADDR:PORT   where the local proxy listens, for the system-proxy hop (default 127.0.0.1:8080)',
    '  --timeout S               budget for each hop (default 10)',
    '  --json                    the result as JSON, for scripts',
    '  --bundle FILE             also write a diagnostics archive (.tar.gz): this result, versions, OS and proxy',
    '                            settings, the log, profiles and settings, with every password, token and link secret removed',
    '  --secrets-file FILE       read passwords from this passphrase-encrypted file instead of the OS keychain',
  ].join('\n'),
  profile: [
    'usage: pinhole profile import LINK [--name NAME] [--secrets-file FILE]',
    '       pinhole profile list [--json]',
    '       pinhole profile show NAME [--json]',
    '       pinhole profile remove NAME [--secrets-file FILE]',
    '',
    '  --secrets-file FILE   keep passwords in this passphrase-encrypted file instead of the OS keychain',
    '                        (passphrase in PINHOLE_SECRETS_PASSPHRASE); only for machines without a keychain',
  ].join('\n'),
} as const;

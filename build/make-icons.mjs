// Draws Pinhole's icons as PNGs (no image tools needed): the app icon (512 px and sizes for Linux)
// and tray images per state, with monochrome *Template variants for the macOS menu bar.
// Run: node build/make-icons.mjs   (the results are committed under build/icons).
import { mkdirSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { join } from 'node:path';

const out = new URL('./icons/', import.meta.url).pathname;
mkdirSync(join(out, 'tray'), { recursive: true });

const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, data) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
};
const png = (size, pixel) => {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const [r, g, b, a] = pixel(x + 0.5, y + 0.5);
      raw.set([r, g, b, a], y * (size * 4 + 1) + 1 + x * 4);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
};

// Coverage of a shape with 4x4 supersampling, for smooth edges.
const cover = (inside, x, y) => {
  let hits = 0;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) if (inside(x - 0.5 + (i + 0.5) / 4, y - 0.5 + (j + 0.5) / 4)) hits++;
  return hits / 16;
};
const blend = (under, over, alpha) => under.map((u, i) => Math.round(u * (1 - alpha) + over[i] * alpha));

/** The mark: a ring and the pinhole in its centre. */
const mark = (size, { background, ring, dot, badge }) => (x, y) => {
  const c = size / 2;
  const d = Math.hypot(x - c, y - c);
  let px = [0, 0, 0, 0];
  if (background) {
    const r = size * 0.22;
    const inRounded = (px2, py2) => {
      const qx = Math.max(Math.abs(px2 - c) - (c - r - size * 0.04), 0);
      const qy = Math.max(Math.abs(py2 - c) - (c - r - size * 0.04), 0);
      return Math.hypot(qx, qy) <= r;
    };
    px = blend(px, background, cover(inRounded, x, y));
  }
  const outer = size * (background ? 0.3 : 0.44);
  const inner = size * (background ? 0.19 : 0.28);
  px = blend(px, ring, cover((a, b) => {
    const dd = Math.hypot(a - c, b - c);
    return dd <= outer && dd >= inner;
  }, x, y));
  px = blend(px, dot, cover((a, b) => Math.hypot(a - c, b - c) <= size * (background ? 0.075 : 0.12), x, y));
  if (badge) {
    const bx = size * 0.78;
    const by = size * 0.78;
    px = blend(px, badge, cover((a, b) => Math.hypot(a - bx, b - by) <= size * 0.2, x, y));
  }
  void d;
  return px;
};

const BLUE = [31, 111, 235, 255];
const WHITE = [255, 255, 255, 255];
const GREY = [128, 134, 142, 255];
const BLACK = [0, 0, 0, 255];
const STATES = {
  disconnected: { ring: GREY, dot: GREY },
  connecting: { ring: [154, 103, 0, 255], dot: [210, 153, 34, 255] },
  connected: { ring: [26, 127, 55, 255], dot: [26, 127, 55, 255] },
  error: { ring: GREY, dot: GREY, badge: [207, 34, 46, 255] },
};
const TEMPLATE = {
  disconnected: { ring: [0, 0, 0, 110], dot: [0, 0, 0, 110] },
  connecting: { ring: [0, 0, 0, 170], dot: [0, 0, 0, 0] },
  connected: { ring: BLACK, dot: BLACK },
  error: { ring: [0, 0, 0, 110], dot: [0, 0, 0, 110], badge: BLACK },
};

writeFileSync(join(out, 'icon.png'), png(512, mark(512, { background: BLUE, ring: WHITE, dot: WHITE })));
for (const size of [16, 32, 48, 64, 128, 256]) {
  mkdirSync(join(out, 'linux'), { recursive: true });
  writeFileSync(join(out, 'linux', `${size}x${size}.png`), png(size, mark(size, { background: BLUE, ring: WHITE, dot: WHITE })));
}
for (const [state, colours] of Object.entries(STATES)) {
  writeFileSync(join(out, 'tray', `tray-${state}.png`), png(16, mark(16, colours)));
  writeFileSync(join(out, 'tray', `tray-${state}@2x.png`), png(32, mark(32, colours)));
}
for (const [state, colours] of Object.entries(TEMPLATE)) {
  writeFileSync(join(out, 'tray', `tray-${state}Template.png`), png(16, mark(16, colours)));
  writeFileSync(join(out, 'tray', `tray-${state}Template@2x.png`), png(32, mark(32, colours)));
}
console.log(`icons written to ${out}`);

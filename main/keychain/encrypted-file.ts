/**
 * The explicit opt-in for machines without a keychain: every secret in one file, encrypted with
 * AES-256-GCM under a key derived from the user's passphrase with scrypt. Written atomically with
 * mode 600. Never chosen automatically.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, type ScryptOptions } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { PinholeError } from '../../shared/errors.js';
import { writeFileAtomic } from '../profiles/atomic-write.js';
import type { SecretStore } from './secret-store.js';
import { invalidFile, unreadableFile } from '../../node/startup-files.js';

export const SECRETS_FILE_NAME = 'secrets.enc.json';

const KDF = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

const FileSchema = z.object({
  version: z.literal(1),
  kdf: z.object({ name: z.literal('scrypt'), N: z.number().int(), r: z.number().int(), p: z.number().int(), salt: z.string() }),
  cipher: z.literal('aes-256-gcm'),
  iv: z.string(),
  tag: z.string(),
  data: z.string(),
});

const deriveKey = (passphrase: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> =>
  new Promise((resolve, reject) => scryptCb(passphrase.normalize('NFKC'), salt, 32, options, (err, key) => (err ? reject(err) : resolve(key))));

export interface EncryptedFileStoreOptions {
  /** The folder that holds SECRETS_FILE_NAME (used when `file` is not given). */
  dir?: string;
  /** The file itself (`--secrets-file FILE`, or a path entered in the UI). */
  file?: string;
  passphrase: string;
}

export class EncryptedFileStore implements SecretStore {
  readonly kind = 'encrypted-file';
  readonly location: string;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly file: string,
    private readonly key: Buffer,
    private readonly salt: Buffer,
    private secrets: Map<string, string>,
  ) {
    this.location = `in a passphrase-encrypted file (${file})`;
  }

  /** Opens (or prepares to create) the file; a wrong passphrase throws PINHOLE_PASSPHRASE_WRONG. */
  static async open({ dir, file: given, passphrase }: EncryptedFileStoreOptions): Promise<EncryptedFileStore> {
    if (!passphrase) throw new PinholeError('PINHOLE_USAGE', 'The encrypted secrets file needs a passphrase.');
    if (!given && !dir) throw new PinholeError('PINHOLE_USAGE', 'The encrypted secrets file needs a path.');
    const file = given ?? join(dir ?? '', SECRETS_FILE_NAME);
    let raw: string | undefined;
    try {
      raw = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw unreadableFile(error, file, 'the secrets file');
    }
    if (raw === undefined) {
      const salt = randomBytes(16);
      return new EncryptedFileStore(file, await deriveKey(passphrase, salt, KDF), salt, new Map());
    }
    let parsed: z.infer<typeof FileSchema>;
    try {
      parsed = FileSchema.parse(JSON.parse(raw));
    } catch (error) {
      throw invalidFile(file, 'the secrets file', 'this is not a Pinhole secrets file (it is written by Pinhole, encrypted with your passphrase); give another path to start a new one.', {}, { cause: error });
    }
    const salt = Buffer.from(parsed.kdf.salt, 'base64');
    const key = await deriveKey(passphrase, salt, { N: parsed.kdf.N, r: parsed.kdf.r, p: parsed.kdf.p, maxmem: KDF.maxmem });
    let plain: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parsed.iv, 'base64'));
      decipher.setAuthTag(Buffer.from(parsed.tag, 'base64'));
      plain = Buffer.concat([decipher.update(Buffer.from(parsed.data, 'base64')), decipher.final()]).toString('utf8');
    } catch (error) {
      throw new PinholeError('PINHOLE_PASSPHRASE_WRONG', undefined, { cause: error, details: { file } });
    }
    const entries = z.record(z.string(), z.string()).parse(JSON.parse(plain));
    return new EncryptedFileStore(file, key, salt, new Map(Object.entries(entries)));
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async persist(next: Map<string, string>): Promise<void> {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(JSON.stringify(Object.fromEntries(next)), 'utf8'), cipher.final()]);
    const body = {
      version: 1,
      kdf: { name: 'scrypt', N: KDF.N, r: KDF.r, p: KDF.p, salt: this.salt.toString('base64') },
      cipher: 'aes-256-gcm',
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
    await writeFileAtomic(this.file, `${JSON.stringify(body)}\n`, 0o600);
    this.secrets = next;
  }

  get(ref: string): Promise<string | undefined> {
    return Promise.resolve(this.secrets.get(ref));
  }

  set(ref: string, secret: string): Promise<void> {
    return this.serialize(() => this.persist(new Map(this.secrets).set(ref, secret)));
  }

  delete(ref: string): Promise<boolean> {
    return this.serialize(async () => {
      if (!this.secrets.has(ref)) return false;
      const next = new Map(this.secrets);
      next.delete(ref);
      await this.persist(next);
      return true;
    });
  }
}

import { useEffect, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { Client, LinkPreview, ProfileDraft, ProfileView } from '../../shared/contract.js';
import { formatPin } from '../../shared/profile.js';
import type { EngineState } from '../engine-state.js';
import { SecretsChoice } from '../components/SecretsChoice.js';
import { whereStored } from '../keychain-words.js';

const LINK_RE = /pinhole:\/\/\S+/i;
const TRUSTS = ['pin', 'ca', 'system', 'insecure'] as const;
type TrustKind = (typeof TRUSTS)[number];

interface FormState {
  id?: string;
  name: string;
  server: string;
  serverName: string;
  user: string;
  password: string;
  trust: TrustKind;
  pin: string;
  caFile: string;
  transport: 'h2' | 'h1' | 'wss';
}

const emptyForm: FormState = { name: '', server: '', serverName: '', user: '', password: '', trust: 'pin', pin: '', caFile: '', transport: 'h1' };

const formFromProfile = (p: ProfileView): FormState => ({
  id: p.id,
  name: p.name,
  server: p.endpoints[0] ?? '',
  serverName: p.serverName,
  user: p.user,
  password: '',
  trust: p.trust.kind,
  pin: p.trust.kind === 'pin' ? formatPin(p.trust.pin) : '',
  caFile: p.trust.kind === 'ca' ? p.trust.caFile : '',
  transport: p.transport,
});

export const ProfilesView = ({
  client,
  state,
  incomingLink,
  refreshInfo,
}: {
  client: Client;
  state: EngineState;
  incomingLink?: string | undefined;
  refreshInfo: () => Promise<void>;
}) => {
  const { t, i18n } = useTranslation();
  const [link, setLink] = useState('');
  const [preview, setPreview] = useState<LinkPreview | undefined>();
  const [previewName, setPreviewName] = useState('');
  const [linkError, setLinkError] = useState<string | undefined>();
  const [form, setForm] = useState<FormState | undefined>();
  const [formError, setFormError] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const [confirmDelete, setConfirmDelete] = useState<string | undefined>();
  const profiles = state.profiles?.profiles ?? [];
  const managed = state.profiles?.managed;
  const keychain = whereStored(state.info, t, i18n.language);
  // No keychain answers and no secrets file is open: a link can be used for this session, not saved.
  const noStore = state.info?.keychain.available === false;

  useEffect(() => {
    if (incomingLink) void examine(incomingLink);
    // Only a new incoming link should replace what is in the box.
  }, [incomingLink]);

  const examine = async (text: string): Promise<void> => {
    setLink(text);
    setLinkError(undefined);
    setPreview(undefined);
    const match = LINK_RE.exec(text);
    if (!match) {
      if (text.trim().length > 0) setLinkError(t('profiles.notALink'));
      return;
    }
    try {
      const result = await client.previewLink({ link: match[0] });
      setPreview(result);
      setPreviewName(result.name);
    } catch (err) {
      setLinkError(err instanceof Error ? err.message : String(err));
    }
  };

  const saveLink = async (): Promise<void> => {
    const match = LINK_RE.exec(link);
    if (!match) return;
    try {
      const saved = await client.importLink({ link: match[0], ...(previewName.trim() ? { name: previewName.trim() } : {}) });
      setNotice(t('profiles.saved', { name: saved.name, location: keychain }));
      setLink('');
      setPreview(undefined);
    } catch (err) {
      setLinkError(err instanceof Error ? err.message : String(err));
    }
  };

  const connectForSession = async (): Promise<void> => {
    const match = LINK_RE.exec(link);
    if (!match || !preview) return;
    setLinkError(undefined);
    try {
      setNotice(t('profiles.sessionConnected', { name: previewName.trim() || preview.name }));
      await client.connectLink({ link: match[0] });
    } catch (err) {
      setNotice(undefined);
      setLinkError(err instanceof Error ? err.message : String(err));
    }
  };

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    if (!form) return;
    setFormError(undefined);
    const host = form.server.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    const trust =
      form.trust === 'pin' ? { kind: 'pin' as const, pin: form.pin } : form.trust === 'ca' ? { kind: 'ca' as const, caFile: form.caFile } : { kind: form.trust };
    const draft: ProfileDraft = {
      ...(form.id ? { id: form.id } : {}),
      name: form.name || host,
      endpoints: [form.server.trim()],
      serverName: form.serverName.trim() || host,
      user: form.user,
      trust,
      transport: form.transport,
      ...(form.password ? { password: form.password } : {}),
    };
    try {
      const saved = await client.saveProfile(draft);
      setNotice(t('profiles.saved', { name: saved.name, location: keychain }));
      setForm(undefined);
    } catch (err) {
      setFormError(err instanceof Error ? err.message : String(err));
    }
  };

  const act = async (what: () => Promise<unknown>): Promise<void> => {
    try {
      await what();
    } catch (err) {
      setNotice(err instanceof Error ? err.message : String(err));
    }
  };

  const field = (key: keyof FormState, label: string, props: Record<string, unknown> = {}) => (
    <label className="field">
      <span>{label}</span>
      <input value={(form?.[key] as string) ?? ''} onChange={(e) => setForm((f) => (f ? { ...f, [key]: e.target.value } : f))} {...props} />
    </label>
  );

  return (
    <section className="view">
      <header className="view-head">
        <h1>{t('profiles.title')}</h1>
        {!form && (
          <button type="button" className="button" onClick={() => setForm(emptyForm)}>
            {t('profiles.addManual')}
          </button>
        )}
      </header>
      {notice && (
        <div className="banner banner-ok" role="status">
          {notice}
        </div>
      )}
      <SecretsChoice client={client} info={state.info} refreshInfo={refreshInfo} />
      {noStore && <p className="muted small">{t('secrets.sessionOnly')}</p>}

      {!form && (
        <div className="card">
          <label className="field">
            <span>{t('profiles.pasteLabel')}</span>
            <textarea
              rows={2}
              className="mono"
              placeholder="pinhole://v1/…"
              value={link}
              aria-describedby="link-help"
              onChange={(e) => void examine(e.target.value)}
              spellCheck={false}
            />
          </label>
          <p id="link-help" className="muted small">
            {t('profiles.pasteHelp')}
          </p>
          {linkError && (
            <p className="error-text" role="alert">
              {linkError}
            </p>
          )}
          {preview && (
            <div className="preview" data-testid="link-preview" aria-label={t('profiles.previewTitle')}>
              <h2>{t('profiles.previewTitle')}</h2>
              <dl>
                <dt>{t('profiles.server')}</dt>
                <dd>
                  <code>{preview.endpoints.join(', ')}</code>
                </dd>
                <dt>{t('profiles.serverName')}</dt>
                <dd>
                  <code>{preview.serverName}</code>
                </dd>
                <dt>{t('profiles.user')}</dt>
                <dd>{preview.user}</dd>
                <dt>{t('profiles.pin')}</dt>
                <dd>{preview.pin ? <code className="pin">{formatPin(preview.pin)}</code> : <span className="muted">{t('profiles.noPin')}</span>}</dd>
                <dt>{t('profiles.transport')}</dt>
                <dd>{t(`transport.${preview.transport}`)}</dd>
                {preview.domains.length > 0 && (
                  <>
                    <dt>{t('profiles.domains')}</dt>
                    <dd>{preview.domains.join(', ')}</dd>
                  </>
                )}
              </dl>
              <label className="field">
                <span>{t('profiles.name')}</span>
                <input value={previewName} onChange={(e) => setPreviewName(e.target.value)} />
              </label>
              <p className="muted small">{noStore ? t('profiles.saveNeedsStore') : t('profiles.passwordWhere', { location: keychain })}</p>
              {preview.existingId && <p className="muted small">{t('profiles.willUpdate')}</p>}
              <div className="actions">
                <button type="button" className="button primary" disabled={noStore} onClick={() => void saveLink()}>
                  {t('profiles.saveLink')}
                </button>
                <button type="button" className="button" onClick={() => void connectForSession()}>
                  {t('profiles.connectSession')}
                </button>
                <button type="button" className="button" onClick={() => void examine('')}>
                  {t('common.cancel')}
                </button>
              </div>
            </div>
          )}
        </div>
      )}

      {form && (
        <form className="card form" onSubmit={(e) => void submit(e)} aria-label={form.id ? t('profiles.editTitle') : t('profiles.manualTitle')}>
          <h2>{form.id ? t('profiles.editTitle') : t('profiles.manualTitle')}</h2>
          <div className="grid2">
            {field('name', t('profiles.name'))}
            {field('server', t('profiles.serverPort'), { required: true, placeholder: 'gw.example.com:443', spellCheck: false })}
            {field('serverName', t('profiles.serverName'), { placeholder: t('profiles.serverNameHint'), spellCheck: false })}
            <label className="field">
              <span>{t('profiles.transport')}</span>
              <select value={form.transport} onChange={(e) => setForm({ ...form, transport: e.target.value as FormState['transport'] })}>
                {(['h1', 'h2', 'wss'] as const).map((tr) => (
                  <option key={tr} value={tr}>
                    {t(`transport.${tr}`)}
                  </option>
                ))}
              </select>
            </label>
            {field('user', t('profiles.user'), { required: true, autoComplete: 'off' })}
            {field('password', t('profiles.password'), {
              type: 'password',
              autoComplete: 'new-password',
              required: !form.id,
              placeholder: form.id ? t('profiles.passwordKeep') : '',
            })}
          </div>
          <p className="muted small">{t('profiles.passwordWhere', { location: keychain })}</p>
          <fieldset className="field">
            <legend>{t('profiles.trust')}</legend>
            <div className="radio-row">
              {TRUSTS.map((kind) => (
                <label key={kind} className="radio">
                  <input type="radio" name="trust" value={kind} checked={form.trust === kind} onChange={() => setForm({ ...form, trust: kind })} />
                  {t(`trust.${kind}`)}
                </label>
              ))}
            </div>
          </fieldset>
          {form.trust === 'pin' && field('pin', t('profiles.pin'), { required: true, className: 'mono', spellCheck: false, placeholder: 'AB:CD:…' })}
          {form.trust === 'ca' && field('caFile', t('profiles.caFile'), { required: true, spellCheck: false, placeholder: '/etc/ssl/certs/company-ca.pem' })}
          {form.trust === 'insecure' && (
            <p className="banner banner-warn" role="note">
              {t('trust.insecureWarning')}
            </p>
          )}
          {formError && (
            <p className="error-text" role="alert">
              {formError}
            </p>
          )}
          <div className="actions">
            <button type="submit" className="button primary">
              {t('common.save')}
            </button>
            <button type="button" className="button" onClick={() => setForm(undefined)}>
              {t('common.cancel')}
            </button>
          </div>
        </form>
      )}

      {managed?.problem && (
        <div className="banner banner-warn" role="alert" data-testid="managed-problem">
          {managed.problem}
        </div>
      )}
      {managed && (managed.lockProfiles || profiles.some((p) => p.managed)) && (
        <p className="muted small" data-testid="managed-note">
          {t(managed.lockProfiles ? 'managed.listLocked' : 'managed.someManaged')}{' '}
          {managed.supportUrl && (
            <a href={managed.supportUrl} target="_blank" rel="noreferrer">
              {t('managed.support')}
            </a>
          )}
        </p>
      )}
      <h2 className="section-title">{t('profiles.listTitle')}</h2>
      {profiles.length === 0 ? (
        <p className="empty">{t('profiles.empty')}</p>
      ) : (
        <ul className="list" aria-label={t('profiles.listTitle')}>
          {profiles.map((p) => (
            <li key={p.id} className="list-item" data-testid="profile-item">
              <div className="list-main">
                <div className="list-title">
                  <strong>{p.name}</strong>
                  {p.isDefault && <span className="badge">{t('profiles.default')}</span>}
                  {p.managed && (
                    <span className="badge" data-testid="managed-badge" title={managed?.supportUrl ?? ''}>
                      {t('managed.badge')}
                    </span>
                  )}
                </div>
                <span className="muted small">
                  {p.user} @ {p.endpoints[0]} · {t(`trust.${p.trust.kind}`)} ·{' '}
                  {p.hasPassword ? (
                    t(state.info?.keychain.kind === 'encrypted-file' ? 'profiles.passwordInFile' : 'profiles.passwordStored')
                  ) : (
                    <span className="error-text">{t('profiles.passwordMissing')}</span>
                  )}
                </span>
              </div>
              <div className="list-actions">
                {!p.isDefault && (
                  <button type="button" className="button small" onClick={() => void act(() => client.setDefaultProfile({ id: p.id }))}>
                    {t('profiles.makeDefault')}
                  </button>
                )}
                <button type="button" className="button small" disabled={p.managed === true} onClick={() => setForm(formFromProfile(p))} aria-label={t('profiles.editNamed', { name: p.name })}>
                  {t('common.edit')}
                </button>
                <button
                  type="button"
                  className={`button small ${confirmDelete === p.id ? 'danger' : ''}`}
                  disabled={p.managed === true || managed?.lockProfiles === true}
                  aria-label={t('profiles.deleteNamed', { name: p.name })}
                  onClick={() => {
                    if (confirmDelete === p.id) {
                      setConfirmDelete(undefined);
                      void act(() => client.deleteProfile({ id: p.id }));
                    } else setConfirmDelete(p.id);
                  }}
                >
                  {confirmDelete === p.id ? t('profiles.confirmDelete') : t('common.delete')}
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
};

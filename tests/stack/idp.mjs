// Test-only OAuth 2.0 / OpenID Connect authorization server for the sasl-oauth2
// end-to-end tests.  It wraps oidc-provider (see package.json for the pinned
// version) in a plain node HTTPS server bound to 127.0.0.1 and adds:
//
//   * interactions that approve themselves (login + consent, no human);
//     login_hint "deny..." ends the interaction with access_denied instead;
//   * test-only endpoints under /__test/ (never part of a real server):
//       POST /__test/revoke-access-token   token=<AT>   destroy that AT only
//       GET  /__test/stats                 /token request counts per grant type,
//                                          and "tls": {handshakes, resumed}, the
//                                          TLS handshakes the server completed
//                                          (all) and how many of them resumed a
//                                          session
//       POST /__test/reset-stats
//       GET  /__test/stats-by-account      refresh_token and jwt-bearer requests per account
//       POST /__test/mint-grants  count=N [client_id=ID] [account_prefix=P]
//                                          N grants straight through the
//                                          provider's models (no browser, no
//                                          consent): {"refresh_tokens":[...]},
//                                          account P<i>@example.test; for tests
//                                          of thousands of accounts
//   * a grant store that keeps every grant (a Map; oidc-provider's default
//     memory adapter is an LRU of 1000 entries, which dropped grants of a
//     test with thousands of accounts)
//   * a log file (IDP_LOG) with one line per token/introspection/revocation
//     request, holding no token or secret value.
//
// Environment:
//   IDP_PORT (8443)  IDP_HOST (127.0.0.1)  IDP_CERT  IDP_KEY  (PEM files, required)
//   AT_TTL (60)      access token lifetime in seconds
//   IDP_LOG          log file (default: stderr)
//   IDP_APP_KEYS     directory with app.crt (client appjwt's certificate) and
//                    sa.json (the service account of the jwt-bearer grant);
//                    without it the app-only clients are not registered
//
// App-only grants (no user, no refresh token):
//   appclient  client_secret_basic "appsecret", grant client_credentials
//   appjwt     private_key_jwt (the key of IDP_APP_KEYS/app.crt), client_credentials
//   appsa      urn:ietf:params:oauth:grant-type:jwt-bearer (RFC 7523 2.1) through
//              registerGrantType: the assertion signed with sa.json's key, iss =
//              its client_email, aud = the token endpoint, sub = the mailbox,
//              scope https://mail.google.com/.  As at Google, the request has no
//              client authentication: this server adds client_id=appsa to it.
//   appnoperm  client_secret_basic "appsecret", client_credentials, always
//              refused with unauthorized_client, as a provider refuses an app it
//              has not given the mail permission (the console fix's test case)
//   The access token's email (Dovecot's username_attribute) is the mailbox:
//   sub for jwt-bearer; APP_MAILBOX for client_credentials, standing in for
//   the one mailbox Exchange would give the app's service principal.
//
// Nothing secret is printed anywhere: the log never contains a token, code,
// cookie or client secret.

import { createPublicKey, generateKeyPairSync, randomBytes, verify, X509Certificate } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:https';

import Provider, { errors } from 'oidc-provider';

const HOST = process.env.IDP_HOST || '127.0.0.1';
const PORT = Number.parseInt(process.env.IDP_PORT || '8443', 10);
const AT_TTL = Number.parseInt(process.env.AT_TTL || '60', 10);
const LOG = process.env.IDP_LOG || '';
const DEFAULT_ACCOUNT = 'user@example.test';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const APP_KEYS = process.env.IDP_APP_KEYS || '';
const APP_MAILBOX = 'app@example.test';
const GOOGLE_MAIL_SCOPE = 'https://mail.google.com/';
const DAY = 24 * 60 * 60;

if (!process.env.IDP_CERT || !process.env.IDP_KEY) {
  process.stderr.write('idp: IDP_CERT and IDP_KEY must name the PEM certificate and key\n');
  process.exit(2);
}
if (!Number.isInteger(PORT) || PORT <= 0 || !Number.isInteger(AT_TTL) || AT_TTL <= 0) {
  process.stderr.write('idp: IDP_PORT and AT_TTL must be positive integers\n');
  process.exit(2);
}

const ISSUER = `https://${HOST.includes(':') ? `[${HOST}]` : HOST}:${PORT}`;

function log(line) {
  const text = `${new Date().toISOString()} ${line}\n`;
  if (LOG) {
    try {
      appendFileSync(LOG, text);
      return;
    } catch {
      // fall through to stderr
    }
  }
  process.stderr.write(text);
}

// Only short, known-safe words go into the log.
function safeWord(value, fallback = '-') {
  if (typeof value !== 'string' || value === '') return fallback;
  return /^[A-Za-z0-9_.:@+-]{1,100}$/.test(value) ? value : '(unprintable)';
}

// ---------------------------------------------------------------- statistics

let stats = {};
let tls = { handshakes: 0, resumed: 0 };
// refresh_token requests per account (the account of the refresh token the
// request presented, when it was found) and jwt-bearer requests per mailbox
// (the assertion's sub, once its signature checked out):
// {"acct": {"ok": N, "error": N}}
let statsByAccount = {};

function countToken(grantType, ok) {
  const key = grantType || '(none)';
  if (!stats[key]) stats[key] = { ok: 0, error: 0 };
  stats[key][ok ? 'ok' : 'error'] += 1;
}

function countAccount(accountId, ok) {
  if (typeof accountId !== 'string' || accountId === '') return;
  if (!statsByAccount[accountId]) statsByAccount[accountId] = { ok: 0, error: 0 };
  statsByAccount[accountId][ok ? 'ok' : 'error'] += 1;
}

// ---------------------------------------------------------------- storage

// Every artifact in one Map, with the indexes oidc-provider asks an adapter
// for (grant members, session uid, user code).  Expired entries are dropped
// when read and by a sweep every 30 s.
const store = new Map();      // "Model:id" -> { payload, expiresAt }
const grantMembers = new Map(); // grantId -> Set of "Model:id"
const byUid = new Map();      // session uid -> id
const byUserCode = new Map(); // user code -> id

function live(key) {
  const e = store.get(key);
  if (!e) return undefined;
  if (e.expiresAt !== 0 && e.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return e.payload;
}

setInterval(() => {
  const now = Date.now();
  for (const [key, e] of store) if (e.expiresAt !== 0 && e.expiresAt <= now) store.delete(key);
}, 30000).unref();

class MapAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    store.set(key, { payload, expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : 0 });
    if (payload.grantId) {
      if (!grantMembers.has(payload.grantId)) grantMembers.set(payload.grantId, new Set());
      grantMembers.get(payload.grantId).add(key);
    }
    if (this.model === 'Session' && payload.uid) byUid.set(payload.uid, id);
    if (payload.userCode) byUserCode.set(payload.userCode, id);
  }

  async find(id) {
    return live(this.key(id));
  }

  async findByUid(uid) {
    const id = byUid.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = byUserCode.get(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const payload = live(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    const key = this.key(id);
    const payload = live(key);
    store.delete(key);
    if (payload?.grantId) grantMembers.get(payload.grantId)?.delete(key);
  }

  async revokeByGrantId(grantId) {
    for (const key of grantMembers.get(grantId) ?? []) store.delete(key);
    grantMembers.delete(grantId);
  }
}

// ---------------------------------------------------------------- accounts

async function findAccount(_ctx, sub) {
  return {
    accountId: sub,
    async claims() {
      return { sub, email: sub };
    },
  };
}

// ---------------------------------------------------------------- provider

const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  .export({ format: 'jwk' });

const confidential = (clientId, secret, method) => ({
  client_id: clientId,
  client_secret: secret,
  token_endpoint_auth_method: method,
  grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
  response_types: ['code'],
  redirect_uris: ['http://127.0.0.1:9/cb'],
});

// The app-only clients and the service account (only with IDP_APP_KEYS).
let serviceAccount = null;
const appClients = [];
if (APP_KEYS) {
  const certKey = new X509Certificate(readFileSync(join(APP_KEYS, 'app.crt'))).publicKey;
  const sa = JSON.parse(readFileSync(join(APP_KEYS, 'sa.json'), 'utf8'));
  serviceAccount = { email: sa.client_email, key: createPublicKey(sa.private_key) };
  appClients.push(
    {
      client_id: 'appclient',
      client_secret: 'appsecret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
    {
      client_id: 'appjwt',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [{ ...certKey.export({ format: 'jwk' }), use: 'sig' }] },
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
    {
      client_id: 'appnoperm',
      client_secret: 'appsecret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
    {
      client_id: 'appsa',
      token_endpoint_auth_method: 'none',
      grant_types: [JWT_BEARER],
      response_types: [],
      redirect_uris: [],
    },
  );
}

const configuration = {
  adapter: MapAdapter,
  clients: [
    ...appClients,
    confidential('mailclient', 'mailsecret', 'client_secret_basic'),
    confidential('mailclient-post', 'mailsecret', 'client_secret_post'),
    {
      // A public native client, as a consent tool would use: PKCE, loopback
      // redirect URIs.  oidc-provider ignores the port of a loopback redirect
      // URI for application_type native (RFC 8252 section 7.3).
      client_id: 'mailclient-public',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/cb', 'http://[::1]/cb'],
    },
    {
      // Resource server (Dovecot): may only call introspection.
      client_id: 'dovecot',
      client_secret: 'dovecotsecret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    },
  ],
  jwks: { keys: [{ ...signingKey, kid: `test-${randomBytes(4).toString('hex')}`, use: 'sig', alg: 'RS256' }] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  responseTypes: ['code'],
  scopes: ['openid', 'offline_access', 'email'],
  claims: { openid: ['sub'], email: ['email'] },
  findAccount,
  async extraTokenClaims(ctx, token) {
    if (token.accountId) return { email: token.accountId };
    if (token.kind === 'ClientCredentials') {
      return { email: ctx?.state?.mailbox || APP_MAILBOX };
    }
    return undefined;
  },
  // Refresh tokens for every client allowed the grant, even when a request
  // lacks prompt=consent (oidc-provider otherwise drops offline_access then).
  async issueRefreshToken(_ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  rotateRefreshToken: true,
  ttl: {
    AccessToken: AT_TTL,
    ClientCredentials: AT_TTL,
    AuthorizationCode: 120,
    DeviceCode: 600,
    IdToken: 3600,
    Interaction: 3600,
    RefreshToken: 14 * DAY,
    Grant: 14 * DAY,
    Session: 14 * DAY,
  },
  features: {
    devInteractions: { enabled: false },
    deviceFlow: { enabled: true },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    introspection: {
      enabled: true,
      // Dovecot must see only access tokens as active: otherwise a refresh
      // token presented as a bearer would be accepted.  Other callers see
      // only their own tokens.
      async allowedPolicy(_ctx, client, token) {
        if (client.clientId === 'dovecot') return token.kind === 'AccessToken' || token.kind === 'ClientCredentials';
        return token.clientId === client.clientId;
      },
    },
  },
  interactions: {
    url(_ctx, interaction) {
      return `/interaction/${interaction.uid}`;
    },
  },
  async renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
};

const provider = new Provider(ISSUER, configuration);

// ---------------------------------------------------------------- jwt-bearer (RFC 7523 2.1)

function b64json(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

// Google's words for a missing domain-wide delegation.
const NOT_DELEGATED = 'Client is unauthorized to retrieve access tokens using this method, '
  + 'or client not authorized for any of the scopes requested.';

async function jwtBearerHandler(ctx) {
  const assertion = ctx.oidc.params.assertion || '';
  const parts = assertion.split('.');
  if (parts.length !== 3) throw new errors.CustomOIDCProviderError('invalid_grant', 'the assertion is not a JWT');
  let header;
  let claims;
  try {
    header = b64json(parts[0]);
    claims = b64json(parts[1]);
  } catch {
    throw new errors.CustomOIDCProviderError('invalid_grant', 'the assertion is not a JWT');
  }
  if (header.alg !== 'RS256') throw new errors.CustomOIDCProviderError('invalid_grant', 'the assertion must be signed RS256');
  const signed = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), serviceAccount.key,
    Buffer.from(parts[2], 'base64url'));
  if (!signed || claims.iss !== serviceAccount.email) throw new errors.CustomOIDCProviderError('invalid_grant', 'Invalid JWT Signature.');
  const now = Math.floor(Date.now() / 1000);
  if (claims.aud !== `${ISSUER}/token`) throw new errors.CustomOIDCProviderError('invalid_grant', 'Invalid JWT: aud');
  if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number' || claims.exp <= now
    || claims.exp - claims.iat > 3600 || claims.iat > now + 60) {
    throw new errors.CustomOIDCProviderError('invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
  }
  const sub = typeof claims.sub === 'string' ? claims.sub : '';
  ctx.state.mailbox = sub;
  // The delegation: the Gmail scope, for mailboxes of the test domain.
  if (!String(claims.scope || '').split(' ').includes(GOOGLE_MAIL_SCOPE) || !sub.endsWith('@example.test')) {
    throw new errors.CustomOIDCProviderError('unauthorized_client', NOT_DELEGATED);
  }
  const token = new provider.ClientCredentials({ client: ctx.oidc.client, scope: undefined });
  ctx.oidc.entity('ClientCredentials', token);
  const value = await token.save();
  log(`jwt-bearer sub=${safeWord(sub)} result=issued`);
  ctx.body = { access_token: value, expires_in: token.expiration, token_type: token.tokenType };
}

if (serviceAccount) provider.registerGrantType(JWT_BEARER, jwtBearerHandler, ['assertion', 'scope']);

// Count and log every request to the token-ish endpoints once it is answered.
const TOKEN_PATH = '/token';
const INTROSPECTION_PATH = '/token/introspection';
const REVOCATION_PATH = '/token/revocation';
const DEVICE_AUTH_PATH = '/device/auth';

provider.use(async (ctx, next) => {
  await next();
  if (ctx.method !== 'POST') return;
  const path = ctx.path;
  if (![TOKEN_PATH, INTROSPECTION_PATH, REVOCATION_PATH, DEVICE_AUTH_PATH].includes(path)) return;

  const params = ctx.oidc?.params || {};
  const body = ctx.oidc?.body || {};
  let clientId = ctx.oidc?.client?.clientId || params.client_id || body.client_id;
  if (!clientId) {
    const auth = ctx.get('authorization');
    if (auth && auth.toLowerCase().startsWith('basic ')) {
      const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
      clientId = decoded.split(':', 1)[0] || '';
      try {
        clientId = decodeURIComponent(clientId);
      } catch {
        // logged as sent (safeWord filters it)
      }
    }
  }
  const ok = ctx.status >= 200 && ctx.status < 300;
  const error = ok ? '' : ` error=${safeWord(ctx.body?.error)}`;

  if (path === TOKEN_PATH) {
    const grantType = params.grant_type || body.grant_type;
    countToken(typeof grantType === 'string' ? grantType : '', ok);
    if (grantType === 'refresh_token') {
      const entities = ctx.oidc?.entities || {};
      countAccount(entities.RefreshToken?.accountId || entities.Account?.accountId, ok);
    } else if (grantType === JWT_BEARER) {
      countAccount(ctx.state?.mailbox, ok);
    }
    log(`token grant_type=${safeWord(grantType)} client=${safeWord(clientId)} status=${ctx.status}${error}`);
  } else if (path === INTROSPECTION_PATH) {
    const active = ok && ctx.body && typeof ctx.body === 'object' ? ` active=${ctx.body.active === true}` : '';
    log(`introspection client=${safeWord(clientId)} status=${ctx.status}${active}${error}`);
  } else if (path === REVOCATION_PATH) {
    log(`revocation client=${safeWord(clientId)} status=${ctx.status}${error}`);
  } else {
    log(`device_authorization client=${safeWord(clientId)} status=${ctx.status}${error}`);
  }
});

// ---------------------------------------------------------------- interactions

async function missingConsent(details) {
  const { prompt, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const d = prompt.details || {};
  if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
  if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
  if (d.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  return grant.save();
}

async function handleInteraction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params } = details;
  const client = safeWord(params.client_id);

  if (prompt.name === 'login') {
    const hint = typeof params.login_hint === 'string' && params.login_hint ? params.login_hint : DEFAULT_ACCOUNT;
    if (hint.startsWith('deny')) {
      log(`interaction login client=${client} result=access_denied`);
      await provider.interactionFinished(req, res, {
        error: 'access_denied',
        error_description: 'the test user refused (login_hint deny...)',
      }, { mergeWithLastSubmission: false });
      return;
    }
    log(`interaction login client=${client} account=${safeWord(hint)}`);
    await provider.interactionFinished(req, res, { login: { accountId: hint } }, { mergeWithLastSubmission: false });
    return;
  }

  if (prompt.name === 'consent') {
    const grantId = await missingConsent(details);
    log(`interaction consent client=${client}`);
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }

  log(`interaction ${safeWord(prompt.name)} client=${client} result=unsupported`);
  await provider.interactionFinished(req, res, {
    error: 'access_denied',
    error_description: `prompt ${prompt.name} is not supported by the test server`,
  }, { mergeWithLastSubmission: false });
}

// ---------------------------------------------------------------- test-only endpoints

function readBody(req, limit = 64 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res, status, value) {
  const body = `${JSON.stringify(value)}\n`;
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

async function handleTest(req, res, path) {
  if (path === '/__test/stats' && req.method === 'GET') {
    sendJson(res, 200, { ...stats, tls });
    return;
  }
  if (path === '/__test/mint-grants' && req.method === 'POST') {
    const form = new URLSearchParams(await readBody(req));
    const count = Number.parseInt(form.get('count') || '1', 10);
    const clientId = form.get('client_id') || 'mailclient-public';
    const prefix = form.get('account_prefix') || 'user';
    const client = await provider.Client.find(clientId);
    if (!client || !Number.isInteger(count) || count < 1 || count > 100000 || !/^[A-Za-z0-9_.+-]{1,40}$/.test(prefix)) {
      sendJson(res, 400, { error: 'invalid_request', error_description: 'count 1..100000, a known client_id, a plain account_prefix' });
      return;
    }
    const scope = 'openid email offline_access';
    const tokens = [];
    for (let i = 0; i < count; i += 1) {
      const accountId = `${prefix}${i}@example.test`;
      const grant = new provider.Grant({ accountId, clientId });
      grant.addOIDCScope(scope);
      const grantId = await grant.save();
      const rt = new provider.RefreshToken({
        accountId, client, grantId, scope, gty: 'authorization_code', expiresWithSession: false,
      });
      tokens.push(await rt.save());
    }
    log(`test mint-grants client=${safeWord(clientId)} count=${count}`);
    sendJson(res, 200, { refresh_tokens: tokens });
    return;
  }
  if (path === '/__test/stats-by-account' && req.method === 'GET') {
    sendJson(res, 200, statsByAccount);
    return;
  }
  if (path === '/__test/reset-stats' && req.method === 'POST') {
    stats = {};
    tls = { handshakes: 0, resumed: 0 };
    statsByAccount = {};
    log('test reset-stats');
    sendJson(res, 200, { reset: true });
    return;
  }
  if (path === '/__test/revoke-access-token' && req.method === 'POST') {
    const form = new URLSearchParams(await readBody(req));
    const token = form.get('token');
    if (!token) {
      sendJson(res, 400, { error: 'invalid_request', error_description: 'token is required' });
      return;
    }
    const at = await provider.AccessToken.find(token);
    if (!at) {
      log('test revoke-access-token result=not_found');
      sendJson(res, 404, { revoked: false });
      return;
    }
    await at.destroy();
    log(`test revoke-access-token client=${safeWord(at.clientId)} result=revoked`);
    sendJson(res, 200, { revoked: true });
    return;
  }
  sendJson(res, 404, { error: 'not_found' });
}

// ---------------------------------------------------------------- server

const providerCallback = provider.callback();

// oidc-provider 9 accepts client_secret_basic and client_secret_post
// interchangeably for a client registered with either.  The tests need to
// know which one a client really used, so this server enforces the
// registered method: the secret in the wrong place is invalid_client.
const registeredMethod = new Map(configuration.clients.map((c) => [c.client_id, c.token_endpoint_auth_method]));
const CLIENT_AUTH_PATHS = new Set([TOKEN_PATH, INTROSPECTION_PATH, REVOCATION_PATH, DEVICE_AUTH_PATH]);

function usedSecretMethod(req, form) {
  const auth = req.headers.authorization;
  if (auth && auth.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    let clientId = decoded.split(':', 1)[0] || '';
    try {
      clientId = decodeURIComponent(clientId.replace(/\+/g, ' '));
    } catch {
      // leave it as sent
    }
    return { clientId, method: 'client_secret_basic' };
  }
  if (form.has('client_secret')) return { clientId: form.get('client_id') || '', method: 'client_secret_post' };
  return null;
}

async function enforceAuthMethod(req, res, path) {
  let raw = await readBody(req, 56 * 1024);
  const form = new URLSearchParams(raw);
  // A jwt-bearer request authenticates with its assertion only (Google):
  // oidc-provider wants a client, so it gets the one for that grant.
  if (path === TOKEN_PATH && serviceAccount && form.get('grant_type') === JWT_BEARER
    && !form.has('client_id') && !req.headers.authorization) {
    raw += '&client_id=appsa';
    form.set('client_id', 'appsa');
  }
  // oidc-provider uses an already read body from req.body.
  req.body = Buffer.from(raw, 'utf8');
  const used = usedSecretMethod(req, form);
  if (path === TOKEN_PATH && used?.clientId === 'appnoperm' && form.get('grant_type') === 'client_credentials') {
    countToken('client_credentials', false);
    log('token grant_type=client_credentials client=appnoperm status=400 error=unauthorized_client');
    sendJson(res, 400, {
      error: 'unauthorized_client',
      error_description: 'the application has no permission to get tokens for mail',
    });
    return false;
  }
  if (!used) return true;
  const registered = registeredMethod.get(used.clientId);
  if (!registered || !['client_secret_basic', 'client_secret_post'].includes(registered) || registered === used.method) {
    return true;
  }
  const label = path === TOKEN_PATH ? `token grant_type=${safeWord(form.get('grant_type') || '')}`
    : path === DEVICE_AUTH_PATH ? 'device_authorization' : path.slice(7);
  if (path === TOKEN_PATH) countToken(form.get('grant_type') || '', false);
  log(`${label} client=${safeWord(used.clientId)} status=401 error=invalid_client (used ${used.method}, registered ${registered})`);
  res.setHeader('WWW-Authenticate', 'Basic realm="test-idp"');
  sendJson(res, 401, {
    error: 'invalid_client',
    error_description: `client authentication failed: this client is registered for ${registered}`,
  });
  return false;
}

const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]+)$/;

const server = createServer({
  cert: readFileSync(process.env.IDP_CERT),
  key: readFileSync(process.env.IDP_KEY),
}, (req, res) => {
  const path = (req.url || '/').split('?', 1)[0];
  let handler = null;
  if (req.method === 'GET' && INTERACTION.test(path)) handler = handleInteraction(req, res);
  else if (path.startsWith('/__test/')) handler = handleTest(req, res, path);
  else if (req.method === 'POST' && CLIENT_AUTH_PATHS.has(path)) {
    handler = enforceAuthMethod(req, res, path).then((pass) => {
      if (pass) providerCallback(req, res);
    });
  }

  if (!handler) {
    providerCallback(req, res);
    return;
  }
  handler.catch((err) => {
    log(`error path=${path.startsWith('/interaction/') ? '/interaction/...' : safeWord(path)} ${safeWord(err?.name)}`);
    if (!res.headersSent) {
      sendJson(res, err?.statusCode || 500, { error: err?.error || 'server_error', error_description: err?.error_description || 'test server error' });
    } else {
      res.end();
    }
  });
});

// Every TLS handshake the server completes, and those that resumed a session
// (the count a connection-reusing client keeps small).
server.on('secureConnection', (socket) => {
  tls.handshakes += 1;
  if (socket.isSessionReused()) tls.resumed += 1;
});

server.on('error', (err) => {
  process.stderr.write(`idp: ${err.message}\n`);
  process.exit(1);
});

// All state is in memory and disposable: exit at once.
function shutdown() {
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

server.listen(PORT, HOST, () => {
  log(`listening issuer=${ISSUER} at_ttl=${AT_TTL}`);
});

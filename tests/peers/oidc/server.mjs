// A local OAuth 2.0 / OpenID Connect authorization server for oauthkit's tests: panva's
// oidc-provider (pinned in package.json), configured from ONE JSON file written by
// tests/peers/oidc_provider.py:
//
//   node server.mjs <config.json>
//
// Prints exactly one line on stdout, `READY <issuer>`, once it listens on 127.0.0.1:<port>.
// Everything else (oidc-provider's notices and warnings included) goes to stderr.
//
// Config fields (all written by the Python side):
//   port, issuer                 "http://127.0.0.1:<port>" (or https with `tls`)
//   clients                      oidc-provider client metadata, passed as is
//   jwks                         the provider's private signing JWKS
//   rotateRefreshToken           bool: rotate the refresh token on every use
//   accessTokenFormat            "opaque" | "jwt": format of tokens for the resource server
//   ttl                          {AccessToken: seconds, ...} overrides
//   requirePar                   bool: PAR required for every client
//   pkceRequired                 bool (default true): PKCE for confidential clients too
//                                (public clients always need PKCE)
//   clockTolerance               seconds (default 0; oidc-provider's default is 15) of grace
//                                on exp/iat/nbf of tokens, assertions and DPoP proofs
//   tls                          optional {cert, key, ca}: PEM paths; serve https, ask for a
//                                client certificate and enable tls_client_auth
//   fapi2                        bool: oidc-provider's FAPI 2.0 profile (client assertions
//                                with aud = issuer, PKCE, redirect_uri required), PAR for
//                                every client, certificate-bound tokens (with tls), and
//                                mtls_endpoint_aliases under /mtls/ (RFC 8705 §5)
//
// Test-only additions (NOT part of oidc-provider):
//   GET  /__test/log             JSON [[method, path], ...]: every request received since the
//                                start or the last clear (the /__test/* requests excluded)
//   POST /__test/log/clear       empties that log (204)
//   GET  /__test/ciba            pending CIBA requests (auth_req_id, account, binding_message)
//   POST /__test/ciba/ID/approve the authentication device approves (or /deny refuses) (204)
//   grant urn:ietf:params:oauth:grant-type:token-exchange   (RFC 8693, see tokenExchange)
//   grant urn:ietf:params:oauth:grant-type:jwt-bearer       (RFC 7523, see jwtBearer)
//   an unbounded in-memory adapter (oidc-provider's own one is an LRU of 1000 entries)

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';

// oidc-provider prints its notices with console.info (stdout); stdout is reserved for READY.
for (const name of ['log', 'info', 'debug']) {
  console[name] = (...args) => console.error(...args);
}

const { default: Provider, errors } = await import('oidc-provider');
const { createLocalJWKSet, decodeProtectedHeader, jwtVerify } = await import('jose');

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { issuer } = cfg;
const clockTolerance = cfg.clockTolerance ?? 0;

const API_RESOURCE = 'https://api.example.test/';
const API_SCOPE = 'api:read api:write';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const STATIC_SCOPES = ['openid', 'offline_access', 'profile', 'email', 'api:read', 'api:write'];
const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384',
  'ES512', 'EdDSA', 'Ed25519'];

const DAY = 24 * 60 * 60;
const ttl = {
  AccessToken: 60 * 60,
  AuthorizationCode: 60,
  ClientCredentials: 10 * 60,
  DeviceCode: 10 * 60,
  Grant: 14 * DAY,
  IdToken: 60 * 60,
  Interaction: 60 * 60,
  RefreshToken: 14 * DAY,
  Session: 14 * DAY,
  ...(cfg.ttl ?? {}),
};

// --------------------------------------------------------------------------- storage

// Unbounded in-memory storage: entry key -> {value, expiresAt (ms)}; a grant index for
// revokeByGrantId. Entries are kept GRACE seconds past their TTL (the provider checks `exp`).
const GRACE = 60;
const GRANT_MEMBERS = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest']);
const entries = new Map();
const grantMembers = new Map();
let writes = 0;

function readEntry(key) {
  const entry = entries.get(key);
  if (entry === undefined) return undefined;
  if (entry.expiresAt <= Date.now()) {
    entries.delete(key);
    return undefined;
  }
  return entry.value;
}

function writeEntry(key, value, expiresIn) {
  const expiresAt = typeof expiresIn === 'number' ? Date.now() + (expiresIn + GRACE) * 1000 : Infinity;
  entries.set(key, { value, expiresAt });
  writes += 1;
  if (writes % 1000 === 0) {
    const now = Date.now();
    for (const [k, e] of entries) if (e.expiresAt <= now) entries.delete(k);
  }
}

class TestAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    writeEntry(key, payload, expiresIn);
    if (this.model === 'Session' && payload.uid) writeEntry(`SessionUid:${payload.uid}`, id, expiresIn);
    if (payload.userCode) writeEntry(`UserCode:${payload.userCode}`, id, expiresIn);
    if (payload.grantId && GRANT_MEMBERS.has(this.model)) {
      if (!grantMembers.has(payload.grantId)) grantMembers.set(payload.grantId, new Set());
      grantMembers.get(payload.grantId).add(key);
    }
  }

  async find(id) {
    return readEntry(this.key(id));
  }

  async findByUid(uid) {
    const id = readEntry(`SessionUid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = readEntry(`UserCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const payload = readEntry(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    entries.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of grantMembers.get(grantId) ?? []) entries.delete(key);
    grantMembers.delete(grantId);
  }
}

// --------------------------------------------------------------------------- accounts

// Any login is an account whose `sub` is the login typed (login=alice -> sub "alice").
function accountClaims(sub) {
  const display = sub.charAt(0).toUpperCase() + sub.slice(1);
  return {
    sub,
    name: `${display} Example`,
    given_name: display,
    family_name: 'Example',
    preferred_username: sub,
    email: `${sub}@example.test`,
    email_verified: true,
  };
}

async function findAccount(_ctx, sub) {
  if (!sub) return undefined;
  return {
    accountId: sub,
    async claims() {
      return accountClaims(sub);
    },
  };
}

// --------------------------------------------------------------------------- mTLS

function peerCertificate(ctx) {
  const socket = ctx.req.socket;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const cert = socket.getPeerCertificate(false);
  if (!cert?.raw) return undefined;
  return new X509Certificate(cert.raw);
}

function rdnSet(list) {
  return new Set(list.map((rdn) => {
    const i = rdn.indexOf('=');
    return `${rdn.slice(0, i).trim().toUpperCase()}=${rdn.slice(i + 1).trim()}`;
  }));
}

function certificateSubjectMatches(ctx, property, expected) {
  const cert = peerCertificate(ctx);
  if (!cert) return false;
  if (property === 'tls_client_auth_subject_dn') {
    // RFC 4514 string (no escaped commas supported) against Node's newline-separated subject,
    // compared as sets of attribute=value, so the RDN order does not matter.
    const want = rdnSet(expected.split(','));
    const got = rdnSet(cert.subject.split('\n'));
    return want.size === got.size && [...want].every((rdn) => got.has(rdn));
  }
  const prefix = {
    tls_client_auth_san_dns: 'DNS:',
    tls_client_auth_san_ip: 'IP Address:',
    tls_client_auth_san_uri: 'URI:',
    tls_client_auth_san_email: 'email:',
  }[property];
  const names = (cert.subjectAltName ?? '').split(', ');
  return prefix !== undefined && names.includes(`${prefix}${expected}`);
}

// --------------------------------------------------------------------------- the provider

async function getResourceServerInfo(_ctx, resourceIndicator) {
  if (resourceIndicator === API_RESOURCE) {
    return {
      scope: API_SCOPE,
      accessTokenFormat: cfg.accessTokenFormat ?? 'opaque',
      accessTokenTTL: ttl.AccessToken,
    };
  }
  const scope = (cfg.resources ?? {})[resourceIndicator];
  if (scope !== undefined) {
    return { scope, accessTokenFormat: 'opaque', accessTokenTTL: ttl.AccessToken };
  }
  throw new errors.InvalidTarget(`unknown resource indicator ${resourceIndicator}`);
}

const mtls = cfg.tls ? {
  enabled: true,
  tlsClientAuth: true,
  certificateBoundAccessTokens: cfg.fapi2 === true,
  selfSignedTlsClientAuth: false,
  getCertificate: peerCertificate,
  certificateAuthorized: (ctx) => ctx.req.socket.authorized === true,
  certificateSubjectMatches,
} : { enabled: false };

// RFC 8705 §5 aliases for a FAPI 2.0 server with mTLS: /mtls/<path> is served as <path>.
const MTLS_PREFIX = '/mtls';
const mtlsAliases = cfg.fapi2 === true && cfg.tls ? {
  token_endpoint: `${issuer}${MTLS_PREFIX}/token`,
  pushed_authorization_request_endpoint: `${issuer}${MTLS_PREFIX}/request`,
  userinfo_endpoint: `${issuer}${MTLS_PREFIX}/me`,
  revocation_endpoint: `${issuer}${MTLS_PREFIX}/token/revocation`,
  introspection_endpoint: `${issuer}${MTLS_PREFIX}/token/introspection`,
} : undefined;

const configuration = {
  adapter: TestAdapter,
  ...(mtlsAliases ? { discovery: { mtls_endpoint_aliases: mtlsAliases } } : {}),
  // The provider's own calls (a CIBA ping to the client's notification endpoint) go to
  // 127.0.0.1 here, the only network there is: without its SSRF guard for special-use IPs.
  fetch: (url, options) => {
    const { dispatcher: _guard, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  clockTolerance,
  clients: cfg.clients,
  jwks: cfg.jwks,
  findAccount,
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  // A resource's scopes are scopes of this server too, so that a registration may name them.
  scopes: [...new Set([...STATIC_SCOPES,
    ...Object.values(cfg.resources ?? {}).flatMap((scope) => scope.split(' '))])],
  cookies: { keys: ['oauthkit-test-cookie-key-0001', 'oauthkit-test-cookie-key-0000'] },
  clientAuthMethods: [
    'client_secret_basic',
    'client_secret_post',
    'client_secret_jwt',
    'private_key_jwt',
    'none',
    ...(cfg.tls ? ['tls_client_auth'] : []),
  ],
  clientBasedCORS: () => true,
  expiresWithSession: () => false,
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => cfg.rotateRefreshToken !== false,
  pkce: {
    required: (_ctx, client) => cfg.pkceRequired !== false || client.clientAuthMethod === 'none',
  },
  ttl,
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    clientCredentials: { enabled: true },
    userinfo: { enabled: true },
    dPoP: { enabled: true },
    // JARM: response_mode=jwt, query.jwt, fragment.jwt, form_post.jwt.
    jwtResponseModes: { enabled: true },
    // Responses encrypted to clients that register authorization_encrypted_response_alg or
    // id_token_encrypted_response_alg (with an encryption key in their jwks).
    encryption: { enabled: true },
    // RFC 9101 signed request objects (by value, and inside pushed requests).
    requestObjects: { enabled: true, requireSignedRequestObject: false },
    rpInitiatedLogout: { enabled: true },
    pushedAuthorizationRequests: {
      enabled: true,
      requirePushedAuthorizationRequests: cfg.requirePar === true || cfg.fapi2 === true,
    },
    resourceIndicators: {
      enabled: true,
      getResourceServerInfo,
    },
    mTLS: mtls,
    fapi: { enabled: cfg.fapi2 === true, profile: '2.0' },
    // OpenID Connect CIBA (ciba: true): the login_hint is the account id; the
    // "authentication device" is the test, which approves or denies through /__test/ciba.
    ciba: {
      enabled: cfg.ciba === true,
      deliveryModes: ['poll', 'ping'],
      processLoginHint: async (_ctx, loginHint) => loginHint,
      processLoginHintToken: async (_ctx, token) => token.split('.')[0],
      verifyUserCode: async () => {},
      validateRequestContext: async () => {},
      triggerAuthenticationDevice: async (_ctx, request) => {
        cibaPending.set(request.jti, request);
      },
    },
    // RFC 7591 open registration and RFC 7592 management (registration: true).
    registration: { enabled: cfg.registration === true, initialAccessToken: false },
    registrationManagement: {
      enabled: cfg.registration === true,
      rotateRegistrationAccessToken: false,
    },
  },
};

const provider = new Provider(issuer, configuration);

// --------------------------------------------------------------------------- custom grants

function publicJwks() {
  const privateMembers = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);
  return {
    keys: cfg.jwks.keys.map((jwk) => Object.fromEntries(
      Object.entries(jwk).filter(([name]) => !privateMembers.has(name)),
    )),
  };
}
const ownKeys = createLocalJWKSet(publicJwks());

function splitScope(value) {
  return value ? [...new Set(value.split(' ').filter(Boolean))] : [];
}

function looksLikeJwt(value) {
  try {
    return !!decodeProtectedHeader(value);
  } catch {
    return false;
  }
}

// The subject of a token exchange: an access token this provider issued, opaque (looked up
// in storage) or a JWT access token (verified with the provider's own keys).
async function findSubjectToken(value) {
  const stored = await provider.AccessToken.find(value);
  if (stored) {
    if (!stored.isValid || !stored.accountId) return undefined;
    return { accountId: stored.accountId, scopes: splitScope(stored.scope) };
  }
  if (!looksLikeJwt(value)) return undefined;
  try {
    const { payload } = await jwtVerify(value, ownKeys, {
      issuer,
      typ: 'at+jwt',
      algorithms: ASYMMETRIC_ALGS,
      requiredClaims: ['exp', 'sub'],
      clockTolerance,
    });
    return { accountId: payload.sub, scopes: splitScope(payload.scope) };
  } catch {
    return undefined;
  }
}

// Mint an access token with oidc-provider's own AccessToken class, backed by a fresh Grant of
// the calling client, so that introspection and (with `openid`) userinfo accept it.
async function mintAccessToken(ctx, { accountId, scopes, resource, gty }) {
  const { client } = ctx.oidc;
  const scope = scopes.join(' ');
  const grant = new provider.Grant({ accountId, clientId: client.clientId });
  if (resource) {
    grant.addResourceScope(resource, scope);
  } else {
    grant.addOIDCScope(scope);
  }
  const grantId = await grant.save();
  const token = new provider.AccessToken({
    accountId, client, grantId, gty, scope: scope || undefined,
  });
  if (resource) {
    token.resourceServer = new provider.ResourceServer(
      resource,
      await getResourceServerInfo(ctx, resource),
    );
  }
  ctx.oidc.entity('AccessToken', token);
  const value = await token.save();
  return { token, value };
}

// `resource` (RFC 8707) or `audience` (RFC 8693): only the API resource is known.
function targetOf(params) {
  if (params.resource !== undefined && params.audience !== undefined) {
    throw new errors.InvalidRequest('use either resource or audience, not both');
  }
  const target = params.resource ?? params.audience;
  if (target !== undefined && target !== API_RESOURCE) {
    throw new errors.InvalidTarget(`unknown resource or audience ${target}`);
  }
  return target;
}

function checkScopes(requested, allowed, client) {
  const clientScopes = client.scope ? new Set(client.scope.split(' ')) : undefined;
  for (const scope of requested) {
    if (!allowed.has(scope) || (clientScopes && !clientScopes.has(scope))) {
      throw new errors.InvalidScope('requested scope is not allowed', scope);
    }
  }
}

// RFC 8693 token exchange. subject_token: an access token of this provider (any client's),
// subject_token_type urn:ietf:params:oauth:token-type:access_token. Optional: scope (a subset
// of the subject token's scope; without resource/audience), resource or audience (only
// https://api.example.test/; scope then within "api:read api:write"), requested_token_type
// (only ...:access_token). Errors per RFC 8693 §2.2.2: a missing, unknown, expired or
// unsupported subject_token is invalid_request; actor_token is refused (invalid_request).
async function tokenExchange(ctx) {
  const { params, client } = ctx.oidc;
  for (const name of ['subject_token', 'subject_token_type']) {
    if (!params[name]) throw new errors.InvalidRequest(`missing required parameter '${name}'`);
  }
  if (params.subject_token_type !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest('unsupported subject_token_type');
  }
  if (params.requested_token_type !== undefined && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest('unsupported requested_token_type');
  }
  if (params.actor_token !== undefined || params.actor_token_type !== undefined) {
    throw new errors.InvalidRequest('actor_token is not supported');
  }
  const subject = await findSubjectToken(params.subject_token);
  if (!subject) {
    throw new errors.InvalidRequest('subject_token is invalid, expired or was not issued by this server');
  }
  const resource = targetOf(params);
  const allowed = new Set(resource ? API_SCOPE.split(' ') : subject.scopes);
  const scopes = params.scope !== undefined
    ? splitScope(params.scope)
    : subject.scopes.filter((scope) => allowed.has(scope));
  checkScopes(scopes, allowed, client);
  const { token, value } = await mintAccessToken(ctx, {
    accountId: subject.accountId, scopes, resource, gty: 'token_exchange',
  });
  ctx.body = {
    access_token: value,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: token.tokenType,
    expires_in: token.expiration,
    scope: token.scope || undefined,
  };
}

// RFC 7523 §2.1 JWT bearer grant. The assertion must be signed (asymmetric algorithm) by a
// key in the client's registered `jwks`; iss = the client_id; sub = the account the token is
// for (any non-empty string, e.g. "alice" or the client_id itself); aud = the issuer or the
// token endpoint URL; exp required (clockTolerance applies); a jti may be used only once.
// Every assertion failure is invalid_grant (RFC 7523 §3.1). Answers an access token (no
// refresh token); scope from the `scope` parameter (static scopes allowed to the client), or
// resource=https://api.example.test/ with scope within "api:read api:write".
const seenJti = new Map();
async function jwtBearer(ctx) {
  const { params, client } = ctx.oidc;
  if (!params.assertion) throw new errors.InvalidRequest("missing required parameter 'assertion'");
  if (!client.jwks?.keys?.length) {
    throw new errors.InvalidGrant('the client has no registered jwks to verify the assertion');
  }
  let payload;
  try {
    ({ payload } = await jwtVerify(params.assertion, createLocalJWKSet(client.jwks), {
      issuer: client.clientId,
      audience: [issuer, ctx.oidc.urlFor('token')],
      algorithms: ASYMMETRIC_ALGS,
      requiredClaims: ['exp', 'sub'],
      clockTolerance,
    }));
  } catch (err) {
    throw new errors.InvalidGrant(`invalid assertion: ${err.message}`);
  }
  if (payload.jti !== undefined) {
    const now = Date.now() / 1000;
    for (const [jti, exp] of seenJti) if (exp + clockTolerance < now) seenJti.delete(jti);
    const key = `${client.clientId} ${payload.jti}`;
    if (seenJti.has(key)) throw new errors.InvalidGrant('assertion replayed (jti already used)');
    seenJti.set(key, payload.exp);
  }
  const resource = targetOf(params);
  const allowed = new Set(resource ? API_SCOPE.split(' ') : STATIC_SCOPES);
  allowed.delete('offline_access');
  const scopes = splitScope(params.scope);
  checkScopes(scopes, allowed, client);
  const { token, value } = await mintAccessToken(ctx, {
    accountId: payload.sub, scopes, resource, gty: 'jwt_bearer',
  });
  ctx.body = {
    access_token: value,
    token_type: token.tokenType,
    expires_in: token.expiration,
    scope: token.scope || undefined,
  };
}

provider.registerGrantType(TOKEN_EXCHANGE, tokenExchange, [
  'subject_token', 'subject_token_type', 'requested_token_type', 'actor_token',
  'actor_token_type', 'scope', 'resource', 'audience',
]);
provider.registerGrantType(JWT_BEARER, jwtBearer, ['assertion', 'scope', 'resource']);

// --------------------------------------------------------------------------- test routes

const requestLog = [];
const cibaPending = new Map();
provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/ciba' && ctx.method === 'GET') {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = [...cibaPending.values()].map((r) => ({
      auth_req_id: r.jti,
      account: r.accountId,
      binding_message: r.params.binding_message ?? null,
      scope: r.scope,
      client_id: r.clientId,
    }));
    return;
  }
  const decided = ctx.path.match(/^\/__test\/ciba\/([^/]+)\/(approve|deny)$/);
  if (decided && ctx.method === 'POST') {
    const request = cibaPending.get(decided[1]);
    if (!request) {
      ctx.status = 404;
      return;
    }
    cibaPending.delete(decided[1]);
    if (decided[2] === 'deny') {
      await provider.backchannelResult(request, new errors.AccessDenied('the user said no'));
    } else {
      const grant = new provider.Grant({ clientId: request.clientId, accountId: request.accountId });
      grant.addOIDCScope(request.scope);
      await grant.save();
      await provider.backchannelResult(request, grant);
    }
    ctx.status = 204;
    return;
  }
  if (ctx.path === '/__test/log' && ctx.method === 'GET') {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = requestLog;
    return;
  }
  if (ctx.path === '/__test/log/clear' && ctx.method === 'POST') {
    requestLog.length = 0;
    ctx.status = 204;
    return;
  }
  requestLog.push([ctx.method, ctx.path]);
  if (mtlsAliases && ctx.path.startsWith(`${MTLS_PREFIX}/`)) {
    ctx.path = ctx.path.slice(MTLS_PREFIX.length);
  }
  await next();
});

// --------------------------------------------------------------------------- start

// Static clients are validated lazily by oidc-provider; validate them all now so that a bad
// registration fails the start with its reason instead of the first request.
for (const metadata of cfg.clients) {
  try {
    await provider.Client.find(metadata.client_id);
  } catch (err) {
    console.error(`invalid client ${metadata.client_id}: ${err.error_description ?? err.message}`);
    process.exit(2);
  }
}

const server = cfg.tls
  ? https.createServer({
    cert: readFileSync(cfg.tls.cert),
    key: readFileSync(cfg.tls.key),
    ca: readFileSync(cfg.tls.ca),
    requestCert: true,
    rejectUnauthorized: false,
  }, provider.callback())
  : http.createServer(provider.callback());

server.on('error', (err) => {
  console.error(`server error: ${err.code ?? ''} ${err.message}`);
  process.exit(3);
});

server.listen(cfg.port, '127.0.0.1', () => {
  process.stdout.write(`READY ${issuer}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}

// The Python side holds our stdin open and never writes to it: when it goes away (even
// killed), stdin ends and this server exits instead of lingering as an orphan.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

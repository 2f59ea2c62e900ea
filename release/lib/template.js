// The configuration `edge-attest init` writes, in TOML or JSONC: one description of the file
// (its keys, values and comments) rendered in either format, so the two cannot drift. The
// repository's own wrangler.toml is this template for a build from source
// (tests/release/package.test.mjs compares them), and `edge-attest check` refuses the
// placeholders it leaves (PLACEHOLDERS).

/** The worker's own paths (src/app/routes.rs; `check` reads them from the build itself). */
export const WORKER_PATHS = ['/api/exchange', '/api/session', '/api/logout', '/healthz'];

/** The host the template routes when `init` is given none. */
export const EXAMPLE_HOST = 'app.example.com';

/**
 * What the template leaves for the user to fill in, and what to put there: `check` fails
 * naming each one still in a file (a string that contains `text`).
 */
export const PLACEHOLDERS = [
  { text: 'your-project-ref', what: "your Supabase project's URL, https://<ref>.supabase.co" },
  { text: 'project-test-00000000-0000-0000-0000-000000000000', what: "your Stytch project's id (the dashboard's API keys page)" },
  { text: 'trusted-auth-token-profile-test-00000000-0000-0000-0000-000000000000', what: "your Trusted Auth Token profile's id" },
  { text: 'example.com', what: "your app's own host name, whose zone is on Cloudflare" },
  // The commented-out examples, once uncommented.
  { text: 'your-tenant', what: "your identity provider's own issuer" },
  { text: '<Auth0 client id>', what: "your Auth0 application's client id" },
  { text: '-...', what: "your Trusted Auth Token profile's id for that provider" },
];

const SUPABASE_URL = 'https://your-project-ref.supabase.co';
const PROJECT_ID = 'project-test-00000000-0000-0000-0000-000000000000';
const PROFILE_ID = 'trusted-auth-token-profile-test-00000000-0000-0000-0000-000000000000';

// A document is a list of nodes:
//   { comment: [lines] }                       comment lines, then a blank line
//   { key, value, comment?: [lines] }          a key and its value
//   { key, off: value, note? }                 a key written commented out (an optional setting)
//   { table: key, comment?, nodes }            a table ([vars], [env.staging])
//   { tables: key, comment?, list: [nodes] }   an array of tables ([[ratelimits]])

const routesOf = (host) => WORKER_PATHS.map((p) => `${host}${p}`);

/**
 * The document for `options`:
 *   main            the worker's entry module, relative to the file
 *   build           true for the repository's own file (a [build] step compiles the worker)
 *   name            the worker's name
 *   host            the app's host name the worker's routes are on
 *   values          { SUPABASE_URL, STYTCH_PROJECT_ID, STYTCH_PROFILE_ID } given to init
 *   environments    names of extra environments ([] for one worker)
 *   rateLimitIds()  a fresh namespace_id for a rate-limit binding
 *   version         the package version, for the header
 */
export function document({ main, build = false, name = 'edge-attest', host = EXAMPLE_HOST, values = {}, environments = [], rateLimitIds, version }) {
  const vars = {
    SUPABASE_URL: values.SUPABASE_URL ?? SUPABASE_URL,
    STYTCH_PROJECT_ID: values.STYTCH_PROJECT_ID ?? PROJECT_ID,
    STYTCH_PROFILE_ID: values.STYTCH_PROFILE_ID ?? PROFILE_ID,
  };
  const doc = [
    {
      comment: build
        ? [
            'edge-attest, built from this repository: fill in the values below, then',
            '`npx edge-attest check` (release/bin/edge-attest.js) and `npx wrangler deploy`.',
            'The npm package writes the same file with `npx edge-attest init` (docs/release.md).',
          ]
        : [
            `edge-attest ${version}: written by \`npx edge-attest init\`. Fill in what is left, then`,
            '`npx edge-attest check` and `npx wrangler deploy`. The docs/ pages named below are the',
            "repository's (package.json's homepage): docs/configuration.md has every setting.",
          ],
    },
    { key: 'name', value: name },
    { key: 'main', value: main },
    { key: 'compatibility_date', value: '2026-11-01' },
  ];
  if (build) {
    doc.push({
      table: 'build',
      comment: ['scripts/build.sh installs the pinned tools if missing, then builds with cargo and wasm-bindgen.'],
      nodes: [{ key: 'command', value: 'bash scripts/build.sh' }],
    });
  }
  doc.push(...serving(host), ...sections(vars, rateLimitIds, true));
  if (environments.length > 0) doc.push({ table: 'env', nodes: [] });
  for (const env of environments) {
    doc.at(-1).nodes.push({
      table: env,
      comment: [
        `\`npx wrangler deploy --env ${env}\` deploys the worker "${name}-${env}". Variables,`,
        'the KV namespace, rate limits and routes are not inherited from the top level: each',
        `environment names its own. Secrets too: \`npx wrangler secret put STYTCH_SECRET --env ${env}\`.`,
      ],
      nodes: [{ key: 'name', value: `${name}-${env}` }, ...serving(`${env}.example.com`).filter((n) => n.key === 'routes').map((n) => ({ ...n, comment: undefined })), ...sections(vars, rateLimitIds, false)],
    });
  }
  return doc;
}

/** Where the worker is served: its own routes on the app's host, and nothing else. */
function serving(host) {
  return [
    {
      key: 'workers_dev',
      value: false,
      comment: [
        'Served only on the app\'s own site (first-party cookies, no CORS): not on workers.dev, and',
        'no preview URLs (docs/security.md).',
      ],
    },
    { key: 'preview_urls', value: false },
    {
      key: 'routes',
      value: routesOf(host),
      comment: [
        "The worker's own paths on your app's host, exactly: the app's other paths (its own /api/",
        'routes too) never reach the worker. With PROTECT (the auth gateway) the worker is in front',
        `of the whole site instead: routes = ["${host}/*"] (docs/operations.md#routes).`,
      ],
    },
  ];
}

/** The variables and bindings, at the top level (`top`) or in an environment. */
function sections(vars, rateLimitIds, top) {
  const varNodes = [
    { key: 'SUPABASE_URL', value: vars.SUPABASE_URL },
    { key: 'STYTCH_PROJECT_ID', value: vars.STYTCH_PROJECT_ID },
    { key: 'STYTCH_PROFILE_ID', value: vars.STYTCH_PROFILE_ID },
    { key: 'ALLOWED_ORIGINS', value: '', comment: ['Exact origins besides the worker\'s own, comma-separated; empty means same origin only.'] },
  ];
  if (top) varNodes.push(...OPTIONAL_VARS);
  const out = [
    {
      table: 'vars',
      comment: top
        ? [
            'The variables every deployment sets. The others have defaults and are listed commented out',
            'below with them; uncomment one to change it. docs/configuration.md has them all.',
          ]
        : undefined,
      nodes: varNodes,
    },
    {
      tables: 'kv_namespaces',
      comment: top ? ['The key cache. No id: `wrangler deploy` creates the namespace and binds it.'] : undefined,
      list: [[{ key: 'binding', value: 'JWKS_CACHE' }]],
    },
  ];
  if (top) {
    out.push({
      table: 'triggers',
      comment: [
        'Renew every key set in KV before it expires (src/app/prewarm.rs), so no user waits for one',
        'to come over the network. A run happens in one Cloudflare location: it warms KV, which every',
        'location reads, not the memory of isolates elsewhere. Every five minutes matches the',
        'renewal window; `crons = []` removes the schedule. Inherited by environments.',
      ],
      nodes: [{ key: 'crons', value: ['*/5 * * * *'] }],
    });
  }
  out.push({
    tables: 'ratelimits',
    comment: top
      ? [
          'Rate limits in front of Stytch (docs/operations.md). Without these bindings there is no',
          'limit. Counters are per Cloudflare location; period is 10 or 60 seconds; namespace_id is',
          'any positive integer unique in your account (bindings sharing one share counters).',
          'IP_RATE_LIMITER: per client address (IPv6 by /64), on every route that can reach Stytch,',
          'before the body is read; generous, as offices and mobile carriers put many users behind one',
          'address. USER_RATE_LIMITER: per verified user (issuer + subject), on the exchange\'s calls',
          'to Stytch; repeat exchanges answered at the edge do not count.',
        ]
      : undefined,
    list: [
      [
        { key: 'name', value: 'IP_RATE_LIMITER' },
        { key: 'namespace_id', value: rateLimitIds() },
        { key: 'simple', value: { limit: 100, period: 60 } },
      ],
      [
        { key: 'name', value: 'USER_RATE_LIMITER' },
        { key: 'namespace_id', value: rateLimitIds() },
        { key: 'simple', value: { limit: 10, period: 60 } },
      ],
    ],
  });
  if (top) {
    out.push({
      table: 'observability',
      comment: [
        'The JSON log lines (one per request, one per cron run) go to Workers Logs. What it costs',
        '(docs/scale.md "Workers Logs"): each request writes two events, Cloudflare\'s invocation log',
        'and the worker\'s own line; Workers Paid includes 20 M events a month, then $0.60 per',
        'million (Cloudflare Observability\'s per-GB pricing from 1 December 2026): at 1 M monthly',
        'users, about $30-$175 a month, more than every other Cloudflare line together. The knobs:',
        '- head_sampling_rate = 0.1 keeps one request in ten, all its lines or none; the decision',
        '  is made before the request runs, so a rare failure is kept with the same chance (count',
        '  with it, debug with the rest).',
        '- [observability.logs] invocation_logs = false drops Cloudflare\'s own record of each',
        '  invocation (its outcome, CPU and wall time, request metadata) and keeps the worker\'s line,',
        '  which already names the route, status, outcome and durations: half the events.',
        '- Workers Logpush sends them to your own store instead ($0.05 per million beyond 10 M).',
      ],
      nodes: [
        { key: 'enabled', value: true },
        { key: 'head_sampling_rate', value: 1 },
      ],
    });
  }
  return out;
}

const OPTIONAL_VARS = [
  {
    comment: [
      'STYTCH_SECRET is a secret: `npx wrangler secret put STYTCH_SECRET` (locally: .dev.vars).',
      'KEY_CACHE_SECRET, optional and a secret too: what the key cache\'s KV entries are tagged',
      'with (32+ random characters); without it, a key derived from STYTCH_SECRET.',
      '',
      'Identity providers other than (or besides) one Supabase project: PROVIDERS, a JSON array',
      'that is then the complete list (SUPABASE_URL, JWT_ISSUER, JWKS_URL, JWT_AUDIENCE,',
      'JWT_ALGORITHMS, REQUIRED_ROLE, ALLOW_ANONYMOUS, REQUIRED_AAL, MFA_ENROLLED_CLAIM,',
      'STYTCH_ORGANIZATION_ID, STYTCH_ORGANIZATION_ID_CLAIM and STYTCH_PROFILE_ID are then',
      'ignored: `edge-attest check` warns about each one set). docs/providers.md has the fields',
      'and worked examples, e.g.:',
    ],
  },
  {
    key: 'PROVIDERS',
    off: [
      { name: 'supabase', preset: 'supabase', project_url: 'https://your-project-ref.supabase.co', stytch_profile_id: 'trusted-auth-token-profile-test-...' },
      { name: 'auth0', issuer: 'https://your-tenant.us.auth0.com/', audiences: ['<Auth0 client id>'], stytch_profile_id: 'trusted-auth-token-profile-test-...' },
    ],
  },
  { comment: ['', 'Defaults (an empty value means the default too):'] },
  { key: 'JWT_ISSUER', off: '', note: 'SUPABASE_URL + /auth/v1' },
  { key: 'JWKS_URL', off: '', note: 'SUPABASE_URL + /auth/v1/.well-known/jwks.json' },
  { key: 'JWT_AUDIENCE', off: 'authenticated' },
  { key: 'JWT_ALGORITHMS', off: 'ES256,RS256' },
  { key: 'CLOCK_SKEW_SECONDS', off: '30' },
  { key: 'REQUIRED_ROLE', off: 'authenticated' },
  { key: 'ALLOW_ANONYMOUS', off: 'false' },
  {
    comment: [
      'The lowest assurance level accepted (aal1 or aal2), and for optional MFA the claim a',
      'Custom Access Token hook adds for users with a second factor, who then need aal2',
      '(docs/security.md has the hook).',
    ],
  },
  { key: 'REQUIRED_AAL', off: 'aal1' },
  { key: 'MFA_ENROLLED_CLAIM', off: '', note: 'e.g. mfa_enrolled' },
  { key: 'STYTCH_API_BASE', off: '', note: 'https://api.stytch.com for project-live-… ids, else https://test.stytch.com' },
  { key: 'SESSION_DURATION_MINUTES', off: '60' },
  {
    comment: [
      'The session cookies. HttpOnly by default: Stytch\'s frontend SDK cannot read them then',
      '(README.md, "Using Stytch\'s frontend SDK alongside").',
    ],
  },
  { key: 'COOKIE_DOMAIN', off: '', note: 'host-only cookies (no Domain attribute)' },
  { key: 'COOKIE_HTTP_ONLY', off: 'true' },
  { key: 'COOKIE_SAMESITE', off: 'Lax' },
  { key: 'COOKIE_NAME_SESSION', off: 'stytch_session' },
  { key: 'COOKIE_NAME_JWT', off: 'stytch_session_jwt' },
  {
    comment: [
      'Answer repeat exchanges from the Stytch session the browser already holds',
      '(docs/sessions.md); a session JWT is reused only with at least SESSION_REUSE_MIN_SECONDS left.',
    ],
  },
  { key: 'SESSION_REUSE', off: 'true' },
  { key: 'SESSION_REUSE_MIN_SECONDS', off: '60' },
  {
    comment: [
      'Stytch custom domains the browser SDK refreshes sessions through, comma-separated exact',
      'issuers like https://login.example.com (stytch.com/<project> and STYTCH_API_BASE always).',
    ],
  },
  { key: 'STYTCH_SESSION_ISSUERS', off: '' },
  {
    comment: [
      'A Stytch B2B project (docs/b2b.md): members in organizations instead of users. The',
      'organization comes from one id or slug, or from the token\'s claim at a dot path, or, with',
      'neither, from the profile\'s own mapping of the token\'s claim.',
    ],
  },
  { key: 'STYTCH_PRODUCT', off: 'consumer', note: 'or "b2b"' },
  { key: 'STYTCH_ORGANIZATION_ID', off: '', note: 'e.g. organization-test-… or the organization\'s slug' },
  { key: 'STYTCH_ORGANIZATION_ID_CLAIM', off: '', note: 'e.g. app_metadata.org_id' },
  {
    comment: [
      '',
      'The auth gateway (docs/gateway.md): the app\'s own paths, forwarded only with a session the',
      'cookies prove that meets the rule, with who it is in Edge-Attest-* headers. The routes',
      'above must then cover them (`edge-attest check` says which do not): routes = ["<host>/*"].',
      'The login page and the scripts and styles it loads are public (/_next/* is Next.js\'s;',
      'use your framework\'s asset path; cache = "shared" serves the immutable ones from each',
      'location\'s cache). A rule may also say methods, preflight, bearer, require_aal,',
      'require_link, roles and (B2B) organizations (docs/gateway.md#rules).',
    ],
  },
  {
    key: 'PROTECT',
    off: [
      { path: '/login', upstream: 'origin', require_session: false },
      { path: '/_next/static/*', upstream: 'origin', require_session: false, cache: 'shared' },
      { path: '/_next/*', upstream: 'origin', require_session: false },
      { path: '/admin/*', upstream: 'origin', roles: ['admin'], require_aal: 'aal2' },
      { path: '/*', upstream: 'origin', on_unauthenticated: 'redirect', login_url: '/login' },
    ],
  },
  {
    comment: [
      '',
      'The share of the gateway\'s successful requests whose log line is written (refusals, errors',
      'and refreshes always are): 0.01 writes one success line in a hundred, each marked with the',
      'rate. A gateway logs every page, asset and API call; see docs/scale.md#the-gateway.',
    ],
  },
  { key: 'GATEWAY_LOG_SAMPLE_RATE', off: '1' },
];

// Rendering. Only what the document above uses: strings, numbers, booleans, arrays and
// plain objects of those.

/** The document as TOML, `#` comments. */
export function toToml(doc) {
  const out = [];
  const comment = (lines, indent = '') => lines?.forEach((l) => out.push(l === '' ? `${indent}#` : `${indent}# ${l}`));
  const value = (v) => {
    if (Array.isArray(v)) {
      const inner = v.map(value);
      return inner.join(', ').length > 80 ? `[\n${inner.map((i) => `  ${i},`).join('\n')}\n]` : `[${inner.join(', ')}]`;
    }
    if (typeof v === 'object') return `{ ${Object.entries(v).map(([k, x]) => `${k} = ${value(x)}`).join(', ')} }`;
    return typeof v === 'string' ? JSON.stringify(v) : String(v);
  };
  const nodes = (list, path) => {
    for (const n of list.filter((n) => n.table === undefined && n.tables === undefined)) {
      if (n.key === undefined) {
        comment(n.comment);
      } else if ('off' in n) {
        const lines = value(n.off).split('\n');
        const note = n.note ? ` # ${n.note}` : '';
        out.push(`# ${n.key} = ${lines[0]}${lines.length === 1 ? note : ''}`, ...lines.slice(1).map((l) => `# ${l}`));
      } else {
        comment(n.comment);
        out.push(`${n.key} = ${value(n.value)}`);
      }
    }
    for (const n of list.filter((n) => n.table !== undefined || n.tables !== undefined)) {
      const name = path ? `${path}.${n.table ?? n.tables}` : n.table ?? n.tables;
      out.push('');
      comment(n.comment);
      if (n.table !== undefined) {
        // A table of tables alone ([env]) needs no header of its own.
        if (n.nodes.some((c) => c.table === undefined && c.tables === undefined)) out.push(`[${name}]`);
        else out.pop();
        nodes(n.nodes, name);
      } else {
        n.list.forEach((entry, i) => {
          if (i > 0) out.push('');
          out.push(`[[${name}]]`);
          nodes(entry, name);
        });
      }
    }
  };
  nodes(doc, '');
  return out.join('\n') + '\n';
}

/** The document as JSONC (`wrangler.jsonc`), `//` comments, with wrangler's schema. */
export function toJsonc(doc) {
  const out = ['{', '  "$schema": "node_modules/wrangler/config-schema.json",'];
  const value = (v, indent) => {
    if (Array.isArray(v)) {
      const inner = v.map((x) => value(x, indent + '  '));
      return inner.join(', ').length > 80 ? `[\n${inner.map((i) => `${indent}  ${i},`).join('\n')}\n${indent}]` : `[${inner.join(', ')}]`;
    }
    if (typeof v === 'object') return `{ ${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${value(x, indent)}`).join(', ')} }`;
    return JSON.stringify(v);
  };
  const nodes = (list, indent) => {
    for (const n of list) {
      const comment = n.comment?.map((l) => (l === '' ? `${indent}//` : `${indent}// ${l}`)) ?? [];
      if (n.key === undefined && n.table === undefined && n.tables === undefined) {
        out.push(...comment);
      } else if ('off' in n) {
        const lines = value(n.off, indent).split('\n');
        const note = n.note ? ` // ${n.note}` : '';
        out.push(`${indent}// ${JSON.stringify(n.key)}: ${lines[0]}${lines.length === 1 ? `,${note}` : ''}`, ...lines.slice(1).map((l, i, all) => `${indent}// ${l.slice(indent.length)}${i === all.length - 1 ? ',' : ''}`));
      } else if (n.table !== undefined || n.tables !== undefined) {
        const first = n.table ?? n.tables;
        if (!out.at(-1).endsWith('{')) out.push('');
        out.push(...comment);
        if (n.table !== undefined) {
          out.push(`${indent}${JSON.stringify(first)}: {`);
          nodes(n.nodes, indent + '  ');
          out.push(`${indent}},`);
        } else {
          out.push(`${indent}${JSON.stringify(first)}: [`);
          for (const entry of n.list) {
            out.push(`${indent}  {`);
            nodes(entry, indent + '    ');
            out.push(`${indent}  },`);
          }
          out.push(`${indent}],`);
        }
      } else {
        out.push(...comment, `${indent}${JSON.stringify(n.key)}: ${value(n.value, indent)},`);
      }
    }
  };
  nodes(doc, '  ');
  out.push('}');
  return out.join('\n') + '\n';
}

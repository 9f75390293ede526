// fetch wrapper for the JSON API. Keeps the CSRF token in memory (never in
// storage) and sends it with every mutating request.

let csrfToken = null;
let unauthorizedHandler = null;

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
// Calls whose 401 is an answer for the caller, not a reason to leave the page.
const AUTH_PATHS = ['/api/v1/auth/', '/api/v1/me', '/api/v1/setup'];

export function setCsrfToken(token) {
  csrfToken = token || null;
}

/** Called with the ApiError when a non-auth call answers 401. */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

export class ApiError extends Error {
  constructor({ status, code, message = '', field = null, details = null, retryAfter = null }) {
    super(message || code);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    // Machine-readable facts of a refusal (e.g. { rule } for claim_refused): read these,
    // never the message.
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

// Retry-After is either delta-seconds or an HTTP date.
function parseRetryAfter(value) {
  if (value == null || value.trim() === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/**
 * api('GET', '/api/v1/me') → parsed JSON body (null for 204).
 * Throws ApiError { status, code, message, field, retryAfter };
 * status 0 / code "network" when the server could not be reached.
 * `signal` (an AbortSignal) cancels the request: a search the user has typed past leaves the
 * server's queue of searches instead of running (status 0 / code "aborted").
 */
export async function api(method, path, body, signal) {
  const verb = method.toUpperCase();
  const headers = { Accept: 'application/json' };
  const init = { method: verb, headers, credentials: 'same-origin', cache: 'no-store', signal };
  if (body instanceof FormData) {
    // A file upload: the browser sets the multipart content type with its boundary.
    init.body = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (MUTATING.has(verb) && csrfToken) headers['X-CSRF-Token'] = csrfToken;

  let response;
  // Reaching the server and reading its answer fail the same way: aborted by the caller, or
  // the network.
  const unreached = (cause) => new ApiError({
    status: 0,
    code: cause?.name === 'AbortError' ? 'aborted' : 'network',
    message: String(cause?.message ?? cause),
  });
  try {
    response = await fetch(path, init);
  } catch (cause) {
    throw unreached(cause);
  }

  let data = null;
  let text = '';
  try {
    text = response.status === 204 ? '' : await response.text();
  } catch (cause) {
    throw unreached(cause);
  }
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError({ status: response.status, code: 'bad_response', message: 'response is not JSON' });
    }
  }
  if (response.ok) return data;

  const e = (data && data.error) || {};
  const error = new ApiError({
    status: response.status,
    code: e.code || `http_${response.status}`,
    message: e.message || response.statusText,
    field: e.field ?? null,
    details: e.details ?? null,
    retryAfter: parseRetryAfter(response.headers.get('Retry-After')),
  });
  if (response.status === 401 && unauthorizedHandler && !AUTH_PATHS.some((p) => path.startsWith(p))) {
    unauthorizedHandler(error);
  }
  throw error;
}

/** The CSRF token for requests made without `api` (an XMLHttpRequest upload with progress). */
export function csrfHeader() {
  return csrfToken;
}

/**
 * Like api(), for a file download: → Blob on success; throws the same ApiError otherwise.
 */
export async function apiBlob(method, path, body) {
  const verb = method.toUpperCase();
  const headers = { Accept: '*/*' };
  const init = { method: verb, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (MUTATING.has(verb) && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let response;
  try {
    response = await fetch(path, init);
  } catch (cause) {
    throw new ApiError({ status: 0, code: 'network', message: String(cause?.message ?? cause) });
  }
  if (response.ok) return response.blob();
  let e = {};
  try {
    e = (await response.json()).error || {};
  } catch { /* not JSON: the status says enough */ }
  throw new ApiError({
    status: response.status,
    code: e.code || `http_${response.status}`,
    message: e.message || response.statusText,
    field: e.field ?? null,
    retryAfter: parseRetryAfter(response.headers.get('Retry-After')),
  });
}

/** Hands `blob` to the browser as a download named `name` (an export, a report file). */
export function saveBlob(name, blob) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

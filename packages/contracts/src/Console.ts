/**
 * The headers the web console is served with, wherever it is served (the dev edge, the console's
 * nginx image): a strict Content-Security-Policy, so that an injected script or style cannot run
 * and the console's tokens cannot be sent anywhere but its own origin. The console is a Vite
 * build: its scripts and styles are files of its own, its API calls go to the origin it came from,
 * its icon is a `data:` URL.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ")

export const headers: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
}

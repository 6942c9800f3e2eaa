/**
 * The dashboard's password hashes and API tokens, for the front ends that make
 * them: `palisade passwd` (src/cli) and the demo's admin login (src/lab). They reach
 * the web layer through app, not web's insides (DESIGN).
 */
export { hashPassword, newToken } from '../web/auth.ts';

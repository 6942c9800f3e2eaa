/**
 * Helpers for the config tests. Test-only; nothing in the module imports this file.
 */
import assert from 'node:assert/strict';
import { ConfigError, formatProblem, type ConfigProblem } from '../core/errors.ts';
import { parseClusterText } from './load.ts';

/** The problems of a cluster file that must be refused (fails the test if it is accepted). */
export function refusedProblems(text: string, env: Record<string, string> = {}): ConfigProblem[] {
  try {
    parseClusterText(text, 'c.yaml', { env });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return [...err.problems];
  }
  assert.fail('expected the file to be refused');
}

/** The same, each as the user reads it: `c.yaml:LINE:COL: path: message`. */
export function problems(text: string, env: Record<string, string> = {}): string[] {
  return refusedProblems(text, env).map(formatProblem);
}

/**
 * The check result contract lives in core (the store and the web layer read it too,
 * and modules may share only core and config); re-exported here for the monitor's own files.
 */
export * from '../core/check-result.ts';

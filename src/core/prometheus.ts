/**
 * The Prometheus text exposition (format 0.0.4) as a contract: the store writes it
 * (src/store/prometheus.ts), the dashboard serves it on `/metrics`.
 */

/** The content type to answer `/metrics` with. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

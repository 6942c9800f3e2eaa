/**
 * Health checking: active checks (http, https, tcp, exec, agent) with rise/fall,
 * operator drain/maint, passive outlier detection, slow start, quorum and panic.
 * The app creates one HealthMonitor, feeds it `serviceHealthSpec(...)` on start and
 * reload, and applies its pushed events to the schedulers. See docs/health.md.
 */
export type { AdminState, BackendState, Check, CheckResult, CheckStatus, CheckTarget, DynamicWeight, FlipEvent, FlipSource, PanicEvent, QuorumEvent, WeightEvent } from './types.ts';
export { describeResult } from './types.ts';
export { HealthMonitor, type BackendSnapshot, type HealthListener, type HealthMonitorOptions, type HealthSnapshot, type ServiceSnapshot, type UpdateResult } from './monitor.ts';
export { checkIdentity, checkTargetOf, resolveBackendCheck, serviceHealthSpec, type BackendLike, type HealthTarget, type ServiceHealthSpec, type ServiceLike } from './targets.ts';
export { createCheck } from './checks.ts';
export { createHttpCheck, statusMatches } from './http.ts';
export { createTcpCheck } from './tcp.ts';
export { createExecCheck } from './exec.ts';
export { agentResult, createAgentCheck, parseAgentReply, type AgentReply } from './agent.ts';
export { effectiveState, initialTracker, nextInterval, trackAdmin, trackEjection, trackResult, type Flip, type Step, type TrackerOptions, type TrackerState } from './tracker.ts';
export { dynamicWeight, effectiveWeight, slowStartWeight, SLOW_START_MIN_PERCENT } from './weight.ts';
export { isPanic, OutlierDetector, type EjectionInfo, type OutlierBackend, type OutlierChange, type PassiveOutcome } from './outlier.ts';
export { quorumStep, type QuorumStep } from './quorum.ts';
export { firstDelay, jitteredDelay, jitterSpan, type Random } from './timing.ts';

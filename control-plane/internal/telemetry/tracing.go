package telemetry

// TracerName names the control plane's tracer; the provider and the trace
// context propagation are internal/tracing's, shared with the agent.
const TracerName = "github.com/ytcaption/ytcaption/control-plane"

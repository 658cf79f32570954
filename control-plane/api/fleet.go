package api

import "time"

// Fleet routes: the control plane's view of the Nomad cluster it runs on.
const (
	PathFleetNodes      = "/v1/fleet/nodes"      // GET: Nomad nodes joined to agents
	PathFleetAgents     = "/v1/fleet/agents"     // POST {id}/drain: drain an agent and, optionally, its Nomad node
	PathFleetAutoscaler = "/v1/fleet/autoscaler" // GET: recent autoscaler decisions
)

// Labels an agent placed by Nomad reports, so the control plane can join it
// to its Nomad node and allocation.
const (
	LabelNomadNode  = "nomad.node_id"
	LabelNomadAlloc = "nomad.alloc_id"
)

// NomadNode is one Nomad client node and the agents running on it.
type NomadNode struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"`
	Datacenter string        `json:"datacenter"`
	Pool       string        `json:"pool"`
	Class      string        `json:"class,omitempty"`
	Status     string        `json:"status"`
	Drain      bool          `json:"drain"`
	Eligible   bool          `json:"eligible"`
	Devices    []NomadDevice `json:"devices,omitempty"`
	Agents     []NodeAgent   `json:"agents,omitempty"`
}

// NomadDevice is a device group a node fingerprinted (e.g. nvidia/gpu).
type NomadDevice struct {
	Vendor  string `json:"vendor"`
	Type    string `json:"type"`
	Name    string `json:"name"`
	Count   int    `json:"count"`
	Healthy int    `json:"healthy"`
}

// NodeAgent is an agent found on a Nomad node.
type NodeAgent struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	AllocID  string `json:"alloc_id,omitempty"`
	Draining bool   `json:"draining"`
}

// FleetNodes is the reply to GET /v1/fleet/nodes.
type FleetNodes struct {
	Nodes []NomadNode `json:"nodes"`
	// Unplaced lists agents that report no Nomad node (run outside Nomad).
	Unplaced []NodeAgent `json:"unplaced,omitempty"`
}

// DrainRequest is the body of POST /v1/fleet/agents/{id}/drain.
type DrainRequest struct {
	// NomadNode also drains the agent's Nomad node, so Nomad moves its
	// other allocations away and places nothing new there.
	NomadNode bool `json:"nomad_node"`
	// DeadlineSeconds bounds the Nomad drain; 0 means one hour.
	DeadlineSeconds float64 `json:"deadline_seconds,omitempty"`
}

// DrainResponse reports what was drained.
type DrainResponse struct {
	AgentID     string `json:"agent_id"`
	NomadNodeID string `json:"nomad_node_id,omitempty"`
}

// AutoscalerDecision is one evaluation of the autoscaler that changed, or
// wanted to change, the agent group's size.
type AutoscalerDecision struct {
	At            time.Time `json:"at"`
	Job           string    `json:"job"`
	Group         string    `json:"group"`
	From          int       `json:"from"`
	To            int       `json:"to"`
	Reason        string    `json:"reason"`
	Queued        int       `json:"queued"`
	OldestQueuedS float64   `json:"oldest_queued_seconds"`
	Applied       bool      `json:"applied"`
	Error         string    `json:"error,omitempty"`
}

// Autoscaler is the reply to GET /v1/fleet/autoscaler.
type Autoscaler struct {
	Enabled   bool                 `json:"enabled"`
	Decisions []AutoscalerDecision `json:"decisions"`
}

package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	nomad "github.com/hashicorp/nomad/api"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// NomadConfig says how to reach Nomad.
type NomadConfig struct {
	Addr       string // URL, e.g. http://127.0.0.1:4646
	Token      string // ACL token: node:read, node:write (drain), scale-job on the agent job
	Region     string
	Namespace  string
	HTTPClient *http.Client
}

// Nomad reads nodes, drains them and scales job groups.
type Nomad struct {
	c *nomad.Client
}

// NewNomad builds a client from explicit settings only (NOMAD_* environment
// variables are not consulted).
func NewNomad(cfg NomadConfig) (*Nomad, error) {
	if cfg.Addr == "" {
		return nil, errors.New("nomad address is empty")
	}
	c, err := nomad.NewClient(&nomad.Config{Address: cfg.Addr, SecretID: cfg.Token, Region: cfg.Region,
		Namespace: cfg.Namespace, HttpClient: cfg.HTTPClient})
	if err != nil {
		return nil, fmt.Errorf("nomad client: %w", err)
	}
	return &Nomad{c: c}, nil
}

// Nodes lists the cluster's client nodes with their device resources.
func (n *Nomad) Nodes(ctx context.Context) ([]api.NomadNode, error) {
	q := (&nomad.QueryOptions{Params: map[string]string{"resources": "true"}}).WithContext(ctx)
	stubs, _, err := n.c.Nodes().List(q)
	if err != nil {
		return nil, fmt.Errorf("list nomad nodes: %w", err)
	}
	out := make([]api.NomadNode, 0, len(stubs))
	for _, s := range stubs {
		node := api.NomadNode{ID: s.ID, Name: s.Name, Datacenter: s.Datacenter, Pool: s.NodePool, Class: s.NodeClass,
			Status: s.Status, Drain: s.Drain, Eligible: s.SchedulingEligibility == nomad.NodeSchedulingEligible}
		if s.NodeResources != nil {
			for _, d := range s.NodeResources.Devices {
				dev := api.NomadDevice{Vendor: d.Vendor, Type: d.Type, Name: d.Name, Count: len(d.Instances)}
				for _, in := range d.Instances {
					if in.Healthy {
						dev.Healthy++
					}
				}
				node.Devices = append(node.Devices, dev)
			}
		}
		out = append(out, node)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DrainNode starts draining a node: Nomad stops placing work there and
// migrates its allocations within deadline (system jobs, such as the GPU
// agents, are stopped last so they can hand their tasks back).
func (n *Nomad) DrainNode(ctx context.Context, nodeID string, deadline time.Duration, reason string) error {
	if deadline <= 0 {
		deadline = time.Hour
	}
	opts := &nomad.DrainOptions{DrainSpec: &nomad.DrainSpec{Deadline: deadline},
		Meta: map[string]string{"message": reason, "by": "ytcaption"}}
	if _, err := n.c.Nodes().UpdateDrainOpts(nodeID, opts, (&nomad.WriteOptions{}).WithContext(ctx)); err != nil {
		return fmt.Errorf("drain nomad node %s: %w", nodeID, err)
	}
	return nil
}

// GroupCount is the desired count of a job's task group.
func (n *Nomad) GroupCount(ctx context.Context, job, group string) (int, error) {
	st, _, err := n.c.Jobs().ScaleStatus(job, (&nomad.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("scale status of %s: %w", job, err)
	}
	g, ok := st.TaskGroups[group]
	if !ok {
		return 0, fmt.Errorf("job %s has no group %q", job, group)
	}
	return g.Desired, nil
}

// Scale sets a group's count through the scaling API; Nomad records the
// message and meta as a scaling event on the job.
func (n *Nomad) Scale(ctx context.Context, job, group string, count int, message string, meta map[string]any) error {
	if _, _, err := n.c.Jobs().Scale(job, group, &count, message, false, meta,
		(&nomad.WriteOptions{}).WithContext(ctx)); err != nil {
		return fmt.Errorf("scale %s/%s to %d: %w", job, group, count, err)
	}
	return nil
}

// Join attaches agents to the Nomad nodes they report running on (labels
// nomad.node_id and nomad.alloc_id). Revoked agents are left out; agents on
// no known node are returned as unplaced.
func Join(nodes []api.NomadNode, agents []store.Agent) api.FleetNodes {
	idx := make(map[string]int, len(nodes))
	for i := range nodes {
		idx[nodes[i].ID] = i
	}
	out := api.FleetNodes{Nodes: nodes}
	for _, a := range agents {
		if a.RevokedAt != nil {
			continue
		}
		na := api.NodeAgent{ID: a.ID, Name: a.Name, AllocID: a.Capabilities.Labels[api.LabelNomadAlloc], Draining: a.Draining}
		if i, ok := idx[a.Capabilities.Labels[api.LabelNomadNode]]; ok {
			out.Nodes[i].Agents = append(out.Nodes[i].Agents, na)
			continue
		}
		out.Unplaced = append(out.Unplaced, na)
	}
	return out
}

// AgentLister lists registered agents.
type AgentLister interface {
	ListAgents(ctx context.Context) ([]store.Agent, error)
}

// View is the fleet as the API shows it: Nomad nodes joined to agents, node
// drains, and the autoscaler's decisions. Autoscaler may be nil.
type View struct {
	Nomad      *Nomad
	Agents     AgentLister
	Autoscaler *Autoscaler
}

// Nodes lists Nomad nodes with the agents on them.
func (v *View) Nodes(ctx context.Context) (api.FleetNodes, error) {
	nodes, err := v.Nomad.Nodes(ctx)
	if err != nil {
		return api.FleetNodes{}, err
	}
	agents, err := v.Agents.ListAgents(ctx)
	if err != nil {
		return api.FleetNodes{}, fmt.Errorf("list agents: %w", err)
	}
	return Join(nodes, agents), nil
}

// DrainNode drains a Nomad node.
func (v *View) DrainNode(ctx context.Context, nodeID string, deadline time.Duration, reason string) error {
	return v.Nomad.DrainNode(ctx, nodeID, deadline, reason)
}

// AutoscalerState reports whether the autoscaler runs and what it decided.
func (v *View) AutoscalerState() api.Autoscaler {
	if v.Autoscaler == nil {
		return api.Autoscaler{Decisions: []api.AutoscalerDecision{}}
	}
	return api.Autoscaler{Enabled: true, Decisions: v.Autoscaler.Decisions()}
}

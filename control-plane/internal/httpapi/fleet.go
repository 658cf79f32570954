package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
)

// Fleet is the Nomad view of the fleet (package fleet provides it); nil
// when the control plane runs without Nomad.
type Fleet interface {
	Nodes(ctx context.Context) (api.FleetNodes, error)
	DrainNode(ctx context.Context, nodeID string, deadline time.Duration, reason string) error
	AutoscalerState() api.Autoscaler
}

// mountFleet adds the /v1/fleet routes.
func (a *API) mountFleet(v1 fiber.Router) {
	v1.Get("/fleet/nodes", a.requireKey(auth.ManageFleet), a.fleetNodes)
	v1.Post("/fleet/agents/:id/drain", a.requireKey(auth.ManageFleet), a.fleetDrain)
	v1.Get("/fleet/autoscaler", a.requireKey(auth.ManageFleet), a.fleetAutoscaler)
}

var errNoNomad = errorf(http.StatusNotFound, api.CodeNotFound, "the control plane runs without Nomad (set YTCAPTION_NOMAD_ADDR)")

func (a *API) fleetNodes(c *fiber.Ctx) error {
	if a.cfg.Fleet == nil {
		return errNoNomad
	}
	nodes, err := a.cfg.Fleet.Nodes(c.UserContext())
	if err != nil {
		a.log.Warn("nomad nodes", "err", err)
		return errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "nomad is unavailable")
	}
	return c.JSON(nodes)
}

// fleetDrain drains an agent (it stops leasing and finishes what it holds)
// and, when asked, the Nomad node it runs on.
func (a *API) fleetDrain(c *fiber.Ctx) error {
	var req api.DrainRequest
	if err := a.decodeJSON(c, &req); err != nil {
		return err
	}
	if req.DeadlineSeconds < 0 {
		return badRequest("deadline_seconds must not be negative")
	}
	ctx, id := c.UserContext(), c.Params("id")
	ag, err := a.admin.GetAgent(ctx, id)
	if err != nil {
		return err
	}
	node := ag.Capabilities.Labels[api.LabelNomadNode]
	if req.NomadNode {
		if a.cfg.Fleet == nil {
			return errNoNomad
		}
		if node == "" {
			return errorf(http.StatusConflict, api.CodeConflict, "the agent reports no Nomad node")
		}
	}
	if err := a.agents.SetDrain(ctx, id, true, a.now()); err != nil {
		return err
	}
	out := api.DrainResponse{AgentID: id}
	if req.NomadNode {
		deadline := time.Duration(req.DeadlineSeconds * float64(time.Second))
		if err := a.cfg.Fleet.DrainNode(ctx, node, deadline, "ytcaption: agent "+id+" drained"); err != nil {
			a.log.Warn("nomad node drain", "node", node, "err", err)
			return errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "agent drained, but nomad did not accept the node drain")
		}
		out.NomadNodeID = node
	}
	return c.JSON(out)
}

func (a *API) fleetAutoscaler(c *fiber.Ctx) error {
	if a.cfg.Fleet == nil {
		return c.JSON(api.Autoscaler{Decisions: []api.AutoscalerDecision{}})
	}
	return c.JSON(a.cfg.Fleet.AutoscalerState())
}

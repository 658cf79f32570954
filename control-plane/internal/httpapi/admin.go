package httpapi

import (
	"context"
	"math/rand/v2"
	"net/http"
	"regexp"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// adminStore is what key and fleet administration read and create; changes
// to keys and agents go through Keys and Agents.
type adminStore interface {
	CreateAPIKey(ctx context.Context, k store.APIKey) error
	ListAPIKeys(ctx context.Context, tenant string) ([]store.APIKey, error)
	CreateEnrollment(ctx context.Context, e store.Enrollment) error
	GetAgent(ctx context.Context, id string) (store.Agent, error)
	ListAgents(ctx context.Context) ([]store.Agent, error)
	SetTenantShare(ctx context.Context, tenant string, weight float64, maxRunning int) error
	TenantShare(ctx context.Context, tenant string) (store.TenantShare, error)
	ListTenants(ctx context.Context) ([]store.TenantInfo, error)
	ListEnrollments(ctx context.Context) ([]store.Enrollment, error)
	RevokeEnrollment(ctx context.Context, id string, now time.Time) (store.Enrollment, error)
}

var tenantRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func jitter() float64 { return rand.Float64() }

func (a *API) createKey(c *fiber.Ctx) error {
	var req api.KeyRequest
	if err := a.decodeJSON(c, &req); err != nil {
		return err
	}
	if !tenantRE.MatchString(req.Tenant) {
		return badRequest("tenant must be 1-63 lower-case letters, digits, '-' or '_'")
	}
	if !auth.ValidRole(req.Role) {
		return badRequest("role must be admin, operator, submitter or viewer")
	}
	now := a.now()
	if req.ExpiresAt != nil && !req.ExpiresAt.After(now) {
		return badRequest("expires_at must be in the future")
	}
	cred := auth.New(auth.PrefixKey)
	k := store.APIKey{ID: cred.ID, Tenant: req.Tenant, Role: store.Role(req.Role), Name: req.Name,
		Hash: cred.Hash(), CreatedAt: now, ExpiresAt: req.ExpiresAt}
	if err := a.admin.CreateAPIKey(c.UserContext(), k); err != nil {
		return err
	}
	auditTarget(c, k.ID)
	out := keyToAPI(k)
	out.Secret = cred.Token()
	return c.Status(http.StatusCreated).JSON(out)
}

func keyToAPI(k store.APIKey) api.Key {
	return api.Key{ID: k.ID, Tenant: k.Tenant, Role: string(k.Role), Name: k.Name,
		CreatedAt: k.CreatedAt.UTC(), ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt}
}

func (a *API) listKeys(c *fiber.Ctx) error {
	keys, err := a.admin.ListAPIKeys(c.UserContext(), c.Query("tenant"))
	if err != nil {
		return err
	}
	out := api.KeyList{Keys: make([]api.Key, 0, len(keys))}
	for _, k := range keys {
		out.Keys = append(out.Keys, keyToAPI(k))
	}
	return c.JSON(out)
}

func (a *API) revokeKey(c *fiber.Ctx) error {
	if err := a.keys.Revoke(c.UserContext(), c.Params("id"), a.now()); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (a *API) setTenantShare(c *fiber.Ctx) error {
	tenant := c.Params("name")
	if !tenantRE.MatchString(tenant) {
		return badRequest("tenant must be 1-63 lower-case letters, digits, '-' or '_'")
	}
	var req api.TenantShare
	if err := a.decodeJSON(c, &req); err != nil {
		return err
	}
	sh := store.TenantShare{Tenant: tenant, Weight: req.Weight, MaxRunning: req.MaxRunning}
	if sh.Validate() != nil {
		return badRequest("weight must be in (0, 1000], max_running in [0, 1000000] (0: no cap)")
	}
	ctx := c.UserContext()
	if err := a.admin.SetTenantShare(ctx, tenant, sh.Weight, sh.MaxRunning); err != nil {
		return err
	}
	got, err := a.admin.TenantShare(ctx, tenant)
	if err != nil {
		return err
	}
	// A larger share may make queued work leasable now.
	a.notify.Notify(ctx)
	return c.JSON(api.TenantShare{Tenant: got.Tenant, Weight: got.Weight, MaxRunning: got.MaxRunning})
}

func (a *API) createEnrollment(c *fiber.Ctx) error {
	var req api.EnrollmentRequest
	if err := a.decodeJSON(c, &req); err != nil {
		return err
	}
	ttl := time.Duration(req.TTLSeconds * float64(time.Second))
	if ttl == 0 {
		ttl = 24 * time.Hour
	}
	if ttl < 0 || ttl > 366*24*time.Hour || req.MaxUses < 0 {
		return badRequest("ttl must be positive and at most a year; max_uses non-negative")
	}
	now := a.now()
	cred := auth.New(auth.PrefixEnrollment)
	e := store.Enrollment{ID: cred.ID, TokenHash: auth.Hash(cred.Token()), Labels: req.Labels,
		MaxUses: req.MaxUses, ExpiresAt: now.Add(ttl), CreatedAt: now}
	if err := a.admin.CreateEnrollment(c.UserContext(), e); err != nil {
		return err
	}
	auditTarget(c, e.ID)
	return c.Status(http.StatusCreated).JSON(api.Enrollment{ID: e.ID, Token: cred.Token(), Labels: e.Labels,
		MaxUses: e.MaxUses, ExpiresAt: e.ExpiresAt.UTC()})
}

func (a *API) enrollmentToAPI(e store.Enrollment) api.EnrollmentInfo {
	out := api.EnrollmentInfo{ID: e.ID, State: e.State(a.now()), Labels: e.Labels, Uses: e.Uses, MaxUses: e.MaxUses,
		CreatedAt: e.CreatedAt.UTC(), RevokedAt: e.RevokedAt}
	if !e.ExpiresAt.IsZero() {
		exp := e.ExpiresAt.UTC()
		out.ExpiresAt = &exp
	}
	return out
}

func (a *API) listEnrollments(c *fiber.Ctx) error {
	es, err := a.admin.ListEnrollments(c.UserContext())
	if err != nil {
		return err
	}
	out := api.EnrollmentList{Enrollments: make([]api.EnrollmentInfo, 0, len(es))}
	for _, e := range es {
		out.Enrollments = append(out.Enrollments, a.enrollmentToAPI(e))
	}
	return c.JSON(out)
}

// revokeEnrollment stops new enrollments with a token; agents already
// enrolled with it keep their own credentials (revoke those one by one).
func (a *API) revokeEnrollment(c *fiber.Ctx) error {
	e, err := a.admin.RevokeEnrollment(c.UserContext(), c.Params("id"), a.now())
	if err != nil {
		return err
	}
	return c.JSON(a.enrollmentToAPI(e))
}

func (a *API) agentToAPI(ag store.Agent) api.Agent {
	state := "active"
	switch {
	case ag.RevokedAt != nil:
		state = "revoked"
	case ag.Draining:
		state = "draining"
	case a.now().Sub(ag.LastSeenAt) > job.OfflineAfter: // the same rule the fleet statistics count by
		state = "offline"
	}
	// Never null: the console iterates it.
	tasks := make([]api.AgentTask, 0, len(ag.Tasks))
	for _, t := range ag.Tasks {
		at := api.AgentTask{ID: t.ID, JobID: t.JobID, Kind: t.Kind, Stage: t.Stage, StartedAt: t.StartedAt.UTC()}
		if t.Chunk != nil {
			at.Chunk = &api.Chunk{Index: t.Chunk.Index, Start: t.Chunk.Start, End: t.Chunk.End}
		}
		tasks = append(tasks, at)
	}
	return api.Agent{ID: ag.ID, Name: ag.Name, Hostname: ag.Hostname, Version: ag.Version, State: state,
		Capabilities: ag.Capabilities, ActiveTasks: ag.ActiveTasks, Tasks: tasks, CreatedAt: ag.CreatedAt.UTC(),
		LastSeenAt: ag.LastSeenAt.UTC()}
}

func (a *API) listAgents(c *fiber.Ctx) error {
	agents, err := a.admin.ListAgents(c.UserContext())
	if err != nil {
		return err
	}
	out := api.AgentList{Agents: make([]api.Agent, 0, len(agents))}
	for _, ag := range agents {
		out.Agents = append(out.Agents, a.agentToAPI(ag))
	}
	return c.JSON(out)
}

func (a *API) agentAction(c *fiber.Ctx) error {
	ctx, id, now := c.UserContext(), c.Params("id"), a.now()
	var err error
	switch c.Params("action") {
	case "drain":
		err = a.agents.SetDrain(ctx, id, true, now)
	case "resume":
		err = a.agents.SetDrain(ctx, id, false, now)
	case "revoke":
		if err = a.agents.Revoke(ctx, id, now); err == nil {
			a.notify.Notify(ctx)
		}
	default:
		return errorf(http.StatusNotFound, api.CodeNotFound, "unknown agent action")
	}
	if err != nil {
		return err
	}
	ag, err := a.admin.GetAgent(ctx, id)
	if err != nil {
		return err
	}
	return c.JSON(a.agentToAPI(ag))
}

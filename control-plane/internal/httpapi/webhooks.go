package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/control-plane/internal/webhook"
)

// webhookStore is what the webhook routes read and change.
type webhookStore interface {
	CreateWebhookEndpoint(ctx context.Context, e store.WebhookEndpoint) error
	ListWebhookEndpoints(ctx context.Context, tenant string) ([]store.WebhookEndpoint, error)
	DeleteWebhookEndpoint(ctx context.Context, tenant, id string) error
	ListWebhookDeliveries(ctx context.Context, f store.DeliveryFilter) ([]store.WebhookDelivery, error)
	GetWebhookDelivery(ctx context.Context, tenant, id string) (store.WebhookDelivery, error)
	RedeliverWebhook(ctx context.Context, tenant, id string, now time.Time) (store.WebhookDelivery, error)
	WebhookSecrets(ctx context.Context, tenant, candidate string, now time.Time) ([]store.WebhookSecret, error)
	RotateWebhookSecret(ctx context.Context, tenant, secret string, now time.Time) ([]store.WebhookSecret, error)
}

func (a *API) createEndpoint(c *fiber.Ctx) error {
	var req api.WebhookEndpointRequest
	if err := a.decodeJSON(c, &req); err != nil {
		return err
	}
	req.URL = strings.TrimSpace(req.URL)
	if err := job.ValidateURL(req.URL); err != nil {
		return err
	}
	if !a.cfg.AllowPrivateSources {
		if err := a.submit.CheckHost(c.UserContext(), req.URL); err != nil {
			return err
		}
	}
	for _, e := range req.Events {
		switch e {
		case api.EventJobSucceeded, api.EventJobFailed, api.EventJobCanceled, api.EventJobProgress:
		default:
			return badRequest("events: unknown event " + strconv.Quote(e) + "; use job.succeeded, job.failed, job.canceled, job.progress")
		}
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	e := store.WebhookEndpoint{ID: "whe_" + hex.EncodeToString(b), Tenant: principal(c).Tenant, URL: req.URL,
		Events: req.Events, CreatedAt: a.now()}
	if e.Events == nil {
		e.Events = []string{}
	}
	if err := a.hooks.CreateWebhookEndpoint(c.UserContext(), e); err != nil {
		return err
	}
	auditTarget(c, e.ID)
	return c.Status(http.StatusCreated).JSON(e.ToAPI())
}

func (a *API) listEndpoints(c *fiber.Ctx) error {
	es, err := a.hooks.ListWebhookEndpoints(c.UserContext(), principal(c).Scope())
	if err != nil {
		return err
	}
	out := api.WebhookEndpointList{Endpoints: make([]api.WebhookEndpoint, 0, len(es))}
	for _, e := range es {
		if e.Events == nil {
			e.Events = []string{}
		}
		out.Endpoints = append(out.Endpoints, e.ToAPI())
	}
	return c.JSON(out)
}

func (a *API) deleteEndpoint(c *fiber.Ctx) error {
	if err := a.hooks.DeleteWebhookEndpoint(c.UserContext(), principal(c).Scope(), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (a *API) listDeliveries(c *fiber.Ctx) error {
	f := store.DeliveryFilter{Tenant: principal(c).Scope(), JobID: c.Query("job_id"), Status: c.Query("status")}
	switch f.Status {
	case "", api.DeliveryPending, api.DeliveryDelivered, api.DeliveryFailed:
	default:
		return badRequest("status must be pending, delivered or failed")
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("limit must be between 1 and 1000")
		}
		f.Limit = n
	}
	ds, err := a.hooks.ListWebhookDeliveries(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := api.WebhookDeliveryList{Deliveries: make([]api.WebhookDelivery, 0, len(ds))}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, d.ToAPI())
	}
	return c.JSON(out)
}

func (a *API) getDelivery(c *fiber.Ctx) error {
	d, err := a.hooks.GetWebhookDelivery(c.UserContext(), principal(c).Scope(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(d.ToAPI())
}

func (a *API) redeliver(c *fiber.Ctx) error {
	d, err := a.hooks.RedeliverWebhook(c.UserContext(), principal(c).Scope(), c.Params("id"), a.now())
	if err != nil {
		return err
	}
	return c.Status(http.StatusAccepted).JSON(d.ToAPI())
}

// secretTenant is whose signing secret a request may see: its own, or any
// tenant's (?tenant=) for admins.
func (a *API) secretTenant(c *fiber.Ctx) (string, error) {
	p := principal(c)
	t := c.Query("tenant")
	if t == "" || t == p.Tenant {
		return p.Tenant, nil
	}
	if p.Role != store.RoleAdmin {
		return "", errorf(http.StatusForbidden, api.CodeForbidden, "only admins may read another tenant's webhook secret")
	}
	return t, nil
}

func secretBody(tenant string, ws []store.WebhookSecret) api.WebhookSecret {
	out := api.WebhookSecret{Tenant: tenant}
	for i, w := range ws {
		if i == 0 {
			out.Secret = w.Secret
			continue
		}
		out.Previous = append(out.Previous, w.Secret)
	}
	return out
}

// webhookSecret returns the tenant's signing secret, creating it on first use.
func (a *API) webhookSecret(c *fiber.Ctx) error {
	t, err := a.secretTenant(c)
	if err != nil {
		return err
	}
	ws, err := a.hooks.WebhookSecrets(c.UserContext(), t, webhook.NewSecret(), a.now())
	if err != nil {
		return err
	}
	return c.JSON(secretBody(t, ws))
}

// rotateWebhookSecret starts signing with a new secret; deliveries carry a
// signature under the previous one too until the next rotation.
func (a *API) rotateWebhookSecret(c *fiber.Ctx) error {
	t, err := a.secretTenant(c)
	if err != nil {
		return err
	}
	ws, err := a.hooks.RotateWebhookSecret(c.UserContext(), t, webhook.NewSecret(), a.now())
	if err != nil {
		return err
	}
	return c.JSON(secretBody(t, ws))
}

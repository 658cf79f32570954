package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// TestAgentTokenRenewal: registration hands out a token with an expiry;
// renewing returns a new one that works at once, while the old one keeps
// working through the grace; credentials that are not agent tokens cannot
// renew; revocation still cuts the agent off at once, renewed or not.
func TestAgentTokenRenewal(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			cfg := b.cfg(t)
			cfg.AgentTokenTTL = time.Hour
			r := startReplica(t, cfg)
			ctx := context.Background()
			e, err := r.admin.CreateEnrollment(ctx, api.EnrollmentRequest{})
			if err != nil {
				t.Fatal(err)
			}
			before := time.Now()
			reg, err := api.NewClient(r.url, "", validatingClient()).Register(ctx, api.RegisterRequest{
				EnrollmentToken: e.Token, Name: "renewing", Capabilities: api.Capabilities{Engines: []api.EngineCapability{{Name: "test"}}}})
			if err != nil {
				t.Fatal(err)
			}
			if !reg.ExpiresAt.After(before) || reg.ExpiresAt.After(time.Now().Add(cfg.AgentTokenTTL)) {
				t.Fatalf("registration expires_at %v, want about an hour from now", reg.ExpiresAt)
			}
			old := api.NewClient(r.url, reg.Token, validatingClient())

			ren, err := old.Renew(ctx)
			if err != nil {
				t.Fatalf("renew: %v", err)
			}
			if ren.AgentID != reg.AgentID || ren.Token == reg.Token || ren.ExpiresAt.Before(reg.ExpiresAt) {
				t.Fatalf("renewal: %+v (registered %s, expires %v)", ren, reg.AgentID, reg.ExpiresAt)
			}
			renewed := api.NewClient(r.url, ren.Token, validatingClient())
			tests := []struct {
				name   string
				c      *api.Client
				status int
				code   string
			}{
				{"new token", renewed, 0, ""},
				{"old token within the grace", old, 0, ""},
				{"API key", r.admin, http.StatusUnauthorized, api.CodeUnauthorized},
				{"forged agent token", api.NewClient(r.url, "yta_"+reg.AgentID+"_forged", validatingClient()), http.StatusUnauthorized, api.CodeUnauthorized},
			}
			for _, tc := range tests {
				_, err := tc.c.Lease(ctx, api.LeaseRequest{Max: 1})
				if tc.status == 0 {
					if err != nil {
						t.Fatalf("%s: lease: %v", tc.name, err)
					}
					continue
				}
				wantErr(t, err, tc.status, tc.code)
				_, err = tc.c.Renew(ctx)
				wantErr(t, err, tc.status, tc.code)
			}

			// A token handed out by a renewal renews in turn.
			again, err := renewed.Renew(ctx)
			if err != nil {
				t.Fatalf("second renewal: %v", err)
			}
			latest := api.NewClient(r.url, again.Token, validatingClient())
			if _, err := r.admin.AgentAction(ctx, reg.AgentID, "revoke"); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			for name, c := range map[string]*api.Client{"latest": latest, "replaced": renewed} {
				_, err := c.Lease(ctx, api.LeaseRequest{Max: 1})
				if s, _ := apiErr(err); s != http.StatusUnauthorized {
					t.Fatalf("%s token after revoke: lease %v, want 401", name, err)
				}
				_, err = c.Renew(ctx)
				if s, _ := apiErr(err); s != http.StatusUnauthorized {
					t.Fatalf("%s token after revoke: renew %v, want 401", name, err)
				}
			}
		})
	}
}

// TestAgentTokenExpires: once its lifetime has passed, a token that was
// not renewed is refused with 401 everywhere, renewal included.
func TestAgentTokenExpires(t *testing.T) {
	t.Parallel()
	cfg := sqliteBackend().cfg(t)
	cfg.AgentTokenTTL = time.Second
	r := startReplica(t, cfg)
	a := enrollAgent(t, r, "short-lived", api.Capabilities{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		_, err := a.c.Lease(ctx, api.LeaseRequest{Max: 1})
		if err != nil {
			wantErr(t, err, http.StatusUnauthorized, api.CodeUnauthorized)
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the token never expired")
		case <-time.After(100 * time.Millisecond):
		}
	}
	_, err := a.c.Renew(ctx)
	wantErr(t, err, http.StatusUnauthorized, api.CodeUnauthorized)
}

package auth_test

import (
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

func TestCredentialRoundTrip(t *testing.T) {
	t.Parallel()
	c := auth.New(auth.PrefixKey)
	got, ok := auth.Parse(c.Token(), auth.PrefixKey)
	if !ok || got != c {
		t.Fatalf("Parse(%q) = %+v %v", c.Token(), got, ok)
	}
	if !auth.Matches(c.Secret, c.Hash()) || auth.Matches(c.Secret+"x", c.Hash()) {
		t.Fatal("Matches")
	}
	if _, ok := auth.Parse(c.Token(), auth.PrefixAgent); ok {
		t.Fatal("a key parsed as an agent token")
	}
	if auth.New(auth.PrefixKey).Secret == c.Secret {
		t.Fatal("secrets repeat")
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "ytc_", "ytc__x", "ytc_id_", "ytc_id", "yta_id_secret", strings.Repeat("a", 300)} {
		if _, ok := auth.Parse(s, auth.PrefixKey); ok {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func TestParseKeyStatic(t *testing.T) {
	t.Parallel()
	a, ok := auth.ParseKey("my-operator-chosen-key")
	b, _ := auth.ParseKey("my-operator-chosen-key")
	if !ok || a.ID != b.ID || a.Secret != "my-operator-chosen-key" {
		t.Fatalf("static key: %+v", a)
	}
	if _, ok := auth.ParseKey("short"); ok {
		t.Fatal("a 5-character key was accepted")
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	acts := []auth.Action{auth.ReadJobs, auth.SubmitJobs, auth.CancelJobs, auth.ManageFleet, auth.ManageKeys, auth.ManageArtifacts}
	want := map[store.Role][]bool{
		store.RoleAdmin:     {true, true, true, true, true, true},
		store.RoleOperator:  {true, true, true, true, false, false},
		store.RoleSubmitter: {true, true, true, false, false, false},
		store.RoleViewer:    {true, false, false, false, false, false},
		"nobody":            {false, false, false, false, false, false},
	}
	for role, allowed := range want {
		p := auth.Principal{Tenant: "t", Role: role}
		for i, a := range acts {
			if p.Can(a) != allowed[i] {
				t.Errorf("%s can %d = %v", role, a, p.Can(a))
			}
		}
	}
	if (auth.Principal{Tenant: "t", Role: store.RoleAdmin}).Scope() != "" ||
		(auth.Principal{Tenant: "t", Role: store.RoleSubmitter}).Scope() != "t" {
		t.Fatal("scope")
	}
}

package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

func artifactTests() []struct {
	name string
	fn   func(t *testing.T, s store.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Artifacts", testArtifacts},
		{"ArtifactVersions", testArtifactVersions},
	}
}

func artifact(id, name, version string, at time.Time) store.Artifact {
	sum := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	return store.Artifact{ID: id, Kind: "model", Name: name, Version: version, SHA256: sum, Size: 42,
		Key: "artifacts/model/" + name + "/" + version + "/" + sum, CreatedAt: at, CreatedBy: "ytk_admin"}
}

// testArtifacts: a pushed artifact is invisible until committed, reads back
// as written, commits once, and is gone after a delete.
func testArtifacts(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	a := artifact("art_1", "ggml-base.en.bin", "v1", at)
	if r, err := s.CreateArtifact(ctx, a); err != nil || len(r) != 0 {
		t.Fatalf("CreateArtifact = %+v, %v; want nothing replaced", r, err)
	}
	got, err := s.GetArtifact(ctx, a.ID)
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("GetArtifact = %+v, %v; want %+v", got, err, a)
	}
	if l, err := s.ListArtifacts(ctx); err != nil || len(l) != 0 {
		t.Fatalf("pending artifact listed: %+v, %v", l, err)
	}
	c, err := s.CommitArtifact(ctx, a.ID, at.Add(time.Minute))
	if err != nil || !c.CommittedAt.Equal(at.Add(time.Minute)) {
		t.Fatalf("CommitArtifact = %+v, %v", c, err)
	}
	if c2, err := s.CommitArtifact(ctx, a.ID, at.Add(time.Hour)); err != nil || !c2.CommittedAt.Equal(c.CommittedAt) {
		t.Fatalf("second commit = %+v, %v; want the first time kept", c2, err)
	}
	l, err := s.ListArtifacts(ctx)
	if err != nil || len(l) != 1 || !reflect.DeepEqual(l[0], c) {
		t.Fatalf("ListArtifacts = %+v, %v; want [%+v]", l, err, c)
	}
	d, err := s.DeleteArtifact(ctx, a.ID)
	if err != nil || d.Key != a.Key {
		t.Fatalf("DeleteArtifact = %+v, %v", d, err)
	}
	for name, err := range map[string]error{
		"get":    func() error { _, err := s.GetArtifact(ctx, a.ID); return err }(),
		"commit": func() error { _, err := s.CommitArtifact(ctx, a.ID, at); return err }(),
		"delete": func() error { _, err := s.DeleteArtifact(ctx, a.ID); return err }(),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s after delete: %v, want ErrNotFound", name, err)
		}
	}
}

// testArtifactVersions: a version is unique once committed, a pending push
// of it is replaced by the next one, and a name's versions list newest
// commit first.
func testArtifactVersions(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	for i, a := range []store.Artifact{artifact("art_a1", "a", "v1", at), artifact("art_a2", "a", "v2", at), artifact("art_b1", "b", "v1", at)} {
		if _, err := s.CreateArtifact(ctx, a); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CommitArtifact(ctx, a.ID, at.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateArtifact(ctx, artifact("art_dup", "a", "v1", at)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("committed version pushed again: %v, want ErrConflict", err)
	}
	tool := artifact("art_t", "a", "v1", at)
	tool.Kind = "tool"
	if _, err := s.CreateArtifact(ctx, tool); err != nil {
		t.Fatalf("same name and version of another kind: %v", err)
	}
	p1 := artifact("art_p1", "a", "v3", at)
	if _, err := s.CreateArtifact(ctx, p1); err != nil {
		t.Fatal(err)
	}
	if r, err := s.CreateArtifact(ctx, artifact("art_p2", "a", "v3", at)); err != nil || !reflect.DeepEqual(r, []store.Artifact{p1}) {
		t.Fatalf("pending version pushed again: replaced %+v, %v; want [%+v]", r, err, p1)
	}
	if _, err := s.GetArtifact(ctx, "art_p1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replaced pending artifact: %v, want ErrNotFound", err)
	}
	l, err := s.ListArtifacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range l {
		got = append(got, a.ID)
	}
	if want := []string{"art_a2", "art_a1", "art_b1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ListArtifacts = %v, want %v", got, want)
	}
}

package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

func mediaTests() []struct {
	name string
	fn   func(t *testing.T, s store.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"MediaReportKept", testMediaReportKept},
	}
}

// testMediaReportKept: the playback copy a task reports, or its failure,
// reads back with the task's result.
func testMediaReportKept(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	for _, m := range []*api.MediaReport{
		{Key: "jobs/j/media/playback.ogg", Size: 4096, SHA256: "cd34", ContentType: api.PlaybackContentType},
		{Error: &api.Error{Code: api.CodePlaybackFailed, Message: "encode: exit status 1"}},
	} {
		_, task := create(t, s, at, spec{})
		tk := leaseOne(t, s, at, task.ID)
		res := api.TaskResult{Key: "results/t.json", Size: 10, SHA256: "ab", Media: m}
		_, err := s.CompleteTask(ctx, store.Completion{TaskID: tk.ID, Holder: agentID, Token: tk.Token, Result: res, Now: at.Add(time.Second)})
		noErr(t, "CompleteTask", err)
		got := getTask(t, s, tk.ID)
		if got.Result == nil || !reflect.DeepEqual(got.Result.Media, m) {
			t.Errorf("media read back as %+v, want %+v", got.Result, m)
		}
	}
}

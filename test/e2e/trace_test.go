package e2e_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

// TestTrace: a real server and a real agent export to a real Jaeger, and
// each job's trace, read back through Jaeger's query API, is one tree
// rooted at POST /v1/jobs: submit, a lease per task, under it the agent's
// task span with a span per stage, and the control plane's span of the
// agent's report. A split job's prepare, chunk and merge tasks all hang
// under its submission.
func TestTrace(t *testing.T) {
	t.Parallel()
	jg := startJaeger(t)
	clips := serveClips(t, map[string]string{
		"talk.wav":    media.Speech(t, speechText),
		"lecture.wav": media.Speech(t, lecture(25)),
	})
	// Spans leave in batches every 100 ms rather than every 5 s.
	otel := []string{"OTEL_BSP_SCHEDULE_DELAY=100"}
	s := startServer(t, append(otel, "YTCAPTION_OTLP_ENDPOINT="+jg.otlp))
	a := s.startAgentEnv(t, s.enroll(t), "traced", append(otel, "YTCAPTION_AGENT_OTLP_ENDPOINT="+jg.otlp),
		"--concurrency", "2")
	s.waitAgents(t, 1, a)

	t.Run("whole", func(t *testing.T) {
		t.Parallel()
		traceID, j := submitTraced(t, s, api.JobRequest{URL: clips["talk.wav"].url, Language: "en"})
		mustSucceed(t, waitJob(t, s.admin, j.ID))
		tasks := jobTasks(t, s, j.ID)
		if len(tasks) != 1 {
			t.Fatalf("job %s ran %d tasks, want one (media this short is not split): %+v", j.ID, len(tasks), tasks)
		}
		tr := waitTrace(t, jg, traceID, j.ID, tasks)
		run := tr.named("task "+tasks[0].Kind, tasks[0].ID)[0]
		// The URL names a media file: fetched directly, nothing to resolve.
		for _, stage := range []string{"download", "extract", "transcribe", "upload"} {
			if len(tr.children(run, "stage "+stage)) != 1 {
				t.Errorf("%s has no stage %s span", run.OperationName, stage)
			}
		}
	})
	t.Run("split", func(t *testing.T) {
		t.Parallel()
		traceID, j := submitTraced(t, s, api.JobRequest{URL: clips["lecture.wav"].url, Language: "en", ChunkSeconds: seconds(10)})
		mustSucceed(t, waitLong(t, s.admin, j.ID))
		tasks := jobTasks(t, s, j.ID)
		kinds := map[string]int{}
		for _, task := range tasks {
			kinds[task.Kind]++
		}
		if kinds[api.KindPrepare] != 1 || kinds[api.KindTranscribe] < 2 || kinds[api.KindMerge] != 1 {
			t.Fatalf("job %s ran tasks %v, want a prepare, chunks and a merge", j.ID, kinds)
		}
		waitTrace(t, jg, traceID, j.ID, tasks)
	})
}

// jobTasks lists a job's tasks.
func jobTasks(t *testing.T, s *stack, jobID string) []api.TaskInfo {
	t.Helper()
	l, err := s.admin.JobTasks(t.Context(), jobID)
	if err != nil {
		t.Fatal(err)
	}
	return l.Tasks
}

// Span names and services of a job's trace.
const (
	spanSubmit   = "submit"
	spanComplete = "POST /v1/agent/tasks/:id/complete"
	svcServer    = "ytcaption"
	svcAgent     = "ytcaption-agent"
)

// jobTrace is a trace as Jaeger holds it.
type jobTrace struct {
	spans []jaegerSpan
	byID  map[string]jaegerSpan
}

func newJobTrace(spans []jaegerSpan) jobTrace {
	tr := jobTrace{spans: spans, byID: map[string]jaegerSpan{}}
	for _, s := range spans {
		tr.byID[s.SpanID] = s
	}
	return tr
}

// named lists the spans called name, of the task taskID if it is not "".
func (tr jobTrace) named(name, taskID string) []jaegerSpan {
	var out []jaegerSpan
	for _, s := range tr.spans {
		if s.OperationName == name && (taskID == "" || s.tag("ytcaption.task_id") == taskID) {
			out = append(out, s)
		}
	}
	return out
}

// children lists the children of parent called name.
func (tr jobTrace) children(parent jaegerSpan, name string) []jaegerSpan {
	var out []jaegerSpan
	for _, s := range tr.spans {
		if s.OperationName == name && s.parent() == parent.SpanID {
			out = append(out, s)
		}
	}
	return out
}

// parentName is the name of s's parent ("" for none in the trace).
func (tr jobTrace) parentName(s jaegerSpan) string { return tr.byID[s.parent()].OperationName }

// whole reports whether every task's report and its run's upload are in.
func (tr jobTrace) whole(tasks []api.TaskInfo) bool {
	for _, task := range tasks {
		runs := tr.named("task "+task.Kind, task.ID)
		if len(tr.named(spanComplete, task.ID)) == 0 || len(runs) == 0 || len(tr.children(runs[len(runs)-1], "stage upload")) == 0 {
			return false
		}
	}
	return true
}

// waitTrace waits until Jaeger holds the whole trace of the job, logs it
// as a tree and checks its shape.
func waitTrace(t *testing.T, jg jaeger, traceID, jobID string, tasks []api.TaskInfo) jobTrace {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var tr jobTrace
	for {
		tr = newJobTrace(jg.trace(t, traceID))
		if tr.whole(tasks) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s of job %s incomplete after a minute:\n%s", traceID, jobID, tree(tr.spans))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("trace %s of job %s:\n%s", traceID, jobID, tree(tr.spans))
	checkTree(t, tr.spans)

	check := func(s jaegerSpan, service, parent string) {
		t.Helper()
		if s.service != service {
			t.Errorf("%s: service %q, want %q", s.OperationName, s.service, service)
		}
		if got := tr.parentName(s); got != parent {
			t.Errorf("%s: parent %q, want %q", s.OperationName, got, parent)
		}
		if got := s.tag("ytcaption.job_id"); s.OperationName != "POST /v1/jobs" && got != jobID {
			t.Errorf("%s: job %q, want %s", s.OperationName, got, jobID)
		}
	}
	roots := tr.named("POST /v1/jobs", "")
	submits := tr.named(spanSubmit, "")
	if len(roots) != 1 || len(submits) != 1 {
		t.Fatalf("%d POST /v1/jobs and %d submit spans, want one each", len(roots), len(submits))
	}
	check(roots[0], svcServer, "")
	check(submits[0], svcServer, "POST /v1/jobs")
	succeeded := false
	for _, task := range tasks {
		lease, run := "lease "+task.Kind, "task "+task.Kind
		for _, s := range tr.named(lease, task.ID) {
			check(s, svcServer, spanSubmit)
		}
		for _, s := range tr.named(run, task.ID) {
			check(s, svcAgent, lease)
			if len(tr.children(s, "stage upload")) != 1 {
				t.Errorf("%s of task %s: no stage upload span", run, task.ID)
			}
			for _, stage := range tr.spans {
				if stage.parent() == s.SpanID && !strings.HasPrefix(stage.OperationName, "stage ") && stage.OperationName != spanComplete {
					t.Errorf("%s of task %s: unexpected child %s", run, task.ID, stage.OperationName)
				}
			}
		}
		reports := tr.named(spanComplete, task.ID)
		if len(reports) != 1 {
			t.Errorf("task %s: %d reports, want 1", task.ID, len(reports))
		}
		for _, s := range reports {
			check(s, svcServer, run)
			succeeded = succeeded || s.tag("ytcaption.job_status") == string(api.JobSucceeded)
		}
	}
	if !succeeded {
		t.Error("no report finished the job")
	}
	if hb := tr.named("POST /v1/agent/tasks/:id/heartbeat", ""); len(hb) > 0 {
		t.Errorf("%d heartbeats in the job's trace", len(hb))
	}
	return tr
}

// submitTraced submits a job and returns the trace its request started,
// which the response names in its traceresponse header.
func submitTraced(t *testing.T, s *stack, req api.JobRequest) (traceID string, j api.Job) {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	r, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url+api.PathJobs, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+s.key)
	r.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusAccepted {
		b, _ := readAll(resp)
		t.Fatalf("submit: HTTP %d %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
		t.Fatalf("submit: %v", err)
	}
	// version-traceid-spanid-flags
	parts := strings.Split(resp.Header.Get("traceresponse"), "-")
	if len(parts) != 4 || len(parts[1]) != 32 || parts[3] != "01" {
		t.Fatalf("submit: traceresponse %q, want a sampled W3C trace context", resp.Header.Get("traceresponse"))
	}
	return parts[1], j
}

// checkTree checks the spans form one tree: one root, every other span's
// parent in the trace.
func checkTree(t *testing.T, spans []jaegerSpan) {
	t.Helper()
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanID] = true
	}
	roots := 0
	for _, s := range spans {
		switch p := s.parent(); {
		case p == "":
			roots++
		case !ids[p]:
			t.Errorf("%s: parent %s is not in the trace", s.OperationName, p)
		}
	}
	if roots != 1 {
		t.Errorf("%d roots, want 1", roots)
	}
}

// tree renders spans as an indented tree: name, service and duration,
// children in the order they started; a span whose parent is missing shows
// as a root.
func tree(spans []jaegerSpan) string {
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanID] = true
	}
	children := map[string][]jaegerSpan{}
	for _, s := range spans {
		p := s.parent()
		if !ids[p] {
			p = ""
		}
		children[p] = append(children[p], s)
	}
	var b strings.Builder
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		kids := children[parent]
		slices.SortFunc(kids, func(x, y jaegerSpan) int { return cmp.Compare(x.StartTime, y.StartTime) })
		for _, s := range kids {
			d := time.Duration(s.Duration) * time.Microsecond
			fmt.Fprintf(&b, "%s%s [%s] %s\n", strings.Repeat("  ", depth), s.OperationName, s.service, d.Round(10*time.Microsecond))
			walk(s.SpanID, depth+1)
		}
	}
	walk("", 1)
	return b.String()
}

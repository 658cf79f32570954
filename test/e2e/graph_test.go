package e2e_test

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

// lectureSentences are spoken in turn to make long media: distinct
// sentences, so a word dropped or doubled at a cut shows in the text.
var lectureSentences = []string{
	"Welcome back to the lecture on the history of music.",
	"Today we look at how instruments changed over many years.",
	"The piano became popular in homes across the country.",
	"Many families gathered in the evening to sing together.",
	"Later the radio brought music to people who lived far away.",
	"Records made it possible to hear the same song again and again.",
	"Young people formed bands and played in small clubs.",
	"Thank you for listening and see you next week.",
}

// lecture returns the text of about seconds of flite speech.
func lecture(seconds float64) string {
	// slt speaks about 3.3 words a second.
	var b strings.Builder
	for i := 0; float64(len(strings.Fields(b.String()))) < seconds*3.3; i++ {
		b.WriteString(lectureSentences[i%len(lectureSentences)] + " ")
	}
	return strings.TrimSpace(b.String())
}

func seconds(s float64) *float64 { return &s }

// longWait bounds a long-media job: minutes of pocketsphinx work, which a
// machine busy with the rest of the suite stretches several times over.
const longWait = 15 * time.Minute

// waitLong waits until a long-media job is final.
func waitLong(t testing.TB, c *api.Client, id string) api.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), longWait)
	defer cancel()
	j, err := c.WaitJob(ctx, id, 200*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("job %s not final after %s (status %s, stage %q, chunks %+v): %v", id, longWait, j.Status, j.Stage, j.Chunks, err)
	}
	return j
}

// jsonTranscript fetches a job's canonical transcript.
func jsonTranscript(t testing.TB, c *api.Client, id string) api.Transcript {
	t.Helper()
	var tr api.Transcript
	if err := json.Unmarshal([]byte(captions(t, c, id, "json")), &tr); err != nil {
		t.Fatalf("job %s: JSON captions: %v", id, err)
	}
	return tr
}

// transcriptWords lists a transcript's words in order.
func transcriptWords(tr api.Transcript) []api.Word {
	var ws []api.Word
	for _, s := range tr.Segments {
		ws = append(ws, s.Words...)
	}
	return ws
}

// tasksOf fetches a job's tasks and counts them by kind.
func tasksOf(t testing.TB, c *api.Client, id string) ([]api.TaskInfo, map[string]int) {
	t.Helper()
	l, err := c.JobTasks(context.Background(), id)
	if err != nil {
		t.Fatalf("tasks of %s: %v", id, err)
	}
	kinds := map[string]int{}
	for _, k := range l.Tasks {
		kinds[k.Kind]++
	}
	return l.Tasks, kinds
}

// TestLongMediaGraph captions six minutes of speech on three agent
// processes, one of them prepare-only: the job is prepared once, its chunks
// are transcribed across the fleet and merged, and the captions match the
// same file transcribed whole.
func TestLongMediaGraph(t *testing.T) {
	t.Parallel()
	text := lecture(380)
	clips := serveClips(t, map[string]string{"lecture.mp4": media.MP4(t, media.Speech(t, text))})
	clip := clips["lecture.mp4"]
	if clip.duration < 360 {
		t.Fatalf("lecture is %.0f s, want at least 6 minutes", clip.duration)
	}

	s := startServer(t, productionEnv(t))
	token := s.enroll(t)
	agents := []*agent{
		s.startAgent(t, token, "cpu-1", "--roles", "prepare"),
		s.startAgent(t, token, "gpu-1"),
		s.startAgent(t, token, "gpu-2"),
	}
	s.waitAgents(t, len(agents), agents...)
	ctx := context.Background()

	chunked, err := s.admin.SubmitJob(ctx, api.JobRequest{URL: clip.url + "?chunked", Language: "en", Cache: noCache(), ChunkSeconds: seconds(120)}, "")
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	whole, err := s.admin.SubmitJob(ctx, api.JobRequest{URL: clip.url + "?whole", Language: "en", Cache: noCache(), ChunkSeconds: seconds(0)}, "")
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	chunked, whole = waitLong(t, s.admin, chunked.ID), waitLong(t, s.admin, whole.ID)
	mustSucceed(t, chunked)
	mustSucceed(t, whole)
	werChunked := checkJobCaptions(t, s.admin, chunked, text, clip.duration)
	werWhole := checkJobCaptions(t, s.admin, whole, text, clip.duration)
	t.Logf("%.0f s of speech: WER %.4f chunked, %.4f whole; timings %v", clip.duration, werChunked, werWhole, chunked.Result.Timings)
	if math.Abs(werChunked-werWhole) > 0.02 {
		t.Errorf("WER chunked %.4f vs whole %.4f: differ by more than 0.02", werChunked, werWhole)
	}

	tasks, kinds := tasksOf(t, s.admin, chunked.ID)
	if kinds["prepare"] != 1 || kinds["transcribe"] < 3 || kinds["merge"] != 1 || len(tasks) != 2+kinds["transcribe"] {
		t.Fatalf("chunked job's tasks by kind %v, want 1 prepare, ≥ 3 transcribe, 1 merge", kinds)
	}
	if chunked.Chunks == nil || chunked.Chunks.Total != kinds["transcribe"] || chunked.Chunks.Done != chunked.Chunks.Total {
		t.Errorf("chunks summary %+v, want %d of %d done", chunked.Chunks, kinds["transcribe"], kinds["transcribe"])
	}
	var cuts []float64
	prev := 0.0
	for _, k := range tasks {
		if k.Status != "succeeded" || k.Attempts != 1 {
			t.Errorf("task %s (%s) %s after %d attempts, want succeeded at the first", k.ID, k.Kind, k.Status, k.Attempts)
		}
		if k.Kind != "transcribe" {
			continue
		}
		if k.Chunk == nil || math.Abs(k.Chunk.Start-prev) > 0.002 || k.Chunk.End <= k.Chunk.Start {
			t.Fatalf("chunk %+v does not follow the previous one (ending at %.3f)", k.Chunk, prev)
		}
		if k.Chunk.Start > 0 {
			cuts = append(cuts, k.Chunk.Start)
		}
		prev = k.Chunk.End
	}
	if math.Abs(prev-clip.duration) > 0.5 {
		t.Errorf("chunks end at %.3f s, media is %.3f s", prev, clip.duration)
	}
	_, wholeKinds := tasksOf(t, s.admin, whole.ID)
	if len(wholeKinds) != 1 || wholeKinds["caption"] != 1 {
		t.Errorf("chunk_seconds 0 planned %v, want one caption task", wholeKinds)
	}

	// The word sequences agree apart from recognition differences near a
	// cut: count the differences within a second of one.
	a, b := transcriptWords(jsonTranscript(t, s.admin, chunked.ID)), transcriptWords(jsonTranscript(t, s.admin, whole.ID))
	near, far := diffNearCuts(a, b, cuts, 1.0)
	t.Logf("%d cuts at %v; %d chunked vs %d whole words; differing words: %d within 1 s of a cut, %d elsewhere",
		len(cuts), cuts, len(a), len(b), near, far)
	for i := 1; i < len(a); i++ {
		if a[i].Start < a[i-1].Start || a[i].End < a[i].Start {
			t.Fatalf("word %d (%q at %.3f–%.3f) goes back in time after %q at %.3f–%.3f",
				i, a[i].Word, a[i].Start, a[i].End, a[i-1].Word, a[i-1].Start, a[i-1].End)
		}
	}

	// Who ran what: the prepare-only agent transcribed nothing.
	for _, k := range tasks {
		if k.Kind == "transcribe" && agentName(t, s, k.AgentID) == "cpu-1" {
			t.Errorf("prepare-only agent ran chunk %d", k.Chunk.Index)
		}
	}
	for _, ag := range agents {
		emptyDir(t, ag.Name+" work dir", ag.workDir)
	}
}

// diffNearCuts aligns two word sequences (edit distance on the words'
// text) and counts the words of a that are not matched in b: those within
// window seconds of a cut, and the others.
func diffNearCuts(a, b []api.Word, cuts []float64, window float64) (near, far int) {
	norm := func(w api.Word) string { return strings.Join(media.Words(w.Word), " ") }
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range b {
		d[0][j+1] = j + 1
	}
	for i := range a {
		for j := range b {
			sub := d[i][j]
			if norm(a[i]) != norm(b[j]) {
				sub++
			}
			d[i+1][j+1] = min(sub, d[i][j+1]+1, d[i+1][j]+1)
		}
	}
	count := func(w api.Word) {
		for _, c := range cuts {
			if w.Start-window <= c && c <= w.End+window {
				near++
				return
			}
		}
		far++
	}
	for i, j := len(a), len(b); i > 0 || j > 0; {
		switch {
		case i > 0 && j > 0 && d[i][j] == d[i-1][j-1] && norm(a[i-1]) == norm(b[j-1]):
			i, j = i-1, j-1
		case i > 0 && j > 0 && d[i][j] == d[i-1][j-1]+1:
			count(a[i-1])
			i, j = i-1, j-1
		case i > 0 && d[i][j] == d[i-1][j]+1:
			count(a[i-1])
			i--
		default:
			count(b[j-1])
			j--
		}
	}
	return near, far
}

// agentName is the name an agent registered with.
func agentName(t testing.TB, s *stack, id string) string {
	t.Helper()
	l, err := s.admin.ListAgents(context.Background())
	if err != nil {
		t.Fatalf("list agents: %v", err)
	}
	for _, a := range l.Agents {
		if a.ID == id {
			return a.Name
		}
	}
	return ""
}

// leasedChunk waits until one of the job's chunks is being transcribed and
// returns that task.
func leasedChunk(t testing.TB, s *stack, jobID string) api.TaskInfo {
	t.Helper()
	deadline := time.Now().Add(longWait)
	for {
		tasks, _ := tasksOf(t, s.admin, jobID)
		for _, k := range tasks {
			if k.Kind == "transcribe" && k.Status == "leased" && k.AgentID != "" {
				return k
			}
			if k.Kind == "merge" && k.Status != "waiting" {
				t.Fatalf("job %s is merging before a chunk could be interrupted (make the media longer)", jobID)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no chunk of job %s leased after %s: %+v", jobID, longWait, tasks)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLongMediaFaults kills the agent holding a chunk (only that chunk runs
// again) and cancels a split job mid-run (every unfinished task ends
// canceled and none runs afterwards).
func TestLongMediaFaults(t *testing.T) {
	t.Parallel()
	text := lecture(110)
	clip := serveClips(t, map[string]string{"talk.mp4": media.MP4(t, media.Speech(t, text))})["talk.mp4"]
	req := func(tag string) api.JobRequest {
		return api.JobRequest{URL: clip.url + "?" + tag, Language: "en", Cache: noCache(), ChunkSeconds: seconds(20)}
	}

	t.Run("sigkill", func(t *testing.T) {
		t.Parallel()
		// The lost lease must run out before the chunk is rescued: keep it short.
		s := startServer(t, productionEnv(t), "--lease-duration", "3s")
		token := s.enroll(t)
		agents := []*agent{s.startAgent(t, token, "kill-a"), s.startAgent(t, token, "kill-b"), s.startAgent(t, token, "kill-c")}
		s.waitAgents(t, len(agents), agents...)
		j, err := s.admin.SubmitJob(context.Background(), req("kill"), "")
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		victim := leasedChunk(t, s, j.ID)
		name := agentName(t, s, victim.AgentID)
		var h *agent
		for _, a := range agents {
			if a.Name == name {
				h = a
			}
		}
		if h == nil {
			t.Fatalf("chunk %s is held by unknown agent %s", victim.ID, victim.AgentID)
		}
		h.Signal(syscall.SIGKILL)
		if !h.Wait(stopWait) {
			t.Fatalf("%s still running after SIGKILL", h.Name)
		}
		// What the victim held when it died is still leased to it until the
		// lease runs out.
		held := map[string]bool{}
		after, _ := tasksOf(t, s.admin, j.ID)
		for _, k := range after {
			if k.Status == "leased" && k.AgentID == victim.AgentID {
				held[k.ID] = true
			}
		}
		j = waitLong(t, s.admin, j.ID)
		mustSucceed(t, j)
		checkJobCaptions(t, s.admin, j, text, clip.duration)
		final, kinds := tasksOf(t, s.admin, j.ID)
		t.Logf("%s held %d of %d tasks (%v) when killed", h.Name, len(held), len(final), kinds)
		for _, k := range final {
			want := 1
			if held[k.ID] {
				want = 2
			}
			if k.Status != "succeeded" || k.Attempts != want {
				t.Errorf("task %s (%s) %s after %d attempts, want succeeded after %d", k.ID, k.Kind, k.Status, k.Attempts, want)
			}
		}
	})

	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		token := s.enroll(t)
		agents := []*agent{s.startAgent(t, token, "cancel-a"), s.startAgent(t, token, "cancel-b")}
		s.waitAgents(t, len(agents), agents...)
		ctx := context.Background()
		j, err := s.admin.SubmitJob(ctx, req("cancel"), "")
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		leasedChunk(t, s, j.ID)
		if _, err := s.admin.CancelJob(ctx, j.ID); err != nil {
			t.Fatalf("cancel: %v", err)
		}
		j = waitJob(t, s.admin, j.ID)
		if j.Status != api.JobCanceled {
			t.Fatalf("job %s after cancel, want canceled", j.Status)
		}
		started := func() int {
			n := 0
			for _, a := range agents {
				for _, e := range a.events("task started") {
					if e.job == j.ID {
						n++
					}
				}
			}
			return n
		}
		before := started()
		// The agents keep leasing: a later job runs to the end, and no task
		// of the canceled one has started meanwhile.
		later, err := s.admin.SubmitJob(ctx, api.JobRequest{URL: clip.url + "?later", Language: "en", Cache: noCache(), ChunkSeconds: seconds(0)}, "")
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		mustSucceed(t, waitLong(t, s.admin, later.ID))
		tasks, _ := tasksOf(t, s.admin, j.ID)
		for _, k := range tasks {
			if k.Kind == "prepare" {
				if k.Status != "succeeded" {
					t.Errorf("prepare %s, want succeeded (it finished before the cancel)", k.Status)
				}
				continue
			}
			if k.Status != "canceled" {
				t.Errorf("task %s (%s) %s after cancel, want canceled", k.ID, k.Kind, k.Status)
			}
		}
		if n := started(); n != before {
			t.Errorf("%d tasks of the canceled job started after its cancel", n-before)
		}
		for _, a := range agents {
			emptyDir(t, a.Name+" work dir", a.workDir)
		}
	})
}

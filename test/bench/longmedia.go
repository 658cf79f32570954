package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// lectureText is spoken in turn to make the long media.
var lectureText = []string{
	"Welcome back to the lecture on the history of music.",
	"Today we look at how instruments changed over many years.",
	"The piano became popular in homes across the country.",
	"Many families gathered in the evening to sing together.",
	"Later the radio brought music to people who lived far away.",
	"Records made it possible to hear the same song again and again.",
}

// LongMedia times one long speech file captioned by real agent processes
// with pocketsphinx: split into chunks on one agent and on two, and whole
// on one. Each agent runs one task at a time, as a machine with one GPU
// would; the times are the server's, from submission to the final state.
func LongMedia(ctx context.Context, cfg Config, r *Results) error {
	sc := cfg.Scale
	sb, err := newSpeechBench(ctx, cfg, "long-media", sc.LongMediaSeconds)
	if err != nil {
		return err
	}
	defer sb.close()
	admin, mediaURL := sb.admin, sb.mediaURL
	run := func(tag string, chunk float64) (time.Duration, error) {
		f := false
		j, err := admin.SubmitJob(ctx, api.JobRequest{URL: mediaURL + "?" + tag, Language: "en", Cache: &f, ChunkSeconds: &chunk}, "")
		if err != nil {
			return 0, fmt.Errorf("submit: %w", err)
		}
		j, err = admin.WaitJob(ctx, j.ID, 200*time.Millisecond, nil)
		if err != nil {
			return 0, fmt.Errorf("wait for job: %w", err)
		}
		if j.Status != api.JobSucceeded || j.FinishedAt == nil {
			return 0, fmt.Errorf("job %s ended %s: %+v", j.ID, j.Status, j.Error)
		}
		took := j.FinishedAt.Sub(j.CreatedAt)
		cfg.Log.Info("long media", "run", tag, "chunk_seconds", chunk, "took", took, "chunks", j.Chunks)
		return took, nil
	}

	if err := sb.startAgent("agent-1"); err != nil {
		return err
	}
	if err := waitAgents(ctx, admin, 1); err != nil {
		return err
	}
	oneChunked, err := run("one-chunked", sc.LongMediaChunk)
	if err != nil {
		return err
	}
	oneWhole, err := run("one-whole", 0)
	if err != nil {
		return err
	}
	if err := sb.startAgent("agent-2"); err != nil {
		return err
	}
	if err := waitAgents(ctx, admin, 2); err != nil {
		return err
	}
	twoChunked, err := run("two-chunked", sc.LongMediaChunk)
	if err != nil {
		return err
	}
	r.Set("long_media_seconds", sc.LongMediaSeconds, "s")
	r.Set("long_media_1_agent_s", oneChunked.Seconds(), "s")
	r.Set("long_media_2_agents_s", twoChunked.Seconds(), "s")
	r.Set("long_media_speedup_2_agents", oneChunked.Seconds()/twoChunked.Seconds(), "x")
	r.Set("long_media_overhead_pct", 100*(oneChunked.Seconds()-oneWhole.Seconds())/oneWhole.Seconds(), "%")
	return nil
}

// speechBench is what the benchmarks with real agents share: a spoken
// clip served over loopback HTTP, a control plane, an enrollment, and the
// agent processes started on it.
type speechBench struct {
	cfg      Config
	dir      string
	mediaURL string
	admin    *api.Client
	url      string // the control plane's
	token    string // enrollment
	stops    []func()
}

// newSpeechBench speaks seconds of lecture and starts a control plane
// (named name) to caption it; close stops everything.
func newSpeechBench(ctx context.Context, cfg Config, name string, seconds float64) (_ *speechBench, err error) {
	b := &speechBench{cfg: cfg, dir: filepath.Join(cfg.WorkDir, name)}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	media, err := speechFile(ctx, b.dir, seconds)
	if err != nil {
		return nil, err
	}
	mediaURL, stopMedia, err := serveFile(media)
	if err != nil {
		return nil, err
	}
	b.mediaURL, b.stops = mediaURL, append(b.stops, stopMedia)
	s, err := StartServer(ctx, cfg, name)
	if err != nil {
		return nil, err
	}
	b.stops = append(b.stops, s.Stop)
	b.url, b.admin = s.URL, api.NewClient(s.URL, s.AdminKey, nil)
	enr, err := b.admin.CreateEnrollment(ctx, api.EnrollmentRequest{TTLSeconds: 3600})
	if err != nil {
		return nil, fmt.Errorf("create enrollment: %w", err)
	}
	b.token = enr.Token
	return b, nil
}

// startAgent starts one more agent process.
func (b *speechBench) startAgent(name string) error {
	stop, err := startAgentProc(b.cfg, b.url, b.token, b.dir, name)
	if err != nil {
		return err
	}
	b.stops = append(b.stops, stop)
	return nil
}

// close stops the agents, then the control plane, then the media server.
func (b *speechBench) close() {
	for i := len(b.stops) - 1; i >= 0; i-- {
		b.stops[i]()
	}
}

// startAgentProc runs a real agent process (the ytcaption-agent beside
// cfg.Bin, one task at a time, its log in dir) until the returned stop.
func startAgentProc(cfg Config, serverURL, enrollment, dir, name string) (stop func(), err error) {
	work, state := filepath.Join(dir, name+"-work"), filepath.Join(dir, name+"-state")
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, fmt.Errorf("agent log: %w", err)
	}
	cmd := exec.Command(filepath.Join(filepath.Dir(cfg.Bin), "ytcaption-agent"), "run", "--server", serverURL,
		"--token", enrollment, "--name", name, "--state-dir", state, "--work-dir", work, "--concurrency", "1")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start agent %s: %w", name, err)
	}
	return func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		log.Close()
	}, nil
}

// speechFile speaks seconds of lecture with flite (more words than fit,
// cut at seconds) and encodes it as AAC in an M4A file.
func speechFile(ctx context.Context, dir string, seconds float64) (string, error) {
	var b strings.Builder
	for i := 0; float64(len(strings.Fields(b.String()))) < seconds*3.3; i++ {
		b.WriteString(lectureText[i%len(lectureText)] + " ")
	}
	wav, out := filepath.Join(dir, "speech.wav"), filepath.Join(dir, "speech.m4a")
	for _, c := range [][]string{
		{"flite", "-voice", "slt", "-t", b.String(), "-o", wav},
		{"ffmpeg", "-nostdin", "-y", "-v", "error", "-i", wav, "-t", strconv.FormatFloat(seconds, 'f', -1, 64), "-c:a", "aac", "-b:a", "64k", out},
	} {
		if o, err := exec.CommandContext(ctx, c[0], c[1:]...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("%s: %w: %s", c[0], err, o)
		}
	}
	return out, nil
}

// serveFile serves one file over HTTP on loopback.
func serveFile(path string) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, path)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/" + filepath.Base(path), func() { _ = srv.Close() }, nil
}

// waitAgents waits until n agents are active.
func waitAgents(ctx context.Context, admin *api.Client, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		l, err := admin.ListAgents(ctx)
		if err == nil {
			active := 0
			for _, a := range l.Agents {
				if a.State == "active" {
					active++
				}
			}
			if active >= n {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return errors.New("agents did not become active in 2 minutes")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

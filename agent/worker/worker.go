// Package worker wires an agent together: it builds the speech engines and
// the media pipeline from plain configuration, registers with the control
// plane (or reuses a saved credential), advertises what this machine can
// run, and drives the lease loop. ytcaption-agent uses it, and so does
// `ytcaption dev`, which runs agents in-process.
package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/ytcaption/ytcaption/agent/internal/artifact"
	"github.com/ytcaption/ytcaption/agent/internal/asr"
	"github.com/ytcaption/ytcaption/agent/internal/audio"
	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/agent/internal/gpu"
	"github.com/ytcaption/ytcaption/agent/internal/pipeline"
	"github.com/ytcaption/ytcaption/agent/internal/runner"
	"github.com/ytcaption/ytcaption/agent/internal/source"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/internal/netguard"
	"github.com/ytcaption/ytcaption/internal/tracing"
)

// Version is reported to the control plane.
const Version = "0.1.0"

// Config is an agent's configuration.
type Config struct {
	Server      string // control-plane base URL
	Token       string // enrollment token (yte_…) or agent token (yta_…)
	Name        string // default: hostname
	StateDir    string // keeps the agent credential across restarts; "" keeps none
	WorkDir     string // temporary media; default os.TempDir()/ytcaption-agent
	Concurrency int
	Labels      map[string]string
	Engine      string // default engine: pocketsphinx, whisper-cpp or openai
	Grace       time.Duration
	LeaseWait   time.Duration
	// MaxDownloads and MaxTranscribes bound those stages across concurrent
	// tasks (0: only Concurrency bounds them), e.g. one transcription per GPU
	// while other slots download. MaxTranscribes 0 on a machine with GPUs
	// means one per GPU.
	MaxDownloads   int
	MaxTranscribes int
	// NvidiaSMI runs nvidia-smi to find GPUs; nil: the real one.
	NvidiaSMI gpu.Runner
	// Roles are what the agent does (api.RolePrepare, api.RoleTranscribe);
	// they decide the task kinds it leases. Empty: both.
	Roles []string
	// AllowPrivateSources lets downloads reach loopback and private
	// addresses (dev mode); AllowTargets lists exceptions ("10.2.0.0/16",
	// "127.0.0.1:8081"). Otherwise every download goes through an egress
	// guard that refuses them, whatever the URL, redirect or DNS answer.
	AllowPrivateSources bool
	AllowTargets        []string

	YTDLPBinary string
	// ArtifactCacheSize caps the cache of models and tools pushed to the
	// control plane, fetched before the first lease and again every
	// ArtifactRefresh (default DefaultArtifactRefresh) while the agent runs
	// (0: none fetched); ArtifactDir holds it (default: StateDir/artifacts,
	// else WorkDir/artifacts). With a cache, the check that an engine can
	// run waits for the first fetch: a model may arrive through it.
	ArtifactCacheSize int64
	ArtifactDir       string
	ArtifactRefresh   time.Duration
	Cookies           string
	Proxy             string
	FFmpeg            string
	FFprobe           string

	SphinxModelDir string // default: Debian's pocketsphinx-en-us location
	WhisperBinary  string
	WhisperModel   string
	OpenAIURL      string
	OpenAIKey      string
	OpenAIModel    string

	HTTPClient *http.Client // for the control plane; default: no overall timeout (long-polls)
	// CACert (PEM) is trusted besides the system roots, for a control plane
	// whose certificate a private CA signed; ClientCert and ClientKey (PEM)
	// are presented to it when it requires agent client certificates.
	CACert, ClientCert, ClientKey string
	// OTLPEndpoint exports a span per task, per pipeline stage and per
	// upload by OTLP/HTTP (e.g. http://otel-collector:4318), joined to the
	// job's trace through the lease's traceparent; "": none exported.
	// TracerProvider, if set, is used instead (tests).
	OTLPEndpoint   string
	TracerProvider trace.TracerProvider

	// HashiCorp stack (hashicorp.go): Server may be consul://SERVICE, found
	// through the Consul agent at ConsulAddr; an empty Token is read from
	// Vault; an agent placed by Nomad reports its node and allocation.
	ConsulAddr   string
	ConsulToken  string
	Vault        VaultConfig
	NomadNodeID  string
	NomadAllocID string
}

// Worker is a configured agent.
type Worker struct {
	cfg    Config
	log    *slog.Logger
	pipe   atomic.Pointer[pipeline.Pipeline] // replaced when artifacts change what runs
	runner atomic.Pointer[runner.Runner]
	base   string       // control-plane base URL (a placeholder with Consul)
	consul *consulState // nil unless Server is consul://
	guard  *netguard.Proxy
	upload *http.Client // presigned uploads; nil: the runner's default
	// mu guards caps and pipeCfg, which artifact refreshes change while
	// tasks run; pipeCfg rebuilds the pipeline when a fetched model or
	// yt-dlp changes what runs. cache is nil without an artifact cache.
	mu      sync.Mutex
	caps    api.Capabilities
	pipeCfg pipeline.Config
	cache   *artifact.Cache
	now     func() time.Time
	tracer  tracer
	// stopTracing exports the spans still buffered and stops the exporter
	// (a no-op unless New built the tracer provider).
	stopTracing func(context.Context) error
}

// DefaultArtifactRefresh is how often a running agent lists the pushed
// artifacts again. Polling, not a push from the control plane: a listing
// is one cheap read per agent (a fleet of 1,000 agents adds about three
// requests a second), needs no new protocol, and works the same behind
// every proxy; pushes are rare operator actions that can wait minutes.
const DefaultArtifactRefresh = 5 * time.Minute

// engines builds every engine the configuration names.
func engines(cfg Config) map[string]asr.Engine {
	ps := asr.PocketsphinxConfig{}
	if cfg.SphinxModelDir != "" {
		ps.HMM = filepath.Join(cfg.SphinxModelDir, "en-us")
		ps.LM = filepath.Join(cfg.SphinxModelDir, "en-us.lm.bin")
		ps.Dict = filepath.Join(cfg.SphinxModelDir, "cmudict-en-us.dict")
	}
	whisper := asr.WhisperConfig{Binary: cfg.WhisperBinary, Model: cfg.WhisperModel}
	if cfg.ArtifactCacheSize > 0 {
		// Pushed ggml models land here (artifact.Cache's layout).
		whisper.ModelDirs = []string{filepath.Join(ArtifactDir(cfg), api.ArtifactModel)}
	}
	m := map[string]asr.Engine{
		asr.NamePocketsphinx: asr.NewPocketsphinx(ps),
		asr.NameWhisperCpp:   asr.NewWhisperCpp(whisper),
	}
	if cfg.OpenAIURL != "" {
		m[asr.NameOpenAI] = asr.NewOpenAI(asr.OpenAIConfig{BaseURL: cfg.OpenAIURL, APIKey: cfg.OpenAIKey, Model: cfg.OpenAIModel})
	}
	for name, e := range extraEngines() { // empty unless built for tests
		m[name] = e
	}
	return m
}

// ArtifactDir is where the artifact cache of cfg lives.
func ArtifactDir(cfg Config) string {
	if cfg.ArtifactDir != "" {
		return cfg.ArtifactDir
	}
	return filepath.Join(cmp.Or(cfg.StateDir, cfg.WorkDir, defaultWorkDir()), "artifacts")
}

// defaultWorkDir holds temporary media when no WorkDir is configured.
func defaultWorkDir() string {
	return filepath.Join(os.TempDir(), "ytcaption-agent")
}

// pickEngines checks which engines can run here and picks the default one.
func pickEngines(ctx context.Context, cfg Config, log *slog.Logger) (available []api.EngineCapability, usable map[string]asr.Engine, def string, err error) {
	all := engines(cfg)
	available, why := asr.Capabilities(ctx, all)
	usable = map[string]asr.Engine{}
	for _, c := range available {
		usable[c.Name] = all[c.Name]
	}
	for name, err := range why {
		log.Debug("engine unavailable", "engine", name, "why", err)
	}
	transcribes := slices.Contains(cfg.Roles, api.RoleTranscribe)
	if len(usable) == 0 && transcribes {
		return nil, nil, "", fmt.Errorf("no speech engine can run here (%v); run `ytcaption-agent doctor`", why)
	}
	def = cfg.Engine
	if def == "" {
		// The most accurate engine present wins.
		for _, n := range []string{asr.NameWhisperCpp, asr.NameOpenAI, asr.NamePocketsphinx} {
			if _, ok := usable[n]; ok {
				def = n
				break
			}
		}
	}
	if _, ok := usable[def]; !ok && transcribes {
		return nil, nil, "", fmt.Errorf("engine %q cannot run here: %v", def, why[def])
	}
	return available, usable, def, nil
}

// New builds a worker and checks which engines can run here.
func New(ctx context.Context, cfg Config, log *slog.Logger) (_ *Worker, err error) {
	if cfg.Server == "" {
		return nil, errors.New("no control-plane server given")
	}
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	if cfg.Name == "" {
		cfg.Name, _ = os.Hostname()
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = defaultWorkDir()
	}
	if len(cfg.Roles) == 0 {
		cfg.Roles = []string{api.RolePrepare, api.RoleTranscribe}
	}
	available, usable, def, err := pickEngines(ctx, cfg, log)
	if err != nil && cfg.ArtifactCacheSize <= 0 {
		return nil, err
	}
	if err != nil {
		// A pushed model may make an engine usable: Run checks again after
		// the first artifact fetch.
		log.Info("no usable speech engine yet; checking again once pushed artifacts are fetched", "why", err)
	}
	upload, fetch, err := tlsClients(&cfg)
	if err != nil {
		return nil, err
	}
	guard, err := netguard.NewProxy(netguard.Policy{AllowPrivate: cfg.AllowPrivateSources, Allow: cfg.AllowTargets}, log)
	if err != nil {
		return nil, fmt.Errorf("start egress guard: %w", err)
	}
	defer func() {
		if err != nil {
			_ = guard.Close()
		}
	}()
	tp, stopTracing := cfg.TracerProvider, func(context.Context) error { return nil }
	if tp == nil {
		if tp, stopTracing, err = tracing.NewProvider(ctx, cfg.OTLPEndpoint, "ytcaption-agent"); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				_ = stopTracing(ctx)
			}
		}()
	}
	gpus, gpuErr := gpu.Detect(ctx, cfg.NvidiaSMI) // not New's err: a warning, no reason to fail
	if gpuErr != nil {
		log.Warn("cannot list GPUs; running without them (see `ytcaption-agent doctor`)", "err", gpuErr)
	}
	cfg.MaxTranscribes = maxTranscribes(cfg.MaxTranscribes, len(gpus))
	pipeCfg := pipeline.Config{
		YTDLP: source.Config{Binary: cfg.YTDLPBinary, CookiesFile: cfg.Cookies, Proxy: cfg.Proxy,
			GuardProxy: guard.URL(), Logger: log},
		FFmpeg: audio.Config{FFmpeg: cfg.FFmpeg, FFprobe: cfg.FFprobe}, Engines: usable, DefaultEngine: def, Logger: log,
		HTTPClient:  fetch,
		StageLimits: map[string]int{pipeline.StageDownload: cfg.MaxDownloads, pipeline.StageTranscribe: cfg.MaxTranscribes},
	}
	nomadLabels(&cfg)
	caps := api.Capabilities{Engines: available, Labels: cfg.Labels, Slots: cfg.Concurrency, GPUs: gpus,
		Kinds: api.KindsForRoles(cfg.Roles)}
	w := &Worker{cfg: cfg, log: log, pipeCfg: pipeCfg, caps: caps, guard: guard, upload: upload, now: time.Now,
		tracer: newTracer(tp), stopTracing: stopTracing}
	w.pipe.Store(pipeline.New(pipeCfg))
	if cfg.ArtifactCacheSize > 0 {
		if w.cache, err = artifact.New(ArtifactDir(cfg), cfg.ArtifactCacheSize, upload, log, nil); err != nil {
			return nil, err
		}
	}
	if err := w.setupDiscovery(); err != nil {
		return nil, err
	}
	w.cfg.HTTPClient = propagating(w.cfg.HTTPClient)
	if err := w.enrollmentToken(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// maxTranscribes is the transcription limit: the one configured, else one
// per GPU, else none (Concurrency alone bounds it).
func maxTranscribes(configured, gpus int) int {
	if configured == 0 {
		return gpus
	}
	return configured
}

// Capabilities is what the worker advertises.
func (w *Worker) Capabilities() api.Capabilities {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.caps
}

// Execute implements runner.Executor with the media pipeline, by task kind,
// each stage in a span of its own.
func (w *Worker) Execute(ctx context.Context, l api.Lease, progress func(string, float64)) (runner.Output, error) {
	progress, end := w.tracer.stages(ctx, progress)
	out, err := w.execute(ctx, l, progress)
	end(err)
	return out, err
}

func (w *Worker) execute(ctx context.Context, l api.Lease, progress func(string, float64)) (runner.Output, error) {
	var run func(context.Context, api.TaskSpec, string, pipeline.ProgressFunc) (api.Transcript, api.Result, error)
	pipe := w.pipe.Load()
	switch l.Kind {
	case api.KindCaption, "": // "": a control plane from before task graphs
		o, err := pipe.Run(ctx, l.Spec, w.cfg.WorkDir, progress)
		if err != nil {
			return runner.Output{}, err
		}
		return output(o), nil
	case api.KindTranscribe:
		run = pipe.TranscribeChunk
	case api.KindMerge:
		run = pipe.Merge
	case api.KindPrepare:
		return w.prepare(ctx, l, progress)
	default:
		return runner.Output{}, failure.Permanent(api.CodeInvalidRequest, "unknown task kind %q", l.Kind)
	}
	tr, res, err := run(ctx, l.Spec, w.cfg.WorkDir, progress)
	if err != nil {
		return runner.Output{}, err
	}
	return runner.Output{Transcript: tr, Result: res}, nil
}

// prepare runs a prepare task: a transcript when it finished in place, else
// the chunks, which the runner uploads and then removes.
func (w *Worker) prepare(ctx context.Context, l api.Lease, progress func(string, float64)) (runner.Output, error) {
	inPlace := slices.Contains(w.cfg.Roles, api.RoleTranscribe)
	p, err := w.pipe.Load().Prepare(ctx, l.Spec, w.cfg.WorkDir, inPlace, progress)
	if err != nil {
		return runner.Output{}, err
	}
	return output(p), nil
}

// output hands a caption or prepare task's output to the runner, which
// uploads the transcript or chunks and the playback copy, then removes
// them.
func output(o pipeline.Output) runner.Output {
	out := runner.Output{Transcript: o.Transcript, Result: o.Result, Cleanup: o.Cleanup}
	if o.Playback != nil {
		out.Playback = o.Playback.Wait
	}
	if o.Chunks != nil {
		out.Chunks = make([]runner.ChunkFile, len(o.Chunks))
	}
	for i, c := range o.Chunks {
		out.Chunks[i] = runner.ChunkFile{Chunk: api.Chunk{Index: c.Index, Start: c.Start, End: c.End}, Path: c.Path}
	}
	return out
}

// Run registers (or reuses the saved credential) and runs tasks until ctx
// ends, then shuts down gracefully. Kill, from another goroutine, makes the
// shutdown immediate (running tasks are handed back).
func (w *Worker) Run(ctx context.Context) error {
	defer w.guard.Close()
	defer func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := w.stopTracing(fctx); err != nil {
			w.log.Warn("spans not all exported", "err", err)
		}
	}()
	w.startDiscovery(ctx)
	defer w.stopDiscovery()
	bo := reconnectBackoff()
	for {
		tok, fromCache, err := w.credential(ctx)
		if err != nil && api.Retryable(err) && ctx.Err() == nil {
			// The control plane is restarting or unreachable: wait for it
			// rather than exit, as a long-running worker should.
			wait := bo.NextBackOff()
			w.log.Warn("cannot register yet; retrying", "err", err, "retry_in", wait)
			if !sleep(ctx, wait) {
				return ctx.Err()
			}
			continue
		}
		if err != nil {
			return err
		}
		bo.Reset()
		// Every call reads the current token, so a renewal reaches the
		// lease loop and running tasks' heartbeats without a restart.
		client := api.NewClientWithTokenSource(w.base, tok.Token, w.cfg.HTTPClient)
		if err := w.refreshArtifacts(ctx, client); err != nil {
			return err
		}
		r := runner.New(client, w, runner.Config{
			Slots: w.cfg.Concurrency, Capabilities: w.Capabilities(), LeaseWait: w.cfg.LeaseWait, Grace: w.cfg.Grace,
			// Spooled results sit beside the task directories (and go with
			// them), not in a shared $TMPDIR that --work-dir would not cover.
			SpoolDir: w.cfg.WorkDir, HTTP: w.upload, Tracer: w.tracer,
		}, w.log)
		w.runner.Store(r)
		// Renewal outlives a graceful stop's start: finishing tasks still report.
		rctx, stopRenew := context.WithCancel(context.WithoutCancel(ctx))
		renewed, refreshed := make(chan struct{}), make(chan struct{})
		go func() { defer close(renewed); w.renewLoop(rctx, client, tok, w.now) }()
		go func() { defer close(refreshed); w.artifactLoop(rctx, client, r) }()
		err = r.Run(ctx)
		stopRenew()
		<-renewed
		<-refreshed
		// A saved credential may be stale, and one that expired while the
		// control plane was out of reach is dead: enroll again. A revoked
		// agent's fresh credential is not renewed this way.
		stale := fromCache || tok.expired(w.now())
		if errors.Is(err, runner.ErrUnauthorized) && stale && strings.HasPrefix(w.cfg.Token, "yte_") {
			w.log.Warn("agent credential rejected; enrolling again")
			_ = os.Remove(w.statePath())
			continue
		}
		return err
	}
}

// refreshArtifacts fetches the pushed models and tools the cache lacks
// (docs/architecture.md, "Pushed models and tools"), advertises what it
// holds, checks the engines again (a fetched ggml model serves whisper-cpp
// from now on), and runs a pushed yt-dlp newer than the system one. Fetch
// failures are logged: the agent works with what it has. The one error is
// an agent that transcribes with no engine able to run, even after the
// fetch.
func (w *Worker) refreshArtifacts(ctx context.Context, l artifact.Lister) error {
	if w.cache == nil {
		return nil
	}
	system := cmp.Or(w.cfg.YTDLPBinary, "yt-dlp")
	h, err := w.cache.Refresh(ctx, l, system)
	if err != nil {
		w.log.Warn("artifacts not all fetched", "err", err)
	}
	available, usable, def, engErr := pickEngines(ctx, w.cfg, w.log)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.caps.Artifacts = h.Artifacts
	cfg := w.pipeCfg
	switch {
	case engErr == nil:
		w.caps.Engines, cfg.Engines, cfg.DefaultEngine = available, usable, def
	case len(w.pipeCfg.Engines) == 0:
		return fmt.Errorf("%w; with an artifact cache, push a model every agent fetches: "+
			"`ytcaption artifacts push ggml-base.en.bin --name ggml-base.en.bin --kind model` (whisper-cpp)", engErr)
	default:
		w.log.Warn("engines not checked again; keeping the ones found before", "err", engErr)
	}
	cfg.YTDLP.Binary = w.cfg.YTDLPBinary
	if h.YtDlp != system {
		cfg.YTDLP.Binary = h.YtDlp
	}
	if cfg.YTDLP.Binary != w.pipeCfg.YTDLP.Binary {
		w.log.Info("yt-dlp changed", "path", cmp.Or(cfg.YTDLP.Binary, system))
	}
	if sameRun(cfg, w.pipeCfg) {
		return nil
	}
	w.pipeCfg = cfg
	p := pipeline.New(cfg)
	p.ShareStages(w.pipe.Load()) // tasks on the old pipeline still count
	w.pipe.Store(p)
	return nil
}

// sameRun reports whether pipelines built from a and b run tasks alike
// (what artifact refreshes change: engines and yt-dlp).
func sameRun(a, b pipeline.Config) bool {
	return a.YTDLP.Binary == b.YTDLP.Binary && a.DefaultEngine == b.DefaultEngine &&
		slices.Equal(slices.Sorted(maps.Keys(a.Engines)), slices.Sorted(maps.Keys(b.Engines)))
}

// artifactLoop refreshes the artifacts every ArtifactRefresh until ctx
// ends, handing r what the agent advertises afterwards: its next lease
// request carries it.
func (w *Worker) artifactLoop(ctx context.Context, l artifact.Lister, r *runner.Runner) {
	if w.cache == nil {
		return
	}
	every := cmp.Or(w.cfg.ArtifactRefresh, DefaultArtifactRefresh)
	for sleep(ctx, every) {
		if err := w.refreshArtifacts(ctx, l); err != nil {
			w.log.Warn("artifact refresh", "err", err)
		}
		r.SetCapabilities(w.Capabilities())
	}
}

// Kill ends a running worker at once, handing running tasks back.
func (w *Worker) Kill() {
	if r := w.runner.Load(); r != nil {
		r.Kill()
	}
}

// Active is the number of tasks running now.
func (w *Worker) Active() int {
	if r := w.runner.Load(); r != nil {
		return r.Active()
	}
	return 0
}

// credential returns the agent token to use: the configured one if it is an
// agent token (or the saved renewal of it), a saved one for this server, or
// a fresh one from enrolling.
func (w *Worker) credential(ctx context.Context) (tok *agentToken, fromCache bool, err error) {
	saved, ok := w.loadCredential()
	if id, isAgent := agentTokenID(w.cfg.Token); isAgent {
		if ok && saved.AgentID == id {
			return newAgentToken(saved.Token, saved.ExpiresAt), true, nil
		}
		return newAgentToken(w.cfg.Token, time.Time{}), false, nil
	}
	if ok {
		return newAgentToken(saved.Token, saved.ExpiresAt), true, nil
	}
	if w.cfg.Token == "" {
		return nil, false, errors.New("no token: pass an enrollment token (ytcaption agents enroll)")
	}
	host, _ := os.Hostname()
	resp, err := api.NewClient(w.base, "", w.cfg.HTTPClient).Register(ctx, api.RegisterRequest{
		EnrollmentToken: w.cfg.Token, Name: w.cfg.Name, Hostname: host,
		Version: Version + " " + runtime.GOOS + "/" + runtime.GOARCH, Capabilities: w.Capabilities(),
	})
	if err != nil {
		return nil, false, fmt.Errorf("register with %s: %w", w.cfg.Server, err)
	}
	w.log.Info("registered with the control plane", "agent", resp.AgentID, "server", w.cfg.Server, "expires_at", resp.ExpiresAt)
	w.saveCredential(resp.AgentID, resp.Token, resp.ExpiresAt)
	return newAgentToken(resp.Token, resp.ExpiresAt), false, nil
}

// agentTokenID is the agent id inside an agent token (yta_<id>_<secret>).
func agentTokenID(token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, "yta_")
	if !ok {
		return "", false
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || id == "" || secret == "" {
		return "", false
	}
	return id, true
}

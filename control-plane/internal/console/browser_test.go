package console_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/server"
)

const browserAdminKey = "console-browser-admin-key-0123"

// chromium finds the browser that test/env/bootstrap.sh installs.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium found: run test/env/bootstrap.sh (it installs Debian's chromium)")
	return ""
}

// newBrowserContext starts a headless Chromium with a fresh profile.
func newBrowserContext(t *testing.T) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1360, 860),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// step runs browser actions with a bound, so a broken page fails the test
// instead of hanging it.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		// Show where the page was, which says more than a timeout.
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer dcancel()
		state, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 2000)`))
		t.Fatalf("%s: %v\npage: %s", what, err, state)
	}
}

// waitJS waits until a JavaScript expression is truthy.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(25*time.Second))
}

// TestBrowser drives the console in real headless Chromium against a real
// control plane: a bad key is refused, a good one logs in with the right
// cookie flags, a submitted job shows up and is canceled from its page, and
// an agent shows up in the fleet and is drained.
func TestBrowser(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	srv, err := server.New(ctx, server.Config{Listen: "127.0.0.1:0", DataDir: dir,
		DatabaseURL: filepath.Join(dir, "yt.db"), AdminKey: browserAdminKey, AllowPrivateSources: true}, quiet())
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	base := srv.URL()
	admin := api.NewClient(base, browserAdminKey, nil)

	// Jobs nobody runs stay queued; the newest is the one the test cancels.
	var j api.Job
	for i := range 4 {
		p := 5 + i%3
		if j, err = admin.SubmitJob(ctx, api.JobRequest{URL: "http://127.0.0.1:9/talk-" + strconv.Itoa(i) + ".mp4", Language: "en", Priority: &p}, ""); err != nil {
			t.Fatalf("submit: %v", err)
		}
	}
	e, err := admin.CreateEnrollment(ctx, api.EnrollmentRequest{})
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	reg, err := api.NewClient(base, "", nil).Register(ctx, api.RegisterRequest{EnrollmentToken: e.Token, Name: "gpu-worker-1",
		Hostname: "gpu-01.internal", Version: "test", Capabilities: api.Capabilities{Slots: 2,
			Engines: []api.EngineCapability{{Name: "whisper-cpp", Models: []string{"large-v3"}}},
			GPUs:    []api.GPU{{Name: "NVIDIA A100", MemoryMB: 81920}}, Labels: map[string]string{"gpu": "a100"}}})
	if err != nil {
		t.Fatalf("register: %v", err)
	}

	b := newBrowserContext(t)

	step(t, b, "a bad key is refused",
		chromedp.Navigate(base+"/console/"),
		chromedp.WaitVisible(chromedp.ID("key")), // no session: sent to the login page
		chromedp.SendKeys(chromedp.ID("key"), "ytc_not_a_real_key"),
		chromedp.Click(chromedp.ID("login-submit")),
		waitJS(`!document.getElementById('login-error').hidden && document.getElementById('login-error').textContent.includes('not valid')`),
	)
	step(t, b, "log in",
		chromedp.SetValue(chromedp.ID("key"), browserAdminKey),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("logout")), // the console page, after the redirect
		waitJS(`location.pathname === '/console/' && document.getElementById('who').textContent.includes('admin')`),
	)

	step(t, b, "check the session cookies", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
		if err != nil {
			return err
		}
		seen := map[string]*network.Cookie{}
		for _, c := range res.Cookies {
			seen[c.Name] = c
		}
		s, c := seen["ytc_session"], seen["ytc_csrf"]
		if s == nil || c == nil {
			t.Fatalf("cookies after login: %v", seen)
		}
		if !s.HTTPOnly || s.SameSite != network.CookieSameSiteStrict || s.Path != "/" || s.Secure {
			t.Errorf("session cookie: HttpOnly=%v SameSite=%v Path=%q Secure=%v", s.HTTPOnly, s.SameSite, s.Path, s.Secure)
		}
		if c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
			t.Errorf("csrf cookie: HttpOnly=%v SameSite=%v", c.HTTPOnly, c.SameSite)
		}
		return nil
	}))
	visible, err := chromedp.Run(b, chromedp.Evaluate[string](`document.cookie`))
	if err != nil {
		t.Fatal(err)
	}
	if !containsCookie(visible, "ytc_csrf") || containsCookie(visible, "ytc_session") {
		t.Errorf("document.cookie = %q: want ytc_csrf readable and ytc_session hidden", visible)
	}

	row := `tr[data-job="` + j.ID + `"]`
	step(t, b, "see the job in the list",
		chromedp.Navigate(base+"/console/#/jobs"),
		chromedp.WaitVisible(chromedp.CSS(row)),
		waitJS(`document.querySelectorAll('#jobs-body tr[data-job]').length === 4`),
	)
	shot(t, b, "jobs")

	step(t, b, "open the job and cancel it",
		chromedp.Click(chromedp.CSS(row+` a`)),
		waitJS(`document.querySelector('#job-status .badge') && document.querySelector('#job-status .badge').textContent === 'queued'`),
		waitJS(`document.querySelector('#tasks-body tr[data-kind="prepare"] .badge').textContent === 'queued'`),
		chromedp.Click(chromedp.ID("job-cancel")),
		waitJS(`document.querySelector('#job-status .badge') && document.querySelector('#job-status .badge').textContent === 'canceled'`),
		chromedp.WaitVisible(chromedp.ID("job-retry")),
	)
	shot(t, b, "job")
	if got, err := admin.GetJob(ctx, j.ID); err != nil || got.Status != api.JobCanceled {
		t.Fatalf("job after cancel in the console: %v %v", got.Status, err)
	}

	agentRow := `tr[data-agent="` + reg.AgentID + `"]`
	step(t, b, "see the agent and drain it",
		chromedp.Navigate(base+"/console/#/fleet"),
		chromedp.WaitVisible(chromedp.CSS(agentRow)),
		waitJS(`document.querySelector('`+agentRow+`').textContent.includes('whisper-cpp (large-v3)')`),
		waitJS(`document.querySelector('`+agentRow+` .badge').textContent === 'active'`),
		chromedp.Click(chromedp.CSS(agentRow+` button[data-action="drain"]`)),
		waitJS(`document.querySelector('`+agentRow+` .badge').textContent === 'draining'`),
	)
	shot(t, b, "fleet")
	agents, err := admin.ListAgents(ctx)
	if err != nil || len(agents.Agents) != 1 || agents.Agents[0].State != "draining" {
		t.Fatalf("agents after drain in the console: %+v %v", agents, err)
	}

	step(t, b, "the overview counts the queue",
		chromedp.Navigate(base+"/console/#/overview"),
		waitJS(`[...document.querySelectorAll('.card')].some(c => c.textContent.startsWith('Queued3'))`),
	)
	shot(t, b, "overview")

	step(t, b, "cancel every queued job by filter",
		chromedp.Navigate(base+"/console/#/jobs?status=queued"),
		waitJS(`document.querySelectorAll('#jobs-body tr[data-job]').length === 3`),
		chromedp.Click(chromedp.ID("bulk-cancel")),
		chromedp.WaitVisible(chromedp.CSS(`.confirm button.danger`)),
		waitJS(`document.querySelector('.confirm span').textContent === 'Cancel 3 matching jobs?'`),
		chromedp.Click(chromedp.CSS(`.confirm button.danger`)),
		waitJS(`document.getElementById('notice').textContent === 'Canceled 3 jobs.'`),
		waitJS(`document.querySelector('#jobs-body td.empty') !== null`),
	)
	if l, err := admin.ListJobs(ctx, api.JobQueued, 10, ""); err != nil || len(l.Jobs) != 0 {
		t.Fatalf("queued jobs after the bulk cancel: %+v %v", l, err)
	}

	step(t, b, "sign out",
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.Navigate(base+"/console/#/jobs"),
		chromedp.WaitVisible(chromedp.ID("key")),
	)
}

// shot saves a PNG of the page as <name>.png in $YTCAPTION_CONSOLE_SCREENSHOTS,
// when that is set, for a person to look at.
func shot(t *testing.T, b context.Context, name string) {
	t.Helper()
	dir := os.Getenv("YTCAPTION_CONSOLE_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func containsCookie(header, name string) bool {
	for part := range strings.SplitSeq(header, ";") {
		if strings.HasPrefix(strings.TrimSpace(part), name+"=") {
			return true
		}
	}
	return false
}

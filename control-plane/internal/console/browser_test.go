package console_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/server"
	chrome "github.com/ytcaption/ytcaption/test/browser"
)

const browserAdminKey = "console-browser-admin-key-0123"

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

	b := chrome.Start(t, 1360, 860)

	chrome.Step(t, b, "a bad key is refused",
		chromedp.Navigate(base+"/console/"),
		chromedp.WaitVisible(chromedp.ID("key")), // no session: sent to the login page
		chromedp.SendKeys(chromedp.ID("key"), "ytc_not_a_real_key"),
		chromedp.Click(chromedp.ID("login-submit")),
		chrome.WaitJS(`!document.getElementById('login-error').hidden && document.getElementById('login-error').textContent.includes('not valid')`),
	)
	chrome.Step(t, b, "log in",
		chromedp.SetValue(chromedp.ID("key"), browserAdminKey),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("logout")), // the console page, after the redirect
		chrome.WaitJS(`location.pathname === '/console/' && document.getElementById('who').textContent.includes('admin')`),
	)

	chrome.Step(t, b, "check the session cookies", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
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
	chrome.Step(t, b, "see the job in the list",
		chromedp.Navigate(base+"/console/#/jobs"),
		chromedp.WaitVisible(chromedp.CSS(row)),
		chrome.WaitJS(`document.querySelectorAll('#jobs-body tr[data-job]').length === 4`),
	)

	chrome.Step(t, b, "open the job and cancel it",
		chromedp.Click(chromedp.CSS(row+` a`)),
		chrome.WaitJS(`document.querySelector('#job-status .badge') && document.querySelector('#job-status .badge').textContent === 'queued'`),
		chrome.WaitJS(`document.querySelector('#tasks-body tr[data-kind="prepare"] .badge').textContent === 'queued'`),
		chromedp.Click(chromedp.ID("job-cancel")),
		chrome.WaitJS(`document.querySelector('#job-status .badge') && document.querySelector('#job-status .badge').textContent === 'canceled'`),
		chromedp.WaitVisible(chromedp.ID("job-retry")),
	)
	if got, err := admin.GetJob(ctx, j.ID); err != nil || got.Status != api.JobCanceled {
		t.Fatalf("job after cancel in the console: %v %v", got.Status, err)
	}

	agentRow := `tr[data-agent="` + reg.AgentID + `"]`
	chrome.Step(t, b, "see the agent and drain it",
		chromedp.Navigate(base+"/console/#/fleet"),
		chromedp.WaitVisible(chromedp.CSS(agentRow)),
		chrome.WaitJS(`document.querySelector('`+agentRow+`').textContent.includes('whisper-cpp (large-v3)')`),
		chrome.WaitJS(`document.querySelector('`+agentRow+` .badge').textContent === 'active'`),
		chromedp.Click(chromedp.CSS(agentRow+` button[data-action="drain"]`)),
		chrome.WaitJS(`document.querySelector('`+agentRow+` .badge').textContent === 'draining'`),
	)
	agents, err := admin.ListAgents(ctx)
	if err != nil || len(agents.Agents) != 1 || agents.Agents[0].State != "draining" {
		t.Fatalf("agents after drain in the console: %+v %v", agents, err)
	}

	chrome.Step(t, b, "the overview counts the queue",
		chromedp.Navigate(base+"/console/#/overview"),
		chrome.WaitJS(`[...document.querySelectorAll('.card')].some(c => c.textContent.startsWith('Queued3'))`),
	)

	chrome.Step(t, b, "cancel every queued job by filter",
		chromedp.Navigate(base+"/console/#/jobs?status=queued"),
		chrome.WaitJS(`document.querySelectorAll('#jobs-body tr[data-job]').length === 3`),
		chromedp.Click(chromedp.ID("bulk-cancel")),
		chromedp.WaitVisible(chromedp.CSS(`.confirm button.danger`)),
		chrome.WaitJS(`document.querySelector('.confirm span').textContent === 'Cancel 3 matching jobs?'`),
		chromedp.Click(chromedp.CSS(`.confirm button.danger`)),
		chrome.WaitJS(`document.getElementById('notice').textContent === 'Canceled 3 jobs.'`),
		chrome.WaitJS(`document.querySelector('#jobs-body td.empty') !== null`),
	)
	if l, err := admin.ListJobs(ctx, api.JobQueued, 10, ""); err != nil || len(l.Jobs) != 0 {
		t.Fatalf("queued jobs after the bulk cancel: %+v %v", l, err)
	}

	chrome.Step(t, b, "sign out",
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.Navigate(base+"/console/#/jobs"),
		chromedp.WaitVisible(chromedp.ID("key")),
	)
}

func containsCookie(header, name string) bool {
	for part := range strings.SplitSeq(header, ";") {
		if strings.HasPrefix(strings.TrimSpace(part), name+"=") {
			return true
		}
	}
	return false
}

package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/browser"
	"github.com/ytcaption/ytcaption/test/media"
)

// hookReceiver records the webhook deliveries it gets, by event id.
type hookReceiver struct {
	mu     sync.Mutex
	events map[string]int // event id → deliveries received
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev api.WebhookEvent
	b, _ := io.ReadAll(r.Body)
	if json.Unmarshal(b, &ev) == nil && ev.ID != "" {
		h.mu.Lock()
		h.events[ev.ID]++
		h.mu.Unlock()
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) count(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.events[id]
}

// getJSON calls the API with the stack's admin key.
func (s *stack) getJSON(t testing.TB, path string, out any) {
	t.Helper()
	if err := s.admin.Do(context.Background(), http.MethodGet, path, nil, out, nil); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// js quotes a Go string as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestConsole drives every page of the operator console in headless
// Chromium, as a person would, against a real control plane (PostgreSQL,
// Redis, MinIO) with two real agents: the overview's charts show the jobs
// just run, a chunked job's page tells its story, the player plays the media
// with its captions and the transcript follows it, the fleet shows each
// agent's history, keys, tenants, enrollment tokens and webhooks are managed
// end to end, every action lands in the audit log, and a viewer sees none of
// it. With YTCAPTION_CONSOLE_SCREENSHOTS set it saves a screenshot of each
// page there (`make screenshots` puts them in docs/console/).
func TestConsole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	hello := "the quick brown fox jumps over the lazy dog. a stitch in time saves nine. every cloud has a silver lining. " +
		"the early bird catches the worm. actions speak louder than words. practice makes perfect."
	clips := serveClips(t, map[string]string{
		"hello.mp4":   media.MP4(t, media.Speech(t, hello)),
		"lecture.mp4": media.MP4(t, media.Speech(t, lecture(40))),
	})
	brokenDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(brokenDir, "broken.mp4"), []byte(strings.Repeat("this is not media ", 4096)), 0o644); err != nil {
		t.Fatal(err)
	}
	brokenURL := media.Serve(t, brokenDir) + "/broken.mp4"

	recv := &hookReceiver{events: map[string]int{}}
	hooks := httptest.NewServer(recv)
	t.Cleanup(hooks.Close)

	s := startServer(t, append(productionEnv(t), "YTCAPTION_FLEET_SAMPLE_INTERVAL=1s"))
	token := s.enroll(t)
	agents := []*agent{s.startAgent(t, token, "gpu-1"), s.startAgent(t, token, "gpu-2")}
	s.waitAgents(t, len(agents), agents...)
	var fleetList api.AgentList
	s.getJSON(t, "/v1/agents", &fleetList)
	agentID := map[string]string{}
	for _, a := range fleetList.Agents {
		agentID[a.Name] = a.ID
	}

	b := browser.Start(t, 1280, 800)
	login(t, b, s.url, s.key, "admin")

	// A webhook endpoint added in the console, before the jobs run.
	browser.Step(t, b, "add a webhook endpoint",
		chromedp.Navigate(s.url+"/console/#/admin?section=webhooks"),
		chromedp.WaitVisible(chromedp.ID("endpoint-form-url")),
		chromedp.SendKeys(chromedp.ID("endpoint-form-url"), hooks.URL+"/hook"),
		chromedp.Click(chromedp.CSS(`#endpoint-form button[type=submit]`)),
		browser.WaitJS(`document.querySelector('#endpoints-body tr[data-endpoint]') !== null`),
	)

	// Real work: a short clip in one task, a 40 s lecture in 15 s chunks, and
	// a file that is not media.
	submit := func(req api.JobRequest) api.Job {
		t.Helper()
		j, err := s.admin.SubmitJob(ctx, req, "")
		if err != nil {
			t.Fatalf("submit %s: %v", req.URL, err)
		}
		return j
	}
	short := submit(api.JobRequest{URL: clips["hello.mp4"].url, Language: "en", Cache: noCache(), ChunkSeconds: seconds(0)})
	chunked := submit(api.JobRequest{URL: clips["lecture.mp4"].url, Language: "en", Cache: noCache(), ChunkSeconds: seconds(15)})
	failed := submit(api.JobRequest{URL: brokenURL, Language: "en", Cache: noCache()})
	short, chunked, failed = waitJob(t, s.admin, short.ID), waitLong(t, s.admin, chunked.ID), waitJob(t, s.admin, failed.ID)
	mustSucceed(t, short)
	mustSucceed(t, chunked)
	if failed.Status != api.JobFailed || failed.Error == nil {
		t.Fatalf("broken media job: %s %+v, want failed", failed.Status, failed.Error)
	}

	t.Run("overview", func(t *testing.T) {
		// The charts were given the server's series: compare them with the
		// statistics the API answers, once both count every job just run.
		var st api.Stats
		browser.Step(t, b, "open the overview",
			chromedp.Navigate(s.url+"/console/#/overview"),
			browser.WaitJS(`document.getElementById('live').textContent === 'live'`),
			browser.WaitJS(`window.ytcCharts.throughput && window.ytcCharts.throughput.data[2].reduce((a, v) => a + v, 0) >= 2`),
			browser.WaitJS(`window.ytcCharts.throughput.data[3].reduce((a, v) => a + v, 0) >= 1`),
			browser.WaitJS(`window.ytcCharts.fleet && Math.max(...window.ytcCharts.fleet.data[2]) >= 2`),
			browser.WaitJS(`document.querySelector('#error-codes li[data-code=`+js(failed.Error.Code)+`]') !== null`),
		)
		s.getJSON(t, "/v1/stats?window=1h", &st)
		got := browser.Eval[[][]float64](t, b, `(() => { const d = window.ytcCharts.throughput.data; return [d[1], d[2], d[3]]; })()`)
		var want [3][]float64
		for _, bk := range st.Buckets {
			want[0] = append(want[0], float64(bk.Submitted))
			want[1] = append(want[1], float64(bk.Succeeded))
			want[2] = append(want[2], float64(bk.Failed))
		}
		for i, name := range []string{"submitted", "succeeded", "failed"} {
			if !slices.Equal(got[i], want[i]) {
				t.Errorf("throughput chart's %s series %v, want the API's %v", name, got[i], want[i])
			}
		}
		if st.Summary.Succeeded < 2 || st.Summary.Failed < 1 {
			t.Errorf("stats summary %+v: want ≥ 2 succeeded and ≥ 1 failed", st.Summary)
		}
		// Points were drawn: the throughput canvas is not blank.
		if n := browser.Eval[int](t, b, `(() => { const c = document.querySelector('#chart-throughput canvas');
			const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
			for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; })()`); n < 200 {
			t.Errorf("throughput canvas has %d drawn pixels", n)
		}
		// Live updates arrive without moving anything on the page.
		cls := browser.Eval[float64](t, b, `new Promise((resolve) => {
			let sum = 0, seen = 0;
			new PerformanceObserver((l) => { for (const e of l.getEntries()) if (!e.hadRecentInput) sum += e.value; }).observe({ type: 'layout-shift', buffered: false });
			const cards = document.getElementById('overview-cards');
			new MutationObserver(() => { if (++seen >= 2) setTimeout(() => resolve(sum), 300); }).observe(cards, { childList: true });
		})`)
		if cls > 0.01 {
			t.Errorf("cumulative layout shift %.4f while live statistics arrived", cls)
		}
		browser.Shot(t, b, "overview")
	})

	t.Run("job story", func(t *testing.T) {
		var tasks api.TaskList
		s.getJSON(t, "/v1/jobs/"+chunked.ID+"/tasks", &tasks)
		browser.Step(t, b, "open the chunked job",
			chromedp.Navigate(s.url+"/console/#/jobs/"+chunked.ID),
			browser.WaitJS(fmt.Sprintf(`document.querySelectorAll('#waterfall .wf-row[data-kind]').length === %d`, len(tasks.Tasks))),
			browser.WaitJS(`document.querySelectorAll('#waterfall .wf-row[data-kind="transcribe"]').length >= 2`),
			browser.WaitJS(`document.querySelectorAll('#waterfall .wf-stage').length > 0`),
		)
		story := browser.Eval[string](t, b, `document.getElementById('job-events').innerText`)
		for _, want := range []string{"submitted", "leased by gpu-", "merge: attempt 1 succeeded", "job succeeded"} {
			if !strings.Contains(story, want) {
				t.Errorf("job story lacks %q:\n%s", want, story)
			}
		}
		for _, tk := range tasks.Tasks {
			row := `#waterfall .wf-row[data-row=` + js(tk.ID) + `] .wf-bar.run`
			if n := browser.Eval[int](t, b, `document.querySelectorAll(`+js(row)+`).length`); n != tk.Attempts {
				t.Errorf("task %s (%s): %d attempt bars, want %d", tk.ID, tk.Kind, n, tk.Attempts)
			}
		}
		browser.Shot(t, b, "job-timeline")

		browser.Step(t, b, "open the failed job",
			chromedp.Navigate(s.url+"/console/#/jobs/"+failed.ID),
			browser.WaitJS(`document.getElementById('job-error') && document.getElementById('job-error').textContent.includes(`+js(failed.Error.Code)+`)`),
			browser.WaitJS(`document.querySelector('#waterfall .wf-bar.run.failed') !== null`),
			browser.WaitJS(`document.getElementById('job-events').innerText.includes(`+js(failed.Error.Code)+`)`),
		)
	})

	t.Run("player", func(t *testing.T) {
		browser.Step(t, b, "open the short job's player",
			chromedp.Navigate(s.url+"/console/#/jobs/"+short.ID),
			browser.WaitJS(`document.querySelectorAll('#cues li').length >= 3`),
			browser.WaitJS(`document.getElementById('player') && document.getElementById('player').readyState >= 1`),
			browser.WaitJS(`document.getElementById('player').duration > 3`),
		)
		// Clicking the third cue seeks there and highlights it.
		browser.Step(t, b, "click a cue",
			chromedp.Click(chromedp.CSS(`#cues li[data-i="2"]`)),
			browser.WaitJS(`document.getElementById('cues').dataset.active === '2'`),
		)
		start := browser.Eval[float64](t, b, `Number(document.querySelector('#cues li[data-i="2"]').dataset.start)`)
		if at := browser.Eval[float64](t, b, `document.getElementById('player').currentTime`); at < start || at > start+1.5 {
			t.Errorf("after clicking the cue at %.2f s the player is at %.2f s", start, at)
		}
		// Play from the start: the highlighted cue follows currentTime.
		seen := browser.Eval[[]int](t, b, `new Promise((resolve, reject) => {
			const v = document.getElementById('player'), list = document.getElementById('cues'), seen = [];
			const cues = [...list.querySelectorAll('li')].map((li) => Number(li.dataset.start));
			const check = () => {
				const a = Number(list.dataset.active);
				if (a >= 0 && seen[seen.length - 1] !== a) seen.push(a);
				if (seen.length >= 3) { v.pause(); resolve(seen); }
			};
			new MutationObserver(check).observe(list, { attributes: true, attributeFilter: ['data-active'] });
			v.currentTime = 0;
			v.play().catch(reject);
			setTimeout(() => { v.pause(); resolve(seen); }, 40000);
		})`)
		if len(seen) < 3 || !slices.IsSorted(seen) {
			t.Errorf("active cues while playing: %v, want at least 3, in order", seen)
		}
		consistent := browser.Eval[bool](t, b, `(() => {
			const v = document.getElementById('player'), a = Number(document.getElementById('cues').dataset.active);
			const li = document.querySelector('#cues li[data-i="' + a + '"]');
			return a < 0 || Number(li.dataset.start) <= v.currentTime + 0.3;
		})()`)
		if !consistent {
			t.Error("the highlighted cue starts after the player's current time")
		}
		// The track carries the same captions.
		browser.Step(t, b, "the captions track loads",
			browser.WaitJS(`document.querySelector('#player track').track.cues && document.querySelector('#player track').track.cues.length === document.querySelectorAll('#cues li').length`),
		)
		// Keyboard: a cue takes focus and Enter seeks.
		browser.Step(t, b, "seek from the keyboard",
			chromedp.Focus(chromedp.CSS(`#cues li[data-i="1"]`)),
			chromedp.KeyEvent("\r"),
			browser.WaitJS(`document.getElementById('cues').dataset.active === '1'`),
		)
		var m struct {
			URL         string `json:"url"`
			ContentType string `json:"content_type"`
		}
		s.getJSON(t, "/v1/jobs/"+short.ID+"/media?format=json", &m)
		if !strings.HasPrefix(m.ContentType, "audio/") {
			t.Errorf("media content type %q", m.ContentType)
		}
		browser.Step(t, b, "pause at a cue for the screenshot",
			chromedp.Click(chromedp.CSS(`#cues li[data-i="1"]`)),
			browser.WaitJS(`document.getElementById('cues').dataset.active === '1'`),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('player').pause()`),
		)
		browser.Shot(t, b, "job-player")
	})

	t.Run("fleet", func(t *testing.T) {
		var st api.Stats
		s.getJSON(t, "/v1/stats?window=1h&series=agents", &st)
		for _, name := range []string{"gpu-1", "gpu-2"} {
			id := agentID[name]
			var want int64
			for _, a := range st.Agents {
				if a.AgentID == id {
					want = a.Succeeded
				}
			}
			row := `tr[data-agent=` + js(id) + `]`
			browser.Step(t, b, "see "+name+"'s history",
				chromedp.Navigate(s.url+"/console/#/fleet"),
				browser.WaitJS(`document.querySelector(`+js(row)+`) !== null`),
				browser.WaitJS(fmt.Sprintf(`window.ytcCharts[%s] && window.ytcCharts[%s].data[1].reduce((a, v) => a + v, 0) === %d`, js("agent-"+id), js("agent-"+id), want)),
			)
		}
		// Drain both agents, so a new job waits, and cancel it from its page.
		for _, name := range []string{"gpu-1", "gpu-2"} {
			row := `tr[data-agent=` + js(agentID[name]) + `]`
			browser.Step(t, b, "drain "+name,
				chromedp.Click(chromedp.CSS(row+` button[data-action="drain"]`)),
				browser.WaitJS(`document.querySelector(`+js(row+` .badge`)+`).textContent === 'draining'`),
			)
		}
		browser.Shot(t, b, "fleet")
		waiting := submit(api.JobRequest{URL: clips["hello.mp4"].url + "?again", Language: "en", Cache: noCache()})
		browser.Step(t, b, "cancel the waiting job",
			chromedp.Navigate(s.url+"/console/#/jobs/"+waiting.ID),
			chromedp.WaitVisible(chromedp.ID("job-cancel")),
			chromedp.Click(chromedp.ID("job-cancel")),
			browser.WaitJS(`document.querySelector('#job-status .badge').textContent === 'canceled'`),
		)
		for _, name := range []string{"gpu-1", "gpu-2"} {
			row := `tr[data-agent=` + js(agentID[name]) + `]`
			browser.Step(t, b, "resume "+name,
				chromedp.Navigate(s.url+"/console/#/fleet"),
				chromedp.WaitVisible(chromedp.CSS(row+` button[data-action="resume"]`)),
				chromedp.Click(chromedp.CSS(row+` button[data-action="resume"]`)),
				browser.WaitJS(`document.querySelector(`+js(row+` .badge`)+`).textContent === 'active'`),
			)
		}
	})

	var viewerKey string
	t.Run("keys", func(t *testing.T) {
		newKey := func(name string) string {
			browser.Step(t, b, "create key "+name,
				chromedp.Navigate(s.url+"/console/#/admin?section=keys"),
				chromedp.WaitVisible(chromedp.ID("key-form-tenant")),
				chromedp.Evaluate[chromedp.Void](`document.getElementById('key-secret').replaceChildren()`), // the last key's secret
				chromedp.SetValue(chromedp.ID("key-form-tenant"), "acme"),
				chromedp.SetValue(chromedp.ID("key-form-role"), "viewer"),
				chromedp.SetValue(chromedp.ID("key-form-name"), name),
				chromedp.Click(chromedp.CSS(`#key-form button[type=submit]`)),
				chromedp.WaitVisible(chromedp.ID("new-key-secret")),
			)
			return browser.Eval[string](t, b, `document.getElementById('new-key-secret').value`)
		}
		doomed := newKey("to revoke")
		viewerKey = newKey("viewer for the test")
		browser.Shot(t, b, "admin-keys")
		vc := api.NewClient(s.url, doomed, nil)
		if _, err := vc.ListJobs(ctx, "", 1, ""); err != nil {
			t.Fatalf("the key made in the console does not work: %v", err)
		}
		browser.Step(t, b, "back to the keys", chromedp.Navigate(s.url+"/console/#/admin?section=keys"))
		revokeRow(t, b, "keys-body", "to revoke")
		var se *api.StatusError
		if _, err := vc.ListJobs(ctx, "", 1, ""); !errors.As(err, &se) || se.Status != http.StatusUnauthorized {
			t.Fatalf("a key revoked in the console still works: %v", err)
		}
	})

	t.Run("tenants", func(t *testing.T) {
		row := `#tenants-body tr[data-tenant="acme"]`
		browser.Step(t, b, "set acme's share",
			chromedp.Navigate(s.url+"/console/#/admin?section=tenants"),
			chromedp.WaitVisible(chromedp.CSS(row)),
			chromedp.SetValue(chromedp.CSS(row+` input[name=weight]`), "3"),
			chromedp.SetValue(chromedp.CSS(row+` input[name=max_running]`), "2"),
			chromedp.Click(chromedp.CSS(row+` button[data-action=save]`)),
			browser.WaitJS(`document.getElementById('notice').textContent === 'Share of acme saved.'`),
		)
		browser.Shot(t, b, "admin-tenants")
		type tenant struct {
			Name       string  `json:"name"`
			Weight     float64 `json:"weight"`
			MaxRunning int     `json:"max_running"`
		}
		var list struct {
			Tenants []tenant `json:"tenants"`
		}
		s.getJSON(t, "/v1/tenants", &list)
		i := slices.IndexFunc(list.Tenants, func(x tenant) bool { return x.Name == "acme" })
		if i < 0 || list.Tenants[i].Weight != 3 || list.Tenants[i].MaxRunning != 2 {
			t.Errorf("tenants after the console set acme's share: %+v", list.Tenants)
		}
	})

	t.Run("enrollment tokens", func(t *testing.T) {
		browser.Step(t, b, "create a token",
			chromedp.Navigate(s.url+"/console/#/admin?section=enrollments"),
			chromedp.WaitVisible(chromedp.ID("enrollment-form-labels")),
			chromedp.SendKeys(chromedp.ID("enrollment-form-labels"), "zone=test"),
			chromedp.Click(chromedp.CSS(`#enrollment-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.ID("new-enrollment-token")),
		)
		tok := browser.Eval[string](t, b, `document.getElementById('new-enrollment-token').value`)
		browser.Shot(t, b, "admin-enrollments")
		revokeRow(t, b, "enrollments-body", "zone=test")
		if _, err := api.NewClient(s.url, "", nil).Register(ctx, api.RegisterRequest{EnrollmentToken: tok, Name: "late"}); err == nil {
			t.Error("an enrollment token revoked in the console still enrolls")
		}
	})

	t.Run("webhooks", func(t *testing.T) {
		var ds api.WebhookDeliveryList
		var d api.WebhookDelivery
		deadline := time.Now().Add(jobWait)
		for d.ID == "" {
			s.getJSON(t, "/v1/webhooks/deliveries?job_id="+short.ID+"&status=delivered", &ds)
			if len(ds.Deliveries) > 0 {
				d = ds.Deliveries[0]
			} else if time.Now().After(deadline) {
				t.Fatalf("no delivered webhook for job %s", short.ID)
			} else {
				time.Sleep(200 * time.Millisecond)
			}
		}
		before := recv.count(d.EventID)
		row := `#deliveries-body tr[data-delivery=` + js(d.ID) + `]`
		browser.Step(t, b, "redeliver",
			chromedp.Navigate(s.url+"/console/#/admin?section=webhooks"),
			chromedp.WaitVisible(chromedp.CSS(row)),
			chromedp.Click(chromedp.CSS(row+` button[data-action=redeliver]`)),
			browser.WaitJS(`document.getElementById('notice').textContent.includes('queued again')`),
		)
		deadline = time.Now().Add(jobWait)
		for recv.count(d.EventID) <= before {
			if time.Now().After(deadline) {
				var now api.WebhookDelivery
				s.getJSON(t, "/v1/webhooks/deliveries/"+d.ID, &now)
				t.Fatalf("the redelivered event %s never arrived (received %d times); delivery now %+v", d.EventID, recv.count(d.EventID), now)
			}
			time.Sleep(100 * time.Millisecond)
		}
		browser.Step(t, b, "see the second attempt",
			browser.WaitJS(`Number(document.querySelector(`+js(row+` td.attempts`)+`).textContent) >= 2`),
		)
		browser.Shot(t, b, "admin-webhooks")
	})

	t.Run("audit log", func(t *testing.T) {
		want := []string{"session.login", "webhooks.endpoint.create", "agents.drain", "agents.resume", "jobs.cancel",
			"keys.create", "keys.revoke", "tenants.share", "enrollments.create", "enrollments.revoke", "webhooks.redeliver"}
		browser.Step(t, b, "open the audit log",
			chromedp.Navigate(s.url+"/console/#/admin?section=audit"),
			browser.WaitJS(`document.querySelectorAll('#audit-body tr[data-action]').length >= 10`),
		)
		shown := browser.Eval[[]string](t, b, `[...document.querySelectorAll('#audit-body tr[data-action]')].map((r) => r.dataset.action)`)
		for _, a := range want {
			if !slices.Contains(shown, a) {
				t.Errorf("audit page lacks %s; shows %v", a, shown)
			}
		}
		type entry struct {
			Action string `json:"action"`
			Via    string `json:"via"`
			Status int    `json:"status"`
		}
		var log struct {
			Entries []entry `json:"entries"`
		}
		s.getJSON(t, "/v1/audit?limit=200", &log)
		for _, a := range want {
			if !slices.ContainsFunc(log.Entries, func(e entry) bool {
				return e.Action == a && e.Via == "console" && e.Status < 400
			}) {
				t.Errorf("audit log lacks a console %s", a)
			}
		}
		browser.Shot(t, b, "admin-audit")
	})

	t.Run("viewer", func(t *testing.T) {
		v := browser.Start(t, 1280, 800)
		login(t, v, s.url, viewerKey, "viewer")
		browser.Step(t, v, "no admin or fleet pages",
			browser.WaitJS(`document.querySelector('#nav a[data-view="admin"]').hidden && document.querySelector('#nav a[data-view="fleet"]').hidden`),
			chromedp.Navigate(s.url+"/console/#/admin?section=keys"),
			browser.WaitJS(`document.getElementById('admin-denied') !== null`),
		)
		codes := browser.Eval[[]int](t, v, `Promise.all(['/v1/keys', '/v1/audit', '/v1/tenants', '/v1/agents', '/v1/agents/enrollments']
			.map((p) => fetch(p, { credentials: 'same-origin' }).then((r) => r.status)))`)
		for i, c := range codes {
			if c != http.StatusForbidden {
				t.Errorf("viewer's call %d answered %d, want 403", i, c)
			}
		}
		post := browser.Eval[int](t, v, `fetch('/v1/keys', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json',
			'X-CSRF-Token': document.cookie.split('; ').find((c) => c.startsWith('ytc_csrf=')).slice(9) }, body: JSON.stringify({ tenant: 'acme', role: 'admin' }) }).then((r) => r.status)`)
		if post != http.StatusForbidden {
			t.Errorf("viewer creating a key answered %d, want 403", post)
		}
	})

	t.Run("phone", func(t *testing.T) {
		for _, page := range []struct{ name, hash, ready string }{
			{"overview", "#/overview", `document.getElementById('live').textContent === 'live'`},
			{"job-player", "#/jobs/" + short.ID, `document.querySelectorAll('#cues li').length >= 3`},
			{"fleet", "#/fleet", `document.querySelectorAll('#agents-body tr[data-agent]').length === 2`},
		} {
			browser.Step(t, b, "open "+page.name+" at phone width",
				chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
				chromedp.Navigate(s.url+"/console/"+page.hash),
				browser.WaitJS(page.ready),
			)
			if w := browser.Eval[int](t, b, `document.documentElement.scrollWidth - window.innerWidth`); w > 1 {
				t.Errorf("%s is %d px wider than a phone's screen", page.name, w)
			}
			browser.Shot(t, b, "phone-"+page.name)
		}
	})
}

// revokeRow clicks Revoke on the row of the table body that mentions text,
// confirms, and waits for the row to say revoked.
func revokeRow(t *testing.T, b context.Context, tbody, text string) {
	t.Helper()
	row := `[...document.querySelectorAll('#` + tbody + ` tr')].find((r) => r.textContent.includes(` + js(text) + `))`
	browser.Step(t, b, "revoke the row with "+text,
		browser.WaitJS(row+` !== undefined`),
		chromedp.Evaluate[chromedp.Void](row+`.querySelector('button[data-action=revoke]').click()`),
		chromedp.Click(chromedp.CSS(`.confirm button.danger`)),
		browser.WaitJS(row+`.querySelector('.badge').textContent === 'revoked'`),
	)
}

// login signs a browser in to the console with key.
func login(t *testing.T, b context.Context, base, key, role string) {
	t.Helper()
	browser.Step(t, b, "log in as "+role,
		chromedp.Navigate(base+"/console/"),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SetValue(chromedp.ID("key"), key),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("logout")), // the console page, after the redirect
		browser.WaitJS(`location.pathname === '/console/' && document.getElementById('who').textContent.endsWith(`+js(role)+`)`),
	)
}

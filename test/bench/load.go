package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Latencies collects request durations; safe for concurrent use.
type Latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

// Add records one duration.
func (l *Latencies) Add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// Merge appends a batch collected by one worker.
func (l *Latencies) Merge(ds []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, ds...)
	l.mu.Unlock()
}

// Pct returns the p-th percentile (0 < p ≤ 100) in milliseconds.
func (l *Latencies) Pct(p float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return float64(s[i]) / float64(time.Millisecond)
}

func hostClient(base string, conns int) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                strings.TrimPrefix(base, "http://"),
		MaxConns:            conns,
		ReadTimeout:         60 * time.Second,
		WriteTimeout:        10 * time.Second,
		MaxIdleConnDuration: time.Minute,
		// A burst beyond conns (steady submissions while the server is slow)
		// waits for a connection rather than failing the run.
		MaxConnWaitTimeout: time.Minute,
	}
}

// load runs fn from conc workers until d has passed, and returns the number
// of successful calls and their latencies. A failed call ends the run.
func load(ctx context.Context, conc int, d time.Duration, fn func(worker, i int) error) (int64, *Latencies, error) {
	var (
		ok       atomic.Int64
		lat      Latencies
		firstErr error
		once     sync.Once
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for w := range conc {
		wg.Go(func() {
			local := make([]time.Duration, 0, 4096)
			for i := 0; ctx.Err() == nil; i++ {
				t0 := time.Now()
				if err := fn(w, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					break
				}
				local = append(local, time.Since(t0))
				ok.Add(1)
			}
			lat.Merge(local)
		})
	}
	wg.Wait()
	return ok.Load(), &lat, firstErr
}

// submitBody is a job request with a unique source URL so the result cache
// never answers it; cache is off for the same reason.
func submitBody(tag string, n int64) []byte {
	f := false
	b, _ := json.Marshal(api.JobRequest{URL: fmt.Sprintf("http://127.0.0.1:9/bench/%s/%d.mp4", tag, n), Language: "en", Cache: &f})
	return b
}

// submitJobs creates n jobs through the API with conc clients and returns their ids.
func submitJobs(ctx context.Context, s *Server, n, conc int) ([]string, error) {
	hc := hostClient(s.URL, conc)
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	tag := randHex(4)
	for range conc {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				var j api.Job
				if err := doJSON(hc, s, http.MethodPost, api.PathJobs, submitBody(tag, i), &j); err != nil {
					errs <- err
					return
				}
				ids[i] = j.ID
			}
		})
	}
	wg.Wait()
	close(errs)
	return ids, <-errs
}

// doJSON sends one request with the admin key and decodes a 2xx reply.
func doJSON(hc *fasthttp.HostClient, s *Server, method, path string, body []byte, out any) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI(s.URL + path)
	req.Header.Set("Authorization", "Bearer "+s.AdminKey)
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBody(body)
	}
	if err := hc.Do(req, resp); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if c := resp.StatusCode(); c < 200 || c > 299 {
		return fmt.Errorf("%s %s: status %d: %s", method, path, c, resp.Body())
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body(), out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// APIGet measures GET /v1/jobs/{id} over many existing jobs.
func APIGet(ctx context.Context, cfg Config, r *Results) error {
	s, err := StartServer(ctx, cfg, "api-get")
	if err != nil {
		return err
	}
	defer s.Stop()
	ids, err := submitJobs(ctx, s, cfg.Scale.GetJobs, 32)
	if err != nil {
		return fmt.Errorf("seed jobs: %w", err)
	}
	hc := hostClient(s.URL, 64)
	paths := make([]string, len(ids))
	for i, id := range ids {
		paths[i] = api.PathJobs + "/" + id
	}
	// A short warm-up fills connection pools and caches as production would be.
	_, _, _ = load(ctx, 64, cfg.Scale.Warmup, func(w, i int) error {
		return doJSON(hc, s, http.MethodGet, paths[(w*7919+i)%len(paths)], nil, nil)
	})
	n, lat, err := load(ctx, 64, cfg.Scale.Duration, func(w, i int) error {
		return doJSON(hc, s, http.MethodGet, paths[(w*7919+i*31)%len(paths)], nil, nil)
	})
	if err != nil {
		return err
	}
	r.Set("api_get_rps", float64(n)/cfg.Scale.Duration.Seconds(), "req/s")
	r.vsEcho("api_get_vs_echo", float64(n)/cfg.Scale.Duration.Seconds())
	r.Set("api_get_p50_ms", lat.Pct(50), "ms")
	r.Set("api_get_p99_ms", lat.Pct(99), "ms")
	return nil
}

// APISubmit measures POST /v1/jobs with 64 concurrent clients.
func APISubmit(ctx context.Context, cfg Config, r *Results) error {
	s, err := StartServer(ctx, cfg, "api-submit")
	if err != nil {
		return err
	}
	defer s.Stop()
	hc := hostClient(s.URL, 64)
	var seq atomic.Int64
	tag := randHex(4)
	submit := func(int, int) error {
		return doJSON(hc, s, http.MethodPost, api.PathJobs, submitBody(tag, seq.Add(1)), nil)
	}
	_, _, _ = load(ctx, 64, cfg.Scale.Warmup, submit)
	n, lat, err := load(ctx, 64, cfg.Scale.Duration, submit)
	if err != nil {
		return err
	}
	r.Set("api_submit_rps", float64(n)/cfg.Scale.Duration.Seconds(), "req/s")
	r.vsEcho("api_submit_vs_echo", float64(n)/cfg.Scale.Duration.Seconds())
	r.Set("api_submit_p50_ms", lat.Pct(50), "ms")
	r.Set("api_submit_p99_ms", lat.Pct(99), "ms")
	return nil
}

package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// lbClient is the workload's client: it spreads requests round-robin over
// the replicas and, like a load balancer, moves on to the next replica when
// one cannot be reached. Any 5xx answer is counted (per phase) and retried
// after a pause, as a well-behaved client would; submissions carry an
// Idempotency-Key so a retry never makes a second job.
type lbClient struct {
	replicas []*replica
	key      string
	hc       *http.Client
	next     atomic.Uint64

	mu       sync.Mutex
	phase    string
	requests map[string]int
	status5x map[string]map[int]int // phase -> status -> count
}

func newLBClient(replicas []*replica, key string) *lbClient {
	return &lbClient{
		replicas: replicas, key: key,
		hc:    &http.Client{Timeout: 30 * time.Second},
		phase: "setup", requests: map[string]int{}, status5x: map[string]map[int]int{},
	}
}

// setPhase names the phase later requests are counted under.
func (c *lbClient) setPhase(p string) {
	c.mu.Lock()
	c.phase = p
	c.mu.Unlock()
}

func (c *lbClient) count(status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests[c.phase]++
	if status >= 500 {
		if c.status5x[c.phase] == nil {
			c.status5x[c.phase] = map[int]int{}
		}
		c.status5x[c.phase][status]++
	}
}

// fivexx returns the 5xx answers seen in a phase ("" for all phases).
func (c *lbClient) fivexx(phase string) (n int, detail map[int]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	detail = map[int]int{}
	for p, m := range c.status5x {
		if phase != "" && p != phase {
			continue
		}
		for s, k := range m {
			n += k
			detail[s] += k
		}
	}
	return n, detail
}

// do sends one logical request, retrying unreachable replicas and 5xx
// answers until ctx ends. Other non-2xx answers are returned as errors.
func (c *lbClient) do(ctx context.Context, method, path string, in, out any, idemKey string) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	pause := 100 * time.Millisecond
	var last error
	for {
		start := int(c.next.Add(1))
		for i := range len(c.replicas) {
			r := c.replicas[(start+i)%len(c.replicas)]
			status, err := c.once(ctx, r.url(), method, path, body, out, idemKey)
			if err == nil {
				return nil
			}
			last = err
			if status == 0 {
				continue // unreachable: the next replica, at once
			}
			if status < 500 && status != http.StatusTooManyRequests {
				return err
			}
			break // 5xx or 429: pause, then go on
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: %w (last: %v)", method, path, ctx.Err(), last)
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// once makes one HTTP request; status is 0 when no answer came.
func (c *lbClient) once(ctx context.Context, base, method, path string, body []byte, out any, idemKey string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err // the answer was cut off: as good as none
	}
	c.count(resp.StatusCode)
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s on %s: HTTP %d: %s", method, path, base, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s: %w", path, err)
		}
	}
	return resp.StatusCode, nil
}

func (c *lbClient) enroll(ctx context.Context) (string, error) {
	var e api.Enrollment
	if err := c.do(ctx, http.MethodPost, api.PathEnrollment, api.EnrollmentRequest{}, &e, ""); err != nil {
		return "", err
	}
	if e.Token == "" {
		return "", errors.New("enrollment without a token")
	}
	return e.Token, nil
}

func (c *lbClient) submit(ctx context.Context, req api.JobRequest, idemKey string) (api.Job, error) {
	var j api.Job
	err := c.do(ctx, http.MethodPost, api.PathJobs, req, &j, idemKey)
	return j, err
}

func (c *lbClient) job(ctx context.Context, id string) (api.Job, error) {
	var j api.Job
	err := c.do(ctx, http.MethodGet, api.PathJobs+"/"+id, nil, &j, "")
	return j, err
}

func (c *lbClient) captions(ctx context.Context, id, format string) (string, error) {
	var b bytes.Buffer
	for {
		r := c.replicas[int(c.next.Add(1))%len(c.replicas)]
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url()+api.PathJobs+"/"+id+"/captions?format="+format, nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("Authorization", "Bearer "+c.key)
		resp, err := c.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return "", err
			}
			continue
		}
		b.Reset()
		_, err = b.ReadFrom(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK {
			return b.String(), nil
		}
		return "", fmt.Errorf("captions of %s: HTTP %d: %s (%v)", id, resp.StatusCode, b.String(), err)
	}
}

package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Events follows GET /v1/jobs/{id}/events, calling fn with the job after
// each event, until the job is final (then it returns the final job). If the
// connection drops it reconnects with Last-Event-ID, so no event is missed.
func (c *Client) Events(ctx context.Context, id string, fn func(Job)) (Job, error) {
	var (
		last   string
		latest Job
		drops  int
	)
	for {
		final, err := c.eventsOnce(ctx, id, &last, &latest, fn)
		if err == nil && final {
			return latest, nil
		}
		if ctx.Err() != nil {
			return latest, ctx.Err()
		}
		if se, ok := err.(*StatusError); ok {
			return latest, se
		}
		if drops++; drops > 5 {
			return latest, fmt.Errorf("event stream of job %s: %w", id, err)
		}
	}
}

func (c *Client) eventsOnce(ctx context.Context, id string, last *string, latest *Job, fn func(Job)) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+PathJobs+"/"+url.PathEscape(id)+"/events", nil)
	if err != nil {
		return false, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if *last != "" {
		req.Header.Set("Last-Event-ID", *last)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false, fmt.Errorf("GET events: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return false, decodeError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var id_, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id:"):
			id_ = strings.TrimSpace(line[3:])
		case strings.HasPrefix(line, "data:"):
			data = strings.TrimSpace(line[5:])
		case line == "" && data != "":
			var j Job
			if err := json.Unmarshal([]byte(data), &j); err == nil {
				*latest = j
				if _, err := strconv.Atoi(id_); err == nil {
					*last = id_
				}
				fn(j)
			}
			data = ""
		}
	}
	if latest.Status.Final() {
		return true, nil
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("read events: %w", err)
	}
	return false, fmt.Errorf("event stream ended before the job was final")
}

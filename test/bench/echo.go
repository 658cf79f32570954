package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/gofiber/fiber/v2"
)

// HTTPEcho measures the machine's own ceiling for the API figures: a
// trivial handler (Fiber, as the server uses, answering a small JSON body)
// over loopback, driven by the same client, connections and concurrency
// as api-get. Loopback HTTP costs differ between machines of the same kind
// far more than in-process work does, so each API figure is also given as
// a fraction of this one (api_get_vs_echo, api_submit_vs_echo). The
// handler runs in the harness's own process: on a 2-core machine client
// and server share the same cores either way.
func HTTPEcho(ctx context.Context, cfg Config, r *Results) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("echo listen: %w", err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/echo", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	defer func() { _ = app.Shutdown(); <-served }()

	s := &Server{URL: "http://" + ln.Addr().String(), AdminKey: "echo"}
	hc := hostClient(s.URL, 64)
	get := func(int, int) error { return doJSON(hc, s, http.MethodGet, "/echo", nil, nil) }
	_, _, _ = load(ctx, 64, cfg.Scale.Warmup, get)
	n, lat, err := load(ctx, 64, cfg.Scale.Duration, get)
	if err != nil {
		return err
	}
	r.Set("http_echo_rps", float64(n)/cfg.Scale.Duration.Seconds(), "req/s")
	r.Set("http_echo_p99_ms", lat.Pct(99), "ms")
	return nil
}

// vsEcho records rps as a fraction of http_echo_rps, when that was
// measured in this run.
func (r *Results) vsEcho(name string, rps float64) {
	if echo, ok := r.Get("http_echo_rps"); ok && echo > 0 {
		r.Set(name, rps/echo, "ratio")
	}
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

func captionCmd(sio IO) *cobra.Command {
	var format, lang, out, model, captions string
	var maxChars, maxLines, agents int
	var noCache, quiet bool
	cmd := &cobra.Command{
		Use:   "caption <url-or-file>",
		Short: "Caption a video or audio URL or a local file, with a progress display",
		Long: "Caption a URL or local file and print (or write with -o) the captions.\n" +
			"It talks to $YTCAPTION_SERVER with $YTCAPTION_API_KEY; when no server is set it runs an\n" +
			"ephemeral embedded stack in-process and removes it afterwards.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, cleanup, err := captionClient(ctx, cmd, sio, agents)
			if err != nil {
				return err
			}
			defer cleanup()
			req := api.JobRequest{Language: lang, Model: model, Captions: captions}
			if noCache {
				f := false
				req.Cache = &f
			}
			j, err := submit(ctx, c, args[0], req)
			if err != nil {
				return err
			}
			progress := cmd.ErrOrStderr()
			if quiet {
				progress = io.Discard
			}
			j, err = follow(ctx, c, j, func(j api.Job) { fmt.Fprint(progress, progressLine(j)) })
			fmt.Fprintln(progress)
			if err != nil {
				return err
			}
			if j.Status != api.JobSucceeded {
				if j.Error != nil {
					return &jobFailedError{fmt.Sprintf("job %s %s: %s: %s", j.ID, j.Status, j.Error.Code, j.Error.Message)}
				}
				return &jobFailedError{fmt.Sprintf("job %s %s", j.ID, j.Status)}
			}
			var w = cmd.OutOrStdout()
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			return c.Captions(ctx, j.ID, api.CaptionOptions{Format: format, MaxChars: maxChars, MaxLines: maxLines}, w)
		},
	}
	clientFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&format, "format", "srt", "srt, vtt, json or txt")
	f.StringVar(&lang, "lang", "auto", "spoken language, or auto")
	f.StringVarP(&out, "output", "o", "", "write captions to this file instead of stdout")
	f.StringVar(&model, "model", "", "engine or model, e.g. whisper-cpp:base.en")
	f.StringVar(&captions, "captions", "", "prefer-existing (default) or asr-only")
	f.IntVar(&maxChars, "max-chars", 0, "max characters per caption line")
	f.IntVar(&maxLines, "max-lines", 0, "max lines per caption")
	f.IntVar(&agents, "agents", 1, "in-process agents for the embedded stack")
	f.BoolVar(&noCache, "no-cache", false, "do not reuse an earlier result")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress display")
	return cmd
}

// captionClient talks to the configured server, or starts an ephemeral
// embedded stack in a temporary directory.
func captionClient(ctx context.Context, cmd *cobra.Command, sio IO, agents int) (*api.Client, func(), error) {
	if c, err := client(cmd, sio); err == nil {
		return c, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "ytcaption-caption-")
	if err != nil {
		return nil, nil, err
	}
	log := newLoggerAt(sio, "warn")
	e, err := startEmbedded(ctx, embeddedConfig{Addr: "127.0.0.1:0", DataDir: dir, Agents: agents}, log)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return api.NewClient(e.url, e.adminKey, nil), func() {
		_ = e.Close()
		os.RemoveAll(dir)
	}, nil
}

// submit creates a job from a URL or uploads a local file.
func submit(ctx context.Context, c *api.Client, src string, req api.JobRequest) (api.Job, error) {
	if u, err := url.Parse(src); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		req.URL = src
		return c.SubmitJob(ctx, req, "")
	}
	f, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) && strings.Contains(src, "://") {
		return api.Job{}, fmt.Errorf("%s: only http(s) URLs and local files can be captioned", src)
	}
	if err != nil {
		return api.Job{}, err
	}
	defer f.Close()
	return c.UploadJob(ctx, req, filepath.Base(src), f, "")
}

// follow waits for a job through its event stream, falling back to polling
// when the stream cannot be had (an older server, a proxy that buffers).
func follow(ctx context.Context, c *api.Client, j api.Job, update func(api.Job)) (api.Job, error) {
	update(j)
	if j.Status.Final() {
		return j, nil
	}
	done, err := c.Events(ctx, j.ID, update)
	if err == nil || ctx.Err() != nil {
		return done, err
	}
	var se *api.StatusError
	if errors.As(err, &se) && se.Status != http.StatusNotFound {
		return done, err
	}
	return c.WaitJob(ctx, j.ID, 200*time.Millisecond, update)
}

// progressLine draws a one-line progress bar: stage, bar, percent, chunks
// transcribed (a split job), job id.
func progressLine(j api.Job) string {
	const width = 24
	stage := j.Stage
	if stage == "" || j.Status == api.JobQueued || j.Status.Final() {
		stage = string(j.Status)
	}
	p := min(max(j.Progress, 0), 1)
	filled := int(p * width)
	chunks := ""
	if j.Chunks != nil {
		chunks = fmt.Sprintf("  chunks %d/%d", j.Chunks.Done, j.Chunks.Total)
	}
	return fmt.Sprintf("\r\033[K%-10s [%s%s] %3.0f%%%s  %s", stage, strings.Repeat("#", filled), strings.Repeat("-", width-filled), p*100, chunks, j.ID)
}

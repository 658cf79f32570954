package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/caption"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/submit"
)

// PathTranscriptions is the OpenAI-compatible transcription route.
const PathTranscriptions = "/v1/audio/transcriptions"

// openAIError is OpenAI's error body.
type openAIError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// oaiError is an error answered in OpenAI's shape.
type oaiError struct {
	status      int
	typ, msg    string
	param, code string
	noRetry     bool // tells the OpenAI SDKs not to retry (x-should-retry: false)
}

func (e *oaiError) Error() string { return e.typ + ": " + e.msg }

func invalidOAI(param, code, msg string) error {
	return &oaiError{status: http.StatusBadRequest, typ: "invalid_request_error", msg: msg, param: param, code: code}
}

// openaiErrors answers every error of the route in OpenAI's shape, including
// those of authentication.
func (a *API) openaiErrors(c *fiber.Ctx) error {
	err := c.Next()
	if err == nil {
		return nil
	}
	var oe *oaiError
	if !errors.As(err, &oe) {
		status, e := mapError(err)
		if status >= 500 {
			a.log.Error("transcription request failed", "err", err)
		}
		typ := "invalid_request_error"
		switch {
		case status == http.StatusTooManyRequests:
			typ = "rate_limit_error"
		case status == http.StatusUnauthorized:
			typ, e.Code = "invalid_request_error", "invalid_api_key"
		case status >= 500:
			typ = "server_error"
		}
		oe = &oaiError{status: status, typ: typ, msg: e.Message, code: e.Code}
	}
	var body openAIError
	body.Error.Message, body.Error.Type = oe.msg, oe.typ
	if oe.param != "" {
		body.Error.Param = &oe.param
	}
	if oe.code != "" {
		body.Error.Code = &oe.code
	}
	if oe.noRetry {
		c.Set("x-should-retry", "false")
	}
	return c.Status(oe.status).JSON(body)
}

// openAIFormat reports whether OpenAI's API accepts response_format f.
func openAIFormat(f string) bool {
	switch f {
	case "json", "text", "srt", "verbose_json", "vtt":
		return true
	}
	return false
}

// openAIExtension reports whether OpenAI's API accepts a file with this
// extension.
func openAIExtension(ext string) bool {
	switch ext {
	case ".flac", ".mp3", ".mp4", ".mpeg", ".mpga", ".m4a", ".ogg", ".oga", ".wav", ".webm":
		return true
	}
	return false
}

// transcriptions is POST /v1/audio/transcriptions: the upload becomes a
// priority-9 job and the request waits for it.
func (a *API) transcriptions(c *fiber.Ctx) error {
	form, err := c.MultipartForm()
	if err != nil {
		return invalidOAI("", "", "the request must be multipart/form-data with a file part")
	}
	defer func() { _ = form.RemoveAll() }()
	get := func(k string) string {
		if v := form.Value[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	files := form.File["file"]
	if len(files) == 0 {
		return invalidOAI("file", "", "you must provide a file")
	}
	upload := files[0]
	if ext := strings.ToLower(filepath.Ext(upload.Filename)); !openAIExtension(ext) {
		return invalidOAI("file", "invalid_file_format",
			"Invalid file format. Supported formats: flac, m4a, mp3, mp4, mpeg, mpga, oga, ogg, wav, webm")
	}
	if upload.Size == 0 {
		return invalidOAI("file", "", "the uploaded file is empty")
	}
	modelName := get("model")
	if modelName == "" {
		return invalidOAI("model", "", "you must provide a model parameter")
	}
	model, ok := a.cfg.Surface.OpenAIModels[modelName]
	if !ok {
		return &oaiError{status: http.StatusBadRequest, typ: "invalid_request_error", param: "model", code: "model_not_found",
			msg: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", modelName)}
	}
	format := get("response_format")
	if format == "" {
		format = "json"
	}
	if !openAIFormat(format) {
		return invalidOAI("response_format", "", "response_format must be one of json, text, srt, verbose_json, vtt")
	}
	if t := get("temperature"); t != "" {
		if f, err := strconv.ParseFloat(t, 64); err != nil || f < 0 || f > 1 {
			return invalidOAI("temperature", "", "temperature must be a number between 0 and 1")
		}
	}
	words, segments := false, false
	for _, g := range append(form.Value["timestamp_granularities[]"], form.Value["timestamp_granularities"]...) {
		switch g {
		case "word":
			words = true
		case "segment":
			segments = true
		default:
			return invalidOAI("timestamp_granularities", "", "timestamp_granularities must be word and/or segment")
		}
	}
	if !words {
		segments = true
	}
	lang := get("language")
	if lang == "" {
		lang = "auto"
	}
	prio := job.MaxPriority
	spec, err := job.Normalize(api.JobRequest{Language: lang, Model: model, Priority: &prio, Captions: api.CaptionsASROnly,
		Metadata: map[string]any{"openai_model": modelName}}, true)
	if err != nil {
		var ve *job.ValidationError
		if errors.As(err, &ve) {
			return invalidOAI("language", "", ve.Message)
		}
		return err
	}
	ctx := c.UserContext()
	f, err := upload.Open()
	if err != nil {
		return fmt.Errorf("open upload: %w", err)
	}
	defer f.Close()
	out, _, err := a.submit.Submit(ctx, submit.Request{Tenant: principal(c).Tenant, Spec: spec,
		Upload: &submit.Upload{Filename: upload.Filename, Size: upload.Size, Body: f}})
	if err != nil {
		return err
	}
	log := a.log.With("job", out.ID)
	done, err := a.waitFinal(ctx, out.ID, a.cfg.Surface.TranscriptionTimeout)
	if err != nil {
		// Nobody will read the result: stop spending the fleet on it.
		if _, cerr := a.cancel(context.WithoutCancel(ctx), "", out.ID); cerr == nil {
			log.Info("transcription abandoned; job canceled", "err", err)
		}
		return &oaiError{status: http.StatusGatewayTimeout, typ: "server_error", code: "timeout", noRetry: true,
			msg: fmt.Sprintf("the transcription did not finish in time (job %s)", out.ID)}
	}
	switch done.Status {
	case api.JobSucceeded:
	case api.JobFailed:
		e := done.Error
		if e == nil {
			e = &api.Error{Code: api.CodeTranscribeFailed, Message: "transcription failed"}
		}
		switch e.Code {
		case api.CodeUndecodable, api.CodeNoAudio, api.CodeTooLong, api.CodeMediaTooLarge, api.CodeUnsupportedLang:
			return &oaiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: e.Code, msg: e.Message, param: "file"}
		}
		return &oaiError{status: http.StatusInternalServerError, typ: "server_error", code: e.Code, msg: e.Message}
	default:
		return &oaiError{status: http.StatusInternalServerError, typ: "server_error", code: "canceled", noRetry: true,
			msg: "the transcription job was canceled"}
	}
	t, err := a.transcript(ctx, done.ResultKey)
	if err != nil {
		return err
	}
	return writeOpenAI(c, t, format, segments, words)
}

// waitFinal polls the job until it is final or the timeout passes.
func (a *API) waitFinal(ctx context.Context, id string, timeout time.Duration) (job.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		j, err := a.jobs.GetJob(ctx, "", id)
		if err != nil {
			return j, err
		}
		if j.Status.Final() {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-tick.C:
		}
	}
}

type verboseSegment struct {
	ID               int     `json:"id"`
	Seek             int     `json:"seek"`
	Start            float64 `json:"start"`
	End              float64 `json:"end"`
	Text             string  `json:"text"`
	Tokens           []int   `json:"tokens"`
	Temperature      float64 `json:"temperature"`
	AvgLogprob       float64 `json:"avg_logprob"`
	CompressionRatio float64 `json:"compression_ratio"`
	NoSpeechProb     float64 `json:"no_speech_prob"`
}

type verboseWord struct {
	Word  string  `json:"word"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

type verboseJSON struct {
	Task     string           `json:"task"`
	Language string           `json:"language"`
	Duration float64          `json:"duration"`
	Text     string           `json:"text"`
	Segments []verboseSegment `json:"segments,omitempty"`
	Words    []verboseWord    `json:"words,omitempty"`
}

// languageName is the name OpenAI's verbose_json reports for a language
// code (the code itself when it has none).
func languageName(code string) string {
	switch code {
	case "en":
		return "english"
	case "de":
		return "german"
	case "fr":
		return "french"
	case "es":
		return "spanish"
	case "it":
		return "italian"
	case "pt":
		return "portuguese"
	case "nl":
		return "dutch"
	case "ja":
		return "japanese"
	case "zh":
		return "chinese"
	case "ru":
		return "russian"
	case "ko":
		return "korean"
	}
	return code
}

func writeOpenAI(c *fiber.Ctx, t api.Transcript, format string, segments, words bool) error {
	switch format {
	case "json":
		return c.JSON(fiber.Map{"text": t.Text})
	case "text":
		c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
		return c.SendString(t.Text + "\n")
	case "srt", "vtt":
		c.Set(fiber.HeaderContentType, caption.ContentType(format))
		var b bytes.Buffer
		if err := caption.Render(&b, t, format, caption.Layout{}); err != nil {
			return err
		}
		return c.Send(b.Bytes())
	}
	out := verboseJSON{Task: "transcribe", Language: languageName(t.Language), Duration: t.Duration, Text: t.Text}
	if segments {
		out.Segments = make([]verboseSegment, 0, len(t.Segments))
		for i, s := range t.Segments {
			out.Segments = append(out.Segments, verboseSegment{ID: i, Start: s.Start, End: s.End, Text: s.Text, Tokens: []int{}})
		}
	}
	if words {
		out.Words = []verboseWord{}
		for _, s := range t.Segments {
			for _, w := range s.Words {
				out.Words = append(out.Words, verboseWord{Word: w.Word, Start: w.Start, End: w.End})
			}
		}
	}
	return c.JSON(out)
}

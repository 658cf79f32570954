package httpapi

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Request bodies reach the API as streams (fiber.Config.StreamRequestBody)
// so that a PUT to the local blob store, a model of gigabytes among them,
// goes to disk as it arrives instead of into memory: streamBlobPut hands
// the stream to the blob handler. Every other request is read here first,
// as without streaming: at most bodyLimit bytes, or 413.

// blobPutTimeout bounds reading one PUT to the local blob store: the
// server's read timeout would cut large uploads short.
const blobPutTimeout = 30 * time.Minute

// bodyLimit is the largest body read into memory: a multipart upload, with
// room for its form fields.
func (a *API) bodyLimit() int64 { return a.cfg.MaxUploadBytes + 1<<20 }

// isBlobPut reports whether c is a PUT the local blob store streams.
func (a *API) isBlobPut(c *fiber.Ctx) bool {
	return a.cfg.BlobHandler != nil && c.Method() == fiber.MethodPut && strings.HasPrefix(c.Path(), "/v1/blobs/")
}

// bufferBody reads a request's body up to bodyLimit; a multipart body of
// declared length is left streaming, for the multipart reader to spool its
// files to disk as it parses.
func (a *API) bufferBody(c *fiber.Ctx) error {
	req := c.Request()
	if !req.IsBodyStream() || a.isBlobPut(c) {
		return c.Next()
	}
	tooLarge := func() error {
		c.Context().SetConnectionClose() // the rest of the body is never read
		return errorf(http.StatusRequestEntityTooLarge, api.CodeTooLarge, "request body larger than the limit")
	}
	n := int64(req.Header.ContentLength())
	if n > a.bodyLimit() {
		return tooLarge()
	}
	if n >= 0 && len(req.Header.MultipartFormBoundary()) > 0 {
		// A handler may leave part of it unread (a refusal, the epilogue
		// after the last part): the connection cannot carry another request.
		c.Context().SetConnectionClose()
		return c.Next()
	}
	b, err := io.ReadAll(io.LimitReader(req.BodyStream(), a.bodyLimit()+1))
	if err != nil {
		c.Context().SetConnectionClose()
		return badRequest(fmt.Sprintf("reading the request body: %v", err))
	}
	if int64(len(b)) > a.bodyLimit() {
		return tooLarge()
	}
	req.SetBody(b)
	return c.Next()
}

// streamBlobPut serves a PUT to the local blob store with the request body
// still streaming from the connection.
func (a *API) streamBlobPut(c *fiber.Ctx) error {
	fc := c.Context()
	if err := fc.Conn().SetReadDeadline(time.Now().Add(blobPutTimeout)); err != nil {
		return fmt.Errorf("blob upload: %w", err)
	}
	body := fc.Request.BodyStream()
	if !fc.Request.IsBodyStream() {
		body = bytes.NewReader(fc.Request.Body())
	}
	r, err := http.NewRequestWithContext(c.UserContext(), http.MethodPut, string(fc.RequestURI()), body)
	if err != nil {
		return badRequest("invalid blob URL")
	}
	// Content-Length is -1 for a chunked body: the store reads to its end.
	r.ContentLength = max(int64(fc.Request.Header.ContentLength()), -1)
	w := &blobResponse{c: c, header: http.Header{}}
	a.cfg.BlobHandler.ServeHTTP(w, r)
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.status != http.StatusOK {
		// A refused upload may leave body bytes unread on the connection.
		fc.SetConnectionClose()
	}
	return nil
}

// blobResponse is the http.ResponseWriter streamBlobPut gives the blob
// handler: its replies are a status, a few headers and a short body.
type blobResponse struct {
	c      *fiber.Ctx
	header http.Header
	status int
}

func (w *blobResponse) Header() http.Header { return w.header }

func (w *blobResponse) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	w.status = status
	for k, vs := range w.header {
		for _, v := range vs {
			w.c.Response().Header.Add(k, v)
		}
	}
	w.c.Status(status)
}

func (w *blobResponse) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.c.Write(b)
}

package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/httpapi"
)

// openAPIRouter loads the served OpenAPI document once per test binary.
var openAPIRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		return nil, fmt.Errorf("load openapi.json: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.json is invalid: %w", err)
	}
	return gorillamux.NewRouter(doc)
})

// validatingClient is the HTTP client of every API call in these tests:
// a response that does not match /openapi.json (or a route it lacks)
// fails the call, so the document cannot drift from the handlers.
func validatingClient() *http.Client {
	return &http.Client{Transport: validatingTransport{http.DefaultTransport}}
}

type validatingTransport struct{ base http.RoundTripper }

func (v validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := v.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if err := validateResponse(req, resp); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

func validateResponse(req *http.Request, resp *http.Response) error {
	router, err := openAPIRouter()
	if err != nil {
		return err
	}
	route, params, err := router.FindRoute(req)
	if err != nil && resp.StatusCode == http.StatusNotFound {
		// A path the API does not serve must get the documented 404 error.
		return checkNotFound(resp)
	}
	if err != nil {
		return fmt.Errorf("openapi: %s %s is not in the document: %w", req.Method, req.URL.Path, err)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	opts := &openapi3filter.Options{IncludeResponseStatus: true,
		// Bodies other than JSON (captions, event streams, metrics) are
		// checked for status and content type only.
		ExcludeResponseBody: mt != "application/json"}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{ExcludeRequestBody: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: resp.StatusCode, Header: resp.Header, Options: opts,
	}
	if !opts.ExcludeResponseBody {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("read response: %w", err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		in.SetBodyBytes(body)
	} else {
		in.Body = io.NopCloser(bytes.NewReader(nil))
	}
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		return fmt.Errorf("openapi: %s %s → %d does not match the document: %w", req.Method, req.URL.Path, resp.StatusCode, err)
	}
	return nil
}

func checkNotFound(resp *http.Response) error {
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var e api.ErrorBody
	if err != nil || json.Unmarshal(body, &e) != nil || e.Error.Code != api.CodeNotFound {
		return fmt.Errorf("openapi: unknown route answered %d %s, not the not_found error", resp.StatusCode, body)
	}
	return nil
}

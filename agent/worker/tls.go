package worker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"
)

// tlsClients applies CACert, ClientCert and ClientKey: the control-plane
// client trusts the CA and presents the client certificate, and the
// returned clients (nil when none of them is set) trust the CA for
// presigned URLs that the control plane serves itself (the embedded blob
// store): results are uploaded through upload, uploaded media fetched
// through fetch. The client certificate only goes to the control plane.
func tlsClients(cfg *Config) (upload, fetch *http.Client, err error) {
	if cfg.CACert == "" && cfg.ClientCert == "" && cfg.ClientKey == "" {
		return nil, nil, nil
	}
	if (cfg.ClientCert == "") != (cfg.ClientKey == "") {
		return nil, nil, errors.New("tls: --client-cert and --client-key go together")
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if cfg.CACert != "" {
		b, err := os.ReadFile(cfg.CACert)
		if err != nil {
			return nil, nil, fmt.Errorf("tls: read CA: %w", err)
		}
		if !roots.AppendCertsFromPEM(b) {
			return nil, nil, fmt.Errorf("tls: %s holds no PEM certificate", cfg.CACert)
		}
	}
	base := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	control := base.Clone()
	if cfg.ClientCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.ClientCert, cfg.ClientKey)
		if err != nil {
			return nil, nil, fmt.Errorf("tls: load client certificate: %w", err)
		}
		control.Certificates = []tls.Certificate{cert}
	}
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		cp := *cfg.HTTPClient
		hc = &cp
	}
	hc.Transport = transportWith(hc.Transport, control)
	cfg.HTTPClient = hc
	blobs := transportWith(nil, base)
	return &http.Client{Transport: blobs, Timeout: 10 * time.Minute}, &http.Client{Transport: blobs}, nil
}

// transportWith clones rt (an *http.Transport, or the default one) with tc.
func transportWith(rt http.RoundTripper, tc *tls.Config) *http.Transport {
	t, ok := rt.(*http.Transport)
	if !ok || t == nil {
		t = http.DefaultTransport.(*http.Transport)
	}
	t = t.Clone()
	t.TLSClientConfig = tc
	return t
}

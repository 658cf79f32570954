package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
)

// httpClient trusts the CA in YTCAPTION_CA_CERT (a PEM file) besides the
// system roots, for servers whose certificate a private CA signed; nil
// (the default client) when it is not set.
func httpClient(io IO) (*http.Client, error) {
	path := env(io, "CA_CERT", "")
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read YTCAPTION_CA_CERT: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("YTCAPTION_CA_CERT %s holds no PEM certificate", path)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: t}, nil
}

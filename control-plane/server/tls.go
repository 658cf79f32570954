package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
)

// TLSConfig makes the replica serve HTTPS. Both files are PEM.
type TLSConfig struct {
	CertFile string // certificate chain (YTCAPTION_TLS_CERT)
	KeyFile  string // its private key (YTCAPTION_TLS_KEY)
	// ClientCAFile, if set, is the CA that signs agent client certificates
	// (YTCAPTION_TLS_CLIENT_CA): the agent protocol then refuses callers
	// without one, while the public API keeps working with API keys alone.
	ClientCAFile string
}

// Enabled reports whether HTTPS is configured.
func (c TLSConfig) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

// serverTLS builds the listener's TLS configuration.
func (c TLSConfig) serverTLS() (*tls.Config, error) {
	if c.CertFile == "" || c.KeyFile == "" {
		return nil, errors.New("tls: both a certificate and a key file are needed")
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load certificate: %w", err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"}, // fasthttp speaks HTTP/1.1 only
	}
	if c.ClientCAFile != "" {
		pool, err := loadCertPool(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client CA: %w", err)
		}
		// Verified when given, not required: only the agent routes demand
		// one (httpapi checks), so API clients and browsers connect as usual.
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// listen wraps ln in TLS when it is configured.
func (c TLSConfig) listen(ln net.Listener) (net.Listener, error) {
	if !c.Enabled() {
		return ln, nil
	}
	cfg, err := c.serverTLS()
	if err != nil {
		return nil, err
	}
	return tls.NewListener(ln, cfg), nil
}

func loadCertPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

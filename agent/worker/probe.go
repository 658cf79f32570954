package worker

import "net/http"

// SavedToken is the agent token saved in cfg.StateDir for cfg.Server, if
// any: what a restarted agent would use instead of enrolling.
func SavedToken(cfg Config) (string, bool) {
	s, ok := (&Worker{cfg: cfg}).loadCredential()
	return s.Token, ok
}

// ControlPlaneClient is the HTTP client the agent would use for the control
// plane: trusting CACert and presenting ClientCert.
func ControlPlaneClient(cfg Config) (*http.Client, error) {
	if _, _, err := tlsClients(&cfg); err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		return http.DefaultClient, nil
	}
	return cfg.HTTPClient, nil
}

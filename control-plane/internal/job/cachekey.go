package job

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/url"
	"sort"
	"strings"
)

// URLSource is the cache's source key of raw when it served the content
// validator names (site.Validator); "" when either is missing.
func URLSource(raw, validator string) string {
	norm := NormalizeURL(raw)
	if norm == "" || validator == "" {
		return ""
	}
	return "url:" + norm + "|" + validator
}

// CacheKey combines a source key with the options that change a transcript.
func CacheKey(source string, s Spec) string {
	h := sha256.New()
	for _, part := range []string{source, s.Language, s.Task, s.Model, s.Captions} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// NormalizeURL lower-cases scheme and host, drops default ports and the
// fragment, and sorts the query, so spellings of one URL compare equal.
func NormalizeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	u.Host = host
	if port != "" {
		u.Host = net.JoinHostPort(host, port)
	}
	u.Fragment, u.RawFragment = "", ""
	q := u.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := q[k]
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
	}
	u.RawQuery = strings.Join(parts, "&")
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String()
}

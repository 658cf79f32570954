// Package redact keeps secrets out of logs: a slog.Handler that masks API
// keys, agent and enrollment tokens, bearer credentials, presigned-URL
// signatures, passwords in URLs, attributes whose names say they hold a
// secret, and any configured secret values, before a record is written.
package redact

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Mask replaces what is hidden.
const Mask = "[REDACTED]"

// pattern is one kind of secret in free text. may is a cheap test that
// every match passes (a literal the pattern needs): a log line is written
// for every task an agent completes, and running each regular expression
// on each of its strings cost more than writing the line.
type pattern struct {
	re   *regexp.Regexp
	repl string
	may  func(s string) bool
}

// patterns of secrets in free text. Credentials keep their prefix and id so
// a log still says which key acted.
func patterns() []pattern {
	return []pattern{
		{regexp.MustCompile(`\b(yt[cae]_[A-Za-z0-9]+_)[A-Za-z0-9_-]{8,}`), "${1}" + Mask,
			func(s string) bool {
				return strings.Contains(s, "ytc_") || strings.Contains(s, "yta_") || strings.Contains(s, "yte_")
			}},
		{regexp.MustCompile(`(?i)\b(bearer\s+)[^\s"',]+`), "${1}" + Mask,
			func(s string) bool { return containsFold(s, "bearer") }},
		{regexp.MustCompile(`(?i)([?&](?:x-amz-signature|x-amz-credential|x-amz-security-token|sig|signature|token|secret|password)=)[^&\s"']+`), "${1}" + Mask,
			func(s string) bool { return strings.Contains(s, "=") && strings.ContainsAny(s, "?&") }},
		{regexp.MustCompile(`(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@`), "${1}" + Mask + "@",
			func(s string) bool { return strings.Contains(s, "://") && strings.Contains(s, "@") }},
	}
}

// sensitiveKey matches attribute names whose values are secrets.
var sensitiveKey = regexp.MustCompile(`(?i)(^|_|-)(token|secret|password|passwd|api_?key|authorization|cookie|credential)s?($|_|-)`)

// isSensitiveKey is sensitiveKey.MatchString, run only on names that hold
// one of its words (the cheap test, as pattern.may). A name with other
// than ASCII goes to the expression: in (?i) the Kelvin sign matches k.
func isSensitiveKey(k string) bool {
	for i := range len(k) {
		if k[i] >= utf8.RuneSelf {
			return sensitiveKey.MatchString(k)
		}
	}
	for _, w := range [...]string{"token", "secret", "passw", "key", "authorization", "cookie", "credential"} {
		if containsFold(k, w) {
			return sensitiveKey.MatchString(k)
		}
	}
	return false
}

// containsFold reports whether s holds sub (lower case), ASCII letters
// matched in either case.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// Redactor masks secrets in strings.
type Redactor struct {
	values   []string
	patterns []pattern
}

// NewRedactor returns a redactor that also masks the given secret values
// (configured keys and passwords that follow no pattern). Values shorter than
// 6 characters are ignored: masking them would garble ordinary text.
func NewRedactor(values ...string) *Redactor {
	r := &Redactor{patterns: patterns()}
	for _, v := range values {
		if len(v) >= 6 {
			r.values = append(r.values, v)
		}
	}
	return r
}

// String masks the secrets in s.
func (r *Redactor) String(s string) string {
	for _, v := range r.values {
		s = strings.ReplaceAll(s, v, Mask)
	}
	for _, p := range r.patterns {
		if p.may(s) {
			s = p.re.ReplaceAllString(s, p.repl)
		}
	}
	return s
}

// Handler is a slog.Handler that redacts before passing records on.
type Handler struct {
	next slog.Handler
	r    *Redactor
}

// NewHandler wraps next.
func NewHandler(next slog.Handler, r *Redactor) *Handler { return &Handler{next: next, r: r} }

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = h.attr(a)
	}
	return &Handler{next: h.next.WithAttrs(clean), r: h.r}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), r: h.r}
}

func (h *Handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if isSensitiveKey(a.Key) && v.Kind() != slog.KindGroup {
		return slog.String(a.Key, Mask)
	}
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.String(v.String()))
	case slog.KindGroup:
		g := v.Group()
		clean := make([]any, len(g))
		for i, ga := range g {
			clean[i] = h.attr(ga)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		// Errors, URLs, structs: redact their printed form.
		return slog.String(a.Key, h.r.String(fmt.Sprint(v.Any())))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

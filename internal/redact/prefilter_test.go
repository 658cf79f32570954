package redact

import "testing"

// FuzzPrefilterAgrees checks that the cheap tests in front of the regular
// expressions never skip a string the expressions would change.
func FuzzPrefilterAgrees(f *testing.F) {
	for _, s := range []string{
		"Authorization: BEARER abc.def", "key ytc_0193abcd_yWk2cT1Jq0aJ6 used", "postgres://app:pw@db:5432/x",
		"http://h/k?X-Amz-Signature=abc&sig=1", "agent_token", "S3_SECRET_KEY", "api-key", "to\u212aen", "cookies", "db_credentials",
	} {
		f.Add(s)
	}
	r := NewRedactor()
	f.Fuzz(func(t *testing.T, s string) {
		want := s
		for _, p := range r.patterns {
			want = p.re.ReplaceAllString(want, p.repl)
		}
		if got := r.String(s); got != want {
			t.Fatalf("String(%q) = %q, the expressions alone give %q", s, got, want)
		}
		if got, want := isSensitiveKey(s), sensitiveKey.MatchString(s); got != want {
			t.Fatalf("isSensitiveKey(%q) = %v, the expression says %v", s, got, want)
		}
	})
}

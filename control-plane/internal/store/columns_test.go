package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

// FuzzDecodeJSONMatchesStdlib checks that DecodeJSON reads a column as
// encoding/json would: the same spec and the same generic value whenever
// encoding/json can read it. Columns are UTF-8 text (PostgreSQL refuses
// anything else, and the encoder writes invalid bytes as U+FFFD), so
// only UTF-8 input is compared: go-json keeps invalid bytes in keys.
func FuzzDecodeJSONMatchesStdlib(f *testing.F) {
	f.Add([]byte(`{"url":"https://example.com/v?a=1&b=<2>","language":"en","task":"transcribe","priority":-3,"captions":"auto","cache":true,"metadata":{"n":1e-7,"big":12345678901234567890,"s":"\u2028é\ud83d\ude00","l":[null,true,{"x":[]}]},"labels":{"gpu":"a100"},"chunk_seconds":100.5}`))
	f.Add([]byte(`{"url":"\ud800","metadata":{"dup":1,"dup":2},"URL":"case"}`))
	f.Add([]byte(`{"priority":1.5}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"metadata":null,"labels":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			return
		}
		var want, got job.Spec
		var wr specRecord
		if err := json.Unmarshal(b, &wr); err == nil {
			want = wr.spec()
			if err := DecodeSpec(b, &got); err != nil {
				t.Fatalf("encoding/json read %q, DecodeJSON: %v", b, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: DecodeJSON read %#v, encoding/json %#v", b, got, want)
			}
		}
		var wantAny, gotAny any
		if err := json.Unmarshal(b, &wantAny); err == nil {
			if err := DecodeJSON(b, &gotAny); err != nil {
				t.Fatalf("encoding/json read %q, DecodeJSON: %v", b, err)
			}
			if !reflect.DeepEqual(gotAny, wantAny) {
				t.Fatalf("%q: DecodeJSON read %#v, encoding/json %#v", b, gotAny, wantAny)
			}
		}
	})
}

// BenchmarkDecodeJSON compares DecodeJSON with encoding/json on a spec
// column.
func BenchmarkDecodeJSON(b *testing.B) {
	col := []byte(`{"url":"https://example.com/v/1234","language":"en","task":"transcribe","priority":0,` +
		`"captions":"auto","cache":false,"metadata":{"k":"v"}}`)
	for _, dec := range []struct {
		name      string
		unmarshal func([]byte, any) error
	}{{"encoding-json", json.Unmarshal}, {"DecodeJSON", DecodeJSON}} {
		b.Run(dec.name, func(b *testing.B) {
			for b.Loop() {
				var r specRecord
				if err := dec.unmarshal(col, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

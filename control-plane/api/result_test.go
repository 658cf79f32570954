package api_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// The wire form of results is fixed: these bodies are what the flat
// JobResult and TaskResult types printed before they shared api.Result.
func TestResultWireForm(t *testing.T) {
	t.Parallel()
	full := api.Result{Language: "en", Duration: 61.5, Engine: "pocketsphinx", Model: "en-us", Title: "Talk",
		Origin: "asr", Segments: 12, Words: 80, Timings: map[string]float64{"download": 1.25, "transcribe": 9.5}}
	captions := full
	captions.Origin, captions.Timings = "captions", map[string]float64{"download": 1.25}
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"job result", &api.JobResult{Cached: true, Result: full},
			`{"cached":true,"language":"en","duration":61.5,"engine":"pocketsphinx","model":"en-us","title":"Talk","origin":"asr","segments":12,"words":80,"timings":{"download":1.25,"transcribe":9.5}}`},
		{"empty job result", &api.JobResult{},
			`{"cached":false,"duration":0,"segments":0,"words":0}`},
		{"task result", &api.TaskResult{Key: "results/j/t.json", Size: 2048, SHA256: "ab12", Result: captions},
			`{"key":"results/j/t.json","size":2048,"sha256":"ab12","language":"en","duration":61.5,"engine":"pocketsphinx","model":"en-us","title":"Talk","origin":"captions","segments":12,"words":80,"timings":{"download":1.25}}`},
		{"empty task result", &api.TaskResult{},
			`{"key":"","size":0,"sha256":"","duration":0,"segments":0,"words":0}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Fatalf("encoded\n got %s\nwant %s", b, tc.want)
			}
			// And the old body decodes into the same value.
			back := reflect.New(reflect.TypeOf(tc.v).Elem()).Interface()
			if err := json.Unmarshal([]byte(tc.want), back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tc.v) {
				t.Fatalf("decoded %+v, want %+v", back, tc.v)
			}
		})
	}
}

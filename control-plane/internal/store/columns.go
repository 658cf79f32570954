package store

import (
	gojson "github.com/goccy/go-json"
	"github.com/segmentio/encoding/json"
)

// Encoding shared by the backends: JSON columns. Columns of plain lists and
// maps use DecodeJSON and JSONArg directly; columns of structs go through
// their records (record.go).

// DecodeJSON decodes a JSON column into v; an empty one (SQL NULL) leaves v
// as it is. Every read of a job decodes its columns: go-json does it in a
// third of encoding/json's time, with the same result
// (FuzzDecodeJSONMatchesStdlib).
func DecodeJSON(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	return gojson.Unmarshal(b, v)
}

// JSONArg encodes v as JSON text for a JSON column; a nil pointer is SQL
// NULL. segmentio's encoder writes what encoding/json writes, byte for
// byte, in half the time (BenchmarkResponseEncoding).
func JSONArg[T any](v *T) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

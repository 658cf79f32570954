package store

import (
	"encoding/json"
)

// Encoding shared by the backends: JSON columns. Columns of plain lists and
// maps use DecodeJSON and JSONArg directly; columns of structs go through
// their records (record.go).

// DecodeJSON decodes a JSON column into v; an empty one (SQL NULL) leaves v
// as it is.
func DecodeJSON(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}

// JSONArg encodes v as JSON text for a JSON column; a nil pointer is SQL NULL.
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

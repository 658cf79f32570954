package store

import (
	"encoding/json"
)

// Encoding shared by the backends: JSON columns.

// DecodeJSON decodes a JSON column into v; an empty one (SQL NULL) leaves v
// as it is.
func DecodeJSON(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}

// DecodeJSONPtr decodes a JSON column into a new *T stored in *p, or nil for
// SQL NULL or JSON null.
func DecodeJSONPtr[T any](b []byte, p **T) error {
	if len(b) == 0 || string(b) == "null" {
		*p = nil
		return nil
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	*p = v
	return nil
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

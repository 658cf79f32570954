package backup

import (
	"errors"
	"fmt"
)

// Stable error codes. Scripts may match on them; the messages may change.
const (
	CodeBackupExists      = "backup_exists"      // the backup directory is not empty
	CodeManifestMissing   = "manifest_missing"   // no manifest.json: not a backup, or an unfinished one
	CodeManifestInvalid   = "manifest_invalid"   // unreadable manifest, or a format this build does not know
	CodeBackendMismatch   = "backend_mismatch"   // a PostgreSQL backup restored into SQLite, or the other way round
	CodeSchemaTooNew      = "schema_too_new"     // the backup was taken by a newer build than this one
	CodeSchemaMismatch    = "schema_mismatch"    // the restored database is not at the manifest's schema level or schema
	CodeChecksumMismatch  = "checksum_mismatch"  // a file of the backup is not what the manifest says
	CodeTargetNotEmpty    = "target_not_empty"   // the target database or blob store holds data (use --force)
	CodeSourceUnavailable = "source_unavailable" // the database or blob store to back up cannot be read
	CodeTargetUnavailable = "target_unavailable" // the database or blob store to restore into cannot be reached
	CodePGClientMissing   = "pg_client_missing"  // pg_dump / pg_restore not found
	CodePGClientMismatch  = "pg_client_mismatch" // pg_dump / pg_restore too old for the server or the archive
	CodeDumpFailed        = "dump_failed"        // pg_dump or VACUUM INTO failed
	CodeRestoreFailed     = "restore_failed"     // pg_restore or the file copy failed
	CodeObjectCopyFailed  = "object_copy_failed" // an object could not be read or written
	CodeInvalidConfig     = "invalid_config"     // a database URL or store setting that cannot be used
)

// Error is a backup or restore failure with a stable code.
type Error struct {
	Code string
	Err  error
}

func (e *Error) Error() string { return e.Code + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Code returns the stable code of err, or "" when it carries none.
func Code(err error) string {
	if e := (*Error)(nil); errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func fail(code, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

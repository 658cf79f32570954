package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Format is the layout version of backups this build writes and reads.
const Format = 1

// Files and directories of a backup directory.
const (
	ManifestFile = "manifest.json"
	IndexFile    = "objects.jsonl"
	ObjectsDir   = "objects"
	dumpFile     = "database.pgdump"
	sqliteFile   = "database.sqlite"
)

// Backends of the database section.
const (
	BackendPostgres = "postgres"
	BackendSQLite   = "sqlite"
)

// Manifest describes one backup. It is written last: a directory without
// one is an unfinished backup.
type Manifest struct {
	Format    int       `json:"format"`
	Version   string    `json:"ytcaption_version"` // build that took it
	CreatedAt time.Time `json:"created_at"`        // when the database snapshot was taken
	Database  Database  `json:"database"`
	Objects   Objects   `json:"objects"`
}

// Database is the database snapshot of a backup.
type Database struct {
	Backend string `json:"backend"` // postgres or sqlite
	File    string `json:"file"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	// SchemaVersion is the newest migration applied, as the snapshot saw it.
	SchemaVersion int `json:"schema_version"`
	// Schema is the PostgreSQL schema dumped (from the URL's search_path);
	// empty when the whole database was.
	Schema        string `json:"schema,omitempty"`
	ServerVersion int    `json:"server_version,omitempty"` // server_version_num of the source
	DumpMajor     int    `json:"pg_dump_major,omitempty"`  // pg_restore must be at least this

	// references are the blob keys the snapshot refers to, checked against
	// the copy.
	references []string
}

// Objects is the blob copy of a backup: IndexFile lists every object, and
// each object's bytes are under ObjectsDir by SHA-256.
type Objects struct {
	Source      string `json:"source"` // s3 or local
	Index       string `json:"index"`
	IndexSHA256 string `json:"index_sha256"`
	Count       int64  `json:"count"`
	Bytes       int64  `json:"bytes"`
	// Referenced counts the objects the database snapshot refers to
	// (results, uploads of unfinished jobs, artifacts); Missing lists those
	// of them the copy lacks (at most MaxMissingListed; MissingCount is
	// all of them).
	Referenced   int      `json:"referenced"`
	MissingCount int      `json:"missing_count"`
	Missing      []string `json:"missing,omitempty"`
}

// MaxMissingListed caps Objects.Missing.
const MaxMissingListed = 100

// Object is one line of the index.
type Object struct {
	Key         string            `json:"key"`
	Size        int64             `json:"size"`
	SHA256      string            `json:"sha256"`
	ContentType string            `json:"content_type,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// objectPath is where an object's bytes are kept: by content, so keys of
// any shape (even one that is a prefix of another) map to plain files, and
// equal objects are kept once.
func objectPath(sum string) string {
	return filepath.Join(ObjectsDir, sum[:2], sum)
}

// ReadManifest reads and checks the manifest of the backup in dir.
func ReadManifest(dir string) (Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, fail(CodeManifestMissing, "%s has no %s: not a backup, or one that did not finish", dir, ManifestFile)
	}
	if err != nil {
		return Manifest{}, fail(CodeManifestInvalid, "read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fail(CodeManifestInvalid, "parse manifest: %w", err)
	}
	if m.Format != Format {
		return Manifest{}, fail(CodeManifestInvalid, "backup format %d; this build reads format %d", m.Format, Format)
	}
	switch {
	case m.Database.Backend != BackendPostgres && m.Database.Backend != BackendSQLite:
		return Manifest{}, fail(CodeManifestInvalid, "unknown database backend %q", m.Database.Backend)
	case !validSum(m.Database.SHA256) || !validSum(m.Objects.IndexSHA256):
		return Manifest{}, fail(CodeManifestInvalid, "checksums missing or malformed")
	case m.Database.File != dumpFile && m.Database.File != sqliteFile, m.Objects.Index != IndexFile:
		return Manifest{}, fail(CodeManifestInvalid, "unexpected file names %q, %q", m.Database.File, m.Objects.Index)
	}
	return m, nil
}

func writeManifest(dir string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, ManifestFile), append(b, '\n'))
}

// writeFileAtomic writes b to a temporary file, syncs it and renames it
// into place, so a crash never leaves a half-written file under name.
func writeFileAtomic(name string, b []byte) error {
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return syncDir(filepath.Dir(name))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func validSum(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

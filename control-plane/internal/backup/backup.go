// Package backup takes and restores backups of a control plane's state: a
// consistent database snapshot (pg_dump's custom format for PostgreSQL,
// VACUUM INTO for SQLite) and a streamed copy of every blob with its
// content type and metadata, described by a manifest with checksums.
//
// The database snapshot is taken first and the objects copied after it, so
// every object the snapshot refers to is in the copy (blobs are written
// before the rows that name them, and results are never rewritten in
// place); objects newer than the snapshot are copied too and are harmless.
// The backup checks the snapshot's references against the copy and
// reports those missing in the manifest.
package backup

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ytcaption/ytcaption/internal/buildinfo"
)

// Config names one control plane's state: its database and blob store.
type Config struct {
	DatabaseURL string   // postgres://… or a SQLite path
	S3          S3Config // the blob store, when S3.Endpoint is set
	BlobDir     string   // the local blob directory otherwise (<data>/blobs)
	// PGBin is the directory holding pg_dump and pg_restore; empty looks on
	// PATH, then in Debian's /usr/lib/postgresql/<major>/bin.
	PGBin string
	// Parallel is how many objects are copied at once (default
	// DefaultParallel): small objects are bound by round trips, not bytes.
	Parallel int
}

// DefaultParallel is Config.Parallel's default.
const DefaultParallel = 8

func (c Config) parallel() int {
	if c.Parallel > 0 {
		return c.Parallel
	}
	return DefaultParallel
}

// Backup writes a backup of cfg's state into dir, which must be missing or
// empty, and returns its manifest.
func Backup(ctx context.Context, cfg Config, dir string, log *slog.Logger) (Manifest, error) {
	if err := prepareDir(dir); err != nil {
		return Manifest{}, err
	}
	m := Manifest{Format: Format, Version: buildinfo.Version(), CreatedAt: time.Now().UTC()}
	start := time.Now()
	var err error
	if isPostgres(cfg.DatabaseURL) {
		m.Database, err = dumpPostgres(ctx, cfg, dir, log)
	} else {
		m.Database, err = dumpSQLite(ctx, cfg, dir, log)
	}
	if err != nil {
		return Manifest{}, err
	}
	dbFile := filepath.Join(dir, m.Database.File)
	// pg_dump and VACUUM INTO create it by the umask.
	if err := os.Chmod(dbFile, 0o600); err != nil {
		return Manifest{}, &Error{Code: CodeDumpFailed, Err: err}
	}
	if m.Database.SHA256, m.Database.Size, err = hashFile(dbFile); err != nil {
		return Manifest{}, &Error{Code: CodeDumpFailed, Err: err}
	}
	log.InfoContext(ctx, "backup: database snapshot done", "bytes", m.Database.Size, "took", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	b, err := openBucket(ctx, cfg, false, log)
	if err != nil {
		return Manifest{}, err
	}
	defer b.Close()
	copied := map[string]bool{}
	m.Objects, err = copyOut(ctx, b, dir, cfg.parallel(), copied)
	if err != nil {
		return Manifest{}, err
	}
	checkReferences(&m, copied)
	if m.Objects.MissingCount > 0 {
		log.WarnContext(ctx, "backup: objects the database refers to are missing from the blob store; the backup is taken without them",
			"missing", m.Objects.MissingCount, "first", m.Objects.Missing[0])
	}
	log.InfoContext(ctx, "backup: objects copied", "from", b.Name(), "count", m.Objects.Count, "bytes", m.Objects.Bytes,
		"took", time.Since(start).Round(time.Millisecond))
	if err := writeManifest(dir, m); err != nil {
		return Manifest{}, fail(CodeDumpFailed, "write manifest: %w", err)
	}
	return m, nil
}

func prepareDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fail(CodeBackupExists, "backup directory %s: %w", dir, err)
	case len(entries) > 0:
		return fail(CodeBackupExists, "backup directory %s is not empty: give a new one for each backup", dir)
	}
	// 0700: the backup holds key hashes, webhook secrets and enrollment
	// tokens.
	if err := os.MkdirAll(filepath.Join(dir, ObjectsDir), 0o700); err != nil {
		return fail(CodeBackupExists, "create backup directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fail(CodeBackupExists, "backup directory %s: %w", dir, err)
	}
	return nil
}

// checkReferences records which objects the snapshot refers to are not in
// the copy: the snapshot came first, so each of them was already gone from
// the blob store (or deleted meanwhile, which only artifact deletes do).
func checkReferences(m *Manifest, copied map[string]bool) {
	seen := map[string]bool{}
	for _, k := range m.Database.references {
		if seen[k] {
			continue
		}
		seen[k] = true
		if !copied[k] {
			m.Objects.MissingCount++
			if len(m.Objects.Missing) < MaxMissingListed {
				m.Objects.Missing = append(m.Objects.Missing, k)
			}
		}
	}
	m.Objects.Referenced = len(seen)
}

// copyOut streams every object of b into dir by content, parallel at a
// time, writing the index as it goes and noting each key in copied;
// objects are streamed to disk, never held in memory.
func copyOut(ctx context.Context, b bucket, dir string, parallel int, copied map[string]bool) (Objects, error) {
	idx, err := os.OpenFile(filepath.Join(dir, IndexFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Objects{}, fail(CodeDumpFailed, "create index: %w", err)
	}
	defer idx.Close()
	h := sha256.New()
	w := bufio.NewWriter(io.MultiWriter(idx, h))
	enc := json.NewEncoder(w)
	objs := Objects{Source: b.Kind(), Index: IndexFile}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	var mu sync.Mutex
	walkErr := b.Walk(gctx, func(key string) error {
		g.Go(func() error {
			o, err := copyObjectOut(gctx, b, key, dir)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			objs.Count++
			objs.Bytes += o.Size
			copied[o.Key] = true
			return enc.Encode(o)
		})
		return gctx.Err() // a failed copy stops the listing
	})
	if err := cmp.Or(g.Wait(), walkErr); err != nil {
		return Objects{}, &Error{Code: CodeObjectCopyFailed, Err: err}
	}
	if err := w.Flush(); err != nil {
		return Objects{}, fail(CodeDumpFailed, "write index: %w", err)
	}
	if err := idx.Sync(); err != nil {
		return Objects{}, fail(CodeDumpFailed, "write index: %w", err)
	}
	objs.IndexSHA256 = hex.EncodeToString(h.Sum(nil))
	return objs, nil
}

func copyObjectOut(ctx context.Context, b bucket, key, dir string) (Object, error) {
	r, info, err := b.Open(ctx, key)
	if err != nil {
		return Object{}, fmt.Errorf("read %s: %w", key, err)
	}
	defer r.Close()
	tmp, err := os.CreateTemp(filepath.Join(dir, ObjectsDir), ".part-*")
	if err != nil {
		return Object{}, err
	}
	defer os.Remove(tmp.Name()) // gone already once renamed
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Object{}, fmt.Errorf("copy %s: %w", key, err)
	}
	o := Object{Key: key, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), ContentType: info.ContentType, Metadata: info.Metadata}
	dst := filepath.Join(dir, objectPath(o.SHA256))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return Object{}, err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return Object{}, err
	}
	return o, nil
}

// RestoreOptions tune a restore.
type RestoreOptions struct {
	// Force restores into a database or blob store that holds data: the
	// database is replaced, objects of the backup overwrite those of the
	// same key and other objects stay.
	Force bool
}

// Restore loads the backup in dir into cfg's database and blob store. It
// checks the whole backup's bookkeeping and both targets before it writes
// anything.
func Restore(ctx context.Context, cfg Config, dir string, opts RestoreOptions, log *slog.Logger) (Manifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return Manifest{}, err
	}
	backend := BackendSQLite
	if isPostgres(cfg.DatabaseURL) {
		backend = BackendPostgres
	}
	if backend != m.Database.Backend {
		return Manifest{}, fail(CodeBackendMismatch, "the backup holds a %s database; the target is %s", m.Database.Backend, backend)
	}
	latest, err := latestSchema(backend)
	if err != nil {
		return Manifest{}, err
	}
	if m.Database.SchemaVersion > latest {
		return Manifest{}, fail(CodeSchemaTooNew, "the backup is at schema version %d, this build knows up to %d: restore with ytcaption %s or newer",
			m.Database.SchemaVersion, latest, m.Version)
	}
	dbFile := filepath.Join(dir, m.Database.File)
	if err := checkFile(dbFile, m.Database.SHA256, m.Database.Size); err != nil {
		return Manifest{}, err
	}
	if err := checkFile(filepath.Join(dir, m.Objects.Index), m.Objects.IndexSHA256, -1); err != nil {
		return Manifest{}, err
	}

	db, err := openDBTarget(ctx, cfg, m, log)
	if err != nil {
		return Manifest{}, err
	}
	defer db.Close()
	if !opts.Force {
		if err := checkEmpty(ctx, "the target database", db); err != nil {
			return Manifest{}, err
		}
	}
	// Only now: opening creates a missing bucket or directory.
	b, err := openBucket(ctx, cfg, true, log)
	if err != nil {
		return Manifest{}, err
	}
	defer b.Close()
	if !opts.Force {
		if err := checkEmpty(ctx, "the target blob store "+b.Name(), b); err != nil {
			return Manifest{}, err
		}
	}

	start := time.Now()
	if err := db.Restore(ctx, dbFile); err != nil {
		return Manifest{}, &Error{Code: CodeRestoreFailed, Err: err}
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return Manifest{}, &Error{Code: CodeRestoreFailed, Err: err}
	}
	if v != m.Database.SchemaVersion {
		return Manifest{}, fail(CodeSchemaMismatch, "the restored database is at schema version %d, the manifest says %d", v, m.Database.SchemaVersion)
	}
	log.InfoContext(ctx, "restore: database restored", "schema_version", v, "took", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	if err := copyIn(ctx, b, dir, m, cfg.parallel()); err != nil {
		return Manifest{}, err
	}
	log.InfoContext(ctx, "restore: objects copied", "to", b.Name(), "count", m.Objects.Count, "bytes", m.Objects.Bytes,
		"took", time.Since(start).Round(time.Millisecond))
	return m, nil
}

type emptier interface {
	Empty(ctx context.Context) (bool, error)
}

func checkEmpty(ctx context.Context, what string, target emptier) error {
	empty, err := target.Empty(ctx)
	if err != nil {
		return &Error{Code: CodeTargetUnavailable, Err: fmt.Errorf("%s: %w", what, err)}
	}
	if !empty {
		return fail(CodeTargetNotEmpty, "%s holds data: restore into a new one, or pass --force to replace what is there", what)
	}
	return nil
}

// copyIn puts every object of the index into b, checking each one's bytes
// against the index before it is uploaded.
func copyIn(ctx context.Context, b bucket, dir string, m Manifest, parallel int) error {
	return eachObject(ctx, dir, m, parallel, func(ctx context.Context, o Object, f *os.File) error {
		if err := b.Put(ctx, o.Key, f, o.Size, objectInfo{ContentType: o.ContentType, Metadata: o.Metadata}); err != nil {
			return &Error{Code: CodeObjectCopyFailed, Err: fmt.Errorf("put %s: %w", o.Key, err)}
		}
		return nil
	})
}

// Verify checks a backup without restoring it: the manifest, the database
// snapshot and every object against their checksums.
func Verify(ctx context.Context, dir string, parallel int) (Manifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return Manifest{}, err
	}
	if err := checkFile(filepath.Join(dir, m.Database.File), m.Database.SHA256, m.Database.Size); err != nil {
		return Manifest{}, err
	}
	if err := checkFile(filepath.Join(dir, m.Objects.Index), m.Objects.IndexSHA256, -1); err != nil {
		return Manifest{}, err
	}
	err = eachObject(ctx, dir, m, max(parallel, 1), func(context.Context, Object, *os.File) error { return nil })
	if err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// eachObject reads the index and calls fn, parallel at a time, with each
// object and its file, checked against the index's checksum and rewound.
// A damaged object is skipped, so one bad file does not hold back the
// rest; the damaged ones are reported together at the end. The index must
// add up to the manifest's count and bytes.
func eachObject(ctx context.Context, dir string, m Manifest, parallel int, fn func(context.Context, Object, *os.File) error) error {
	idx, err := os.Open(filepath.Join(dir, m.Objects.Index))
	if err != nil {
		return fail(CodeManifestInvalid, "open index: %w", err)
	}
	defer idx.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	var count, bytes int64
	var mu sync.Mutex
	var damaged []error
	dec := json.NewDecoder(bufio.NewReader(idx))
	for gctx.Err() == nil {
		var o Object
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			g.Go(func() error { return fail(CodeManifestInvalid, "read index: %w", err) })
			break
		}
		if !validSum(o.SHA256) {
			g.Go(func() error { return fail(CodeManifestInvalid, "index: object %q has a malformed checksum", o.Key) })
			break
		}
		count++
		bytes += o.Size
		g.Go(func() error {
			f, err := openChecked(dir, o)
			if err != nil {
				mu.Lock()
				defer mu.Unlock()
				damaged = append(damaged, err)
				return nil
			}
			defer f.Close()
			return fn(gctx, o, f)
		})
	}
	if err := cmp.Or(g.Wait(), ctx.Err()); err != nil {
		return err
	}
	if len(damaged) > 0 {
		return fail(CodeChecksumMismatch, "%d damaged objects (the others were processed): %w", len(damaged), errors.Join(damaged[:min(len(damaged), 10)]...))
	}
	if count != m.Objects.Count || bytes != m.Objects.Bytes {
		return fail(CodeChecksumMismatch, "the index lists %d objects (%d bytes), the manifest %d (%d bytes)", count, bytes, m.Objects.Count, m.Objects.Bytes)
	}
	return nil
}

// openChecked opens an object's file, checked against the index and
// rewound.
func openChecked(dir string, o Object) (*os.File, error) {
	f, err := os.Open(filepath.Join(dir, objectPath(o.SHA256)))
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", o.Key, err)
	}
	if err := checkReader(f, o.SHA256, o.Size); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("object %s: %w", o.Key, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// checkFile compares a file of the backup with its checksum (and size,
// unless size is -1).
func checkFile(path, sum string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fail(CodeChecksumMismatch, "%w", err)
	}
	defer f.Close()
	if err := checkReader(f, sum, size); err != nil {
		return fail(CodeChecksumMismatch, "%s: %w", filepath.Base(path), err)
	}
	return nil
}

func checkReader(r io.Reader, sum string, size int64) error {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return err
	}
	if size >= 0 && n != size {
		return fmt.Errorf("%d bytes, want %d", n, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("sha256 %s, want %s", got, sum)
	}
	return nil
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

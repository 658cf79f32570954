// Package blob stores artifacts (uploaded media, transcripts) and hands out
// presigned URLs for them, so agents read and write objects without ever
// holding storage credentials.
//
// Two stores share one method set: S3 (MinIO or any S3 service, via
// minio-go) and Local (a directory on disk, the embedded default, whose
// presigned URLs point back at the control plane and are served by
// (*Local).Handler). Consumers declare the small interface they need.
package blob

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	// ErrNotFound reports that no object exists under a key.
	ErrNotFound = errors.New("blob: object not found")
	// ErrInvalidKey reports a key that no store accepts (see CheckKey).
	ErrInvalidKey = errors.New("blob: invalid key")
	// ErrSizeMismatch reports that a Put read more or fewer bytes than declared.
	ErrSizeMismatch = errors.New("blob: size mismatch")
)

// MaxKeyLen is the longest key accepted, in bytes (S3's own limit).
const MaxKeyLen = 1024

// Presign TTL bounds. S3 signatures (SigV4) cannot outlive seven days; the
// local store applies the same bounds so both behave alike.
const (
	MinPresignTTL = time.Second
	MaxPresignTTL = 7 * 24 * time.Hour
)

// ResultKey is where the transcript of one attempt of a task goes. The attempt
// is part of the key so a rescued task's late upload never clobbers the
// result of the attempt that replaced it.
func ResultKey(jobID, taskID string, attempt int) string {
	return "jobs/" + jobID + "/tasks/" + taskID + "/attempt-" + strconv.Itoa(attempt) + "/transcript.json"
}

// ChunkKey is where chunk i of the audio a prepare task split goes. The
// fencing token is part of the key: a prepare run again (a rescue, a
// replan) writes new objects, never the chunks an earlier run's tasks read.
func ChunkKey(jobID, taskID string, token int64, i int) string {
	return "jobs/" + jobID + "/tasks/" + taskID + "/token-" + strconv.FormatInt(token, 10) + "/chunk-" + strconv.Itoa(i) + ".wav"
}

// MediaKey is where the browser-playable copy of a job's audio goes (Ogg
// Opus). One per job: every attempt encodes the same source, so a late
// upload from a rescued attempt writes what the next one would.
func MediaKey(jobID string) string {
	return "jobs/" + jobID + "/media/playback.ogg"
}

// UploadKey is where media uploaded with a job is kept.
func UploadKey(jobID string) string {
	return "uploads/" + jobID + "/source"
}

// CheckKey reports whether key is acceptable to every store: slash-separated
// non-empty segments of printable UTF-8, none starting with "." (which also
// rules out "." and ".."), no backslashes, at most MaxKeyLen bytes. The rules
// are strict on purpose: keys become file paths in the local store, and a key
// that is valid on one backend must be valid on the other.
func CheckKey(key string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, why)
	}
	switch {
	case key == "":
		return bad("empty")
	case len(key) > MaxKeyLen:
		return bad("longer than " + strconv.Itoa(MaxKeyLen) + " bytes")
	case !utf8.ValidString(key):
		return bad("not valid UTF-8")
	case strings.Contains(key, ".."):
		return bad(`contains ".."`)
	case strings.ContainsRune(key, '\\'):
		return bad("contains a backslash")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return bad("contains a control character")
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" {
			return bad("empty path segment (leading, trailing or double slash)")
		}
		if seg[0] == '.' {
			return bad(`path segment starts with "."`)
		}
	}
	return nil
}

func checkTTL(ttl time.Duration) error {
	if ttl < MinPresignTTL || ttl > MaxPresignTTL {
		return fmt.Errorf("blob: presign ttl %s outside [%s, %s]", ttl, MinPresignTTL, MaxPresignTTL)
	}
	return nil
}

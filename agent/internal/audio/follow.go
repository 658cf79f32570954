package audio

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// followPoll is how often a follower looks for more of a file being written.
const followPoll = 5 * time.Millisecond

// Follow reads the samples of a WAV file while ffmpeg is still writing it
// (Extract): raw s16le after the header, and at the end of what is written
// so far, it waits for more until written is closed (then it reads the rest
// and ends) or ctx ends (then it fails). A recognizer reading it never slows
// the extraction, which writes the file at its own pace.
func Follow(ctx context.Context, path string, written <-chan struct{}) io.ReadCloser {
	return &follower{ctx: ctx, path: path, written: written}
}

type follower struct {
	ctx     context.Context
	path    string
	written <-chan struct{}
	f       *os.File
	inData  bool // past the header
	done    bool // written was closed: the file is complete
}

func (r *follower) Read(p []byte) (int, error) {
	if !r.inData {
		if err := r.skipHeader(); err != nil {
			return 0, err
		}
	}
	return r.read(p)
}

// read reads from the file, waiting at its end while it is being written.
func (r *follower) read(p []byte) (int, error) {
	for {
		if r.f == nil {
			f, err := os.Open(r.path)
			switch {
			case err == nil:
				r.f = f
			case !errors.Is(err, os.ErrNotExist):
				return 0, fmt.Errorf("follow %s: %w", r.path, err)
			case r.done:
				return 0, io.EOF // never written: the extraction failed
			}
		}
		if r.f != nil {
			n, err := r.f.Read(p)
			if n > 0 || (err != nil && !errors.Is(err, io.EOF)) {
				return n, err
			}
			if r.done {
				return 0, io.EOF
			}
		}
		if err := r.wait(); err != nil {
			return 0, err
		}
	}
}

// wait returns when there may be more to read.
func (r *follower) wait() error {
	t := time.NewTimer(followPoll)
	defer t.Stop()
	select {
	case <-r.ctx.Done():
		return r.ctx.Err()
	case <-r.written:
		r.done = true // one more read gets what was written last
	case <-t.C:
	}
	return nil
}

// skipHeader reads up to the samples: RIFF/WAVE, then chunks until "data".
func (r *follower) skipHeader() error {
	var riff [12]byte
	if _, err := io.ReadFull(readerFunc(r.read), riff[:]); err != nil {
		return fmt.Errorf("read wav header: %w", err)
	}
	if string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		return errors.New("not a RIFF/WAVE file")
	}
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(readerFunc(r.read), hdr[:]); err != nil {
			return fmt.Errorf("read wav chunk: %w", err)
		}
		if string(hdr[0:4]) == "data" {
			r.inData = true
			return nil
		}
		size := int64(binary.LittleEndian.Uint32(hdr[4:8]))
		if _, err := io.CopyN(io.Discard, readerFunc(r.read), size+size%2); err != nil {
			return fmt.Errorf("skip wav chunk: %w", err)
		}
	}
}

// Close closes the file.
func (r *follower) Close() error {
	if r.f != nil {
		return r.f.Close()
	}
	return nil
}

type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

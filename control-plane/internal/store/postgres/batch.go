package postgres

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Group commit. The busiest writes (job creation and the task changes agents
// report) go through a batcher: a few writer goroutines each take the calls
// waiting at that moment and write them in one transaction, so a busy
// replica pays one commit and a handful of round trips for many calls
// instead of several round trips and a commit each. When idle, a call is
// written alone at once: batches only form while the writers are busy, so
// nothing ever waits for a timer.

// writeTimeout bounds one group-commit transaction.
const writeTimeout = 30 * time.Second

// genericPlans makes a group-commit transaction run its statements on their
// cached generic plans. They are few and fixed, driven by keys and arrays
// of rows whose values do not change the best plan, yet PostgreSQL planned
// them afresh on every call (it estimated custom plans cheaper): a tenth of
// its time in a burn-down. Other statements keep the default, where a
// custom plan can drop an unused optional filter (docs/performance.md,
// "Round two, eighth pass").
const genericPlans = `SET LOCAL plan_cache_mode = force_generic_plan`

// groupCommit runs write for a whole batch in one transaction and, once it
// has committed, the answers write returned. If the transaction fails, each
// call is written again on its own, so one bad call fails alone.
func groupCommit[Q, R any](s *Store, batch []*call[Q, R], write batchWrite[Q, R]) {
	err := commitBatch(s, batch, write)
	switch {
	case err == nil:
	case len(batch) > 1:
		for _, c := range batch {
			groupCommit(s, []*call[Q, R]{c}, write)
		}
	default:
		var zero R
		batch[0].answer(zero, mapErr(err))
	}
}

// batchWrite writes a batch in tx and returns what answers its calls once
// the transaction has committed.
type batchWrite[Q, R any] func(context.Context, *pipeTx, []*call[Q, R]) (answer func(context.Context), err error)

// commitBatch runs write for a whole batch in one transaction and, if it
// commits, the answers write returned; otherwise it answers no call.
func commitBatch[Q, R any](s *Store, batch []*call[Q, R], write batchWrite[Q, R]) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	var answer func(context.Context)
	err := s.inPipe(ctx, func(tx *pipeTx) error {
		tx.later(genericPlans)
		var err error
		answer, err = write(ctx, tx, batch)
		return err
	})
	if err != nil {
		return err
	}
	answer(ctx)
	return nil
}

// ErrClosed is returned for work handed to a closed store.
var ErrClosed = errors.New("postgres: store closed")

// result is a call's answer.
type result[R any] struct {
	val R
	err error
}

// call is one request waiting in a batcher. Its context is the caller's,
// for work that should not be done for a caller that has gone.
type call[Q, R any] struct {
	ctx  context.Context
	req  Q
	done chan result[R] // buffered: a writer never waits for the caller
}

func (c *call[Q, R]) answer(v R, err error) { c.done <- result[R]{v, err} }

type batcher[Q, R any] struct {
	calls   chan *call[Q, R]
	stop    chan struct{} // closed by close: writers finish their batch and exit
	stopped chan struct{} // closed once they have and the queue is drained
	once    sync.Once
	wg      sync.WaitGroup
}

// newBatcher starts writers goroutines that pass batches of at most max
// calls to write, which must answer every call.
func newBatcher[Q, R any](writers, max int, write func([]*call[Q, R])) *batcher[Q, R] {
	b := &batcher[Q, R]{calls: make(chan *call[Q, R], max), stop: make(chan struct{}), stopped: make(chan struct{})}
	for range writers {
		b.wg.Go(func() {
			for {
				var first *call[Q, R]
				select {
				case <-b.stop:
					return
				case first = <-b.calls:
				}
				batch := []*call[Q, R]{first}
			fill:
				for len(batch) < max {
					select {
					case c := <-b.calls:
						batch = append(batch, c)
					default:
						break fill
					}
				}
				write(batch)
			}
		})
	}
	return b
}

// do queues req and waits for its answer. Once queued, the request may be
// written even if ctx ends first: as with any commit racing a cancellation,
// the caller cannot tell, and the API's idempotency keys and fencing tokens
// make a retry safe.
func (b *batcher[Q, R]) do(ctx context.Context, req Q) (R, error) {
	var zero R
	select {
	case <-b.stop:
		return zero, ErrClosed
	default:
	}
	c := &call[Q, R]{ctx: ctx, req: req, done: make(chan result[R], 1)}
	select {
	case b.calls <- c:
	case <-b.stop:
		return zero, ErrClosed
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	var res result[R]
	select {
	case res = <-c.done:
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-b.stopped:
		// Queued after the queue was drained, or answered just before.
		select {
		case res = <-c.done:
		default:
			res.err = ErrClosed
		}
	}
	return res.val, res.err
}

// close stops the writers; calls still queued fail with ErrClosed.
func (b *batcher[Q, R]) close() {
	b.once.Do(func() {
		close(b.stop)
		b.wg.Wait()
		for {
			select {
			case c := <-b.calls:
				var zero R
				c.answer(zero, ErrClosed)
			default:
				close(b.stopped)
				return
			}
		}
	})
}

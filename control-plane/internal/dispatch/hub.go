// Package dispatch matches ready tasks to agents that long-poll for work. An
// agent's lease request is answered at once when work is ready; otherwise it
// waits for a wake-up (a job was submitted or requeued, here or on another
// replica) or for a jittered poll, whichever comes first, until its wait ends.
package dispatch

import "sync"

// Hub broadcasts wake-ups to the long-polls of this process. Waiters take the
// current channel before they look for work, so a wake-up that races with
// the look is never lost: it closes the channel they are about to wait on.
type Hub struct {
	mu sync.Mutex
	ch chan struct{}
}

// NewHub returns a hub with no waiters.
func NewHub() *Hub { return &Hub{ch: make(chan struct{})} }

// Wait returns a channel that is closed by the next Wake.
func (h *Hub) Wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ch
}

// Wake releases every current waiter.
func (h *Hub) Wake() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.ch)
	h.ch = make(chan struct{})
}

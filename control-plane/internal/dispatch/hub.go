// Package dispatch matches ready tasks to agents that long-poll for work. An
// agent's lease request is answered at once when work is ready; otherwise it
// waits for a wake-up (a job was submitted or requeued, here or on another
// replica) or for a jittered poll, whichever comes first, until its wait ends.
package dispatch

import (
	"container/list"
	"sync"
)

// Hub passes wake-ups to the long-polls of this process, one waiter at a
// time. A wake-up means "a task may be ready"; waking every waiter for it
// would send every idle agent's long-poll to the database to find one task
// (20 lease queries per submitted job with 20 idle agents, 10,000 with
// 10,000). Instead Wake wakes the waiter that has waited longest, and the
// woken waiter hands the wake-up on (Dispatcher.Lease): to the next waiter
// when it leased all it asked for (more may be ready), or when it leased
// nothing while a task is still ready (one it cannot run). A hand-over
// after an empty look carries a budget of the waiters left to try, so a
// task nobody here can run visits each waiter once, not forever.
//
// While other woken waiters are still looking, an empty look's hand-over
// is put off: the ready task it saw is, on a busy replica, most often one
// another woken waiter is about to lease (submitted after this look began,
// with a wake-up of its own). The last of those lookers hands it on, unless
// it saw nothing ready or leased all it asked for (Done). Handing on at once
// sent about six needless lease queries after each job at 200 jobs a second
// (docs/performance.md, "Round two, twelfth pass").
type Hub struct {
	mu      sync.Mutex
	waiters list.List // of *Ticket, oldest first
	looking int       // woken waiters whose look has not ended (Done)
	owing   bool      // a hand-over was put off while others looked
	owed    int       // its budget
}

// Ticket is one waiter's place in the hub. A waiter takes it before it
// looks for work, so a wake-up that races with the look is never lost: it
// lands in C, and the waiter looks again.
type Ticket struct {
	// C receives the hand-over budget of the wake-up that woke the waiter.
	C    chan int
	elem *list.Element // its place in Hub.waiters; nil once out (guarded by Hub.mu)
}

// NewHub returns a hub with no waiters.
func NewHub() *Hub { return &Hub{} } // the zero list is ready to use

// Wait queues a waiter and returns its ticket; the waiter must Leave it
// when it stops waiting.
func (h *Hub) Wait() *Ticket {
	t := &Ticket{C: make(chan int, 1)}
	h.mu.Lock()
	t.elem = h.waiters.PushBack(t)
	h.mu.Unlock()
	return t
}

// Leave takes a ticket out of the hub. A wake-up it received and did not
// act on is passed to the next waiter, so it is not lost.
func (h *Hub) Leave(t *Ticket) {
	h.mu.Lock()
	if t.elem != nil {
		h.waiters.Remove(t.elem)
		t.elem = nil
	}
	h.mu.Unlock()
	select {
	case budget := <-t.C:
		h.mu.Lock()
		defer h.mu.Unlock()
		h.looking-- // woken, but it will not look for this wake-up
		h.wakeLocked(nil, budget)
	default:
	}
}

// Done ends the look of a waiter that a wake-up woke. handOn >= 0 hands
// the wake-up on with that budget (the look failed, or found nothing while
// a task is ready); -1 hands nothing on. covered says no put-off hand-over
// is needed any more: the look saw that nothing is ready, or leased all it
// asked for (Dispatcher.Took then wakes the next waiter). from is the
// waiter's new ticket, if it waits again, which the hand-over skips.
func (h *Hub) Done(from *Ticket, handOn int, covered bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.looking--
	switch {
	case h.looking > 0 && handOn >= 0: // put off until the other looks end
		if !h.owing || handOn > h.owed {
			h.owed = handOn
		}
		h.owing = true
		return
	case h.looking == 0 && h.owing: // the last woken look: the put-off hand-over goes on with it
		h.owing = false
		if handOn >= 0 || !covered {
			handOn = max(handOn, h.owed)
		}
	}
	if handOn >= 0 {
		h.wakeLocked(from, handOn)
	}
}

// Wake wakes the longest-waiting waiter, with a budget that lets the
// wake-up visit every current waiter once.
func (h *Hub) Wake() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.wakeLocked(nil, h.waiters.Len()-1)
}

// Waiters returns how many waiters are queued.
func (h *Hub) Waiters() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.waiters.Len()
}

// WakeAll wakes every waiter, none of which hands an empty look on: for
// when wake-ups may have been missed (the cross-replica channel was down).
func (h *Hub) WakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.waiters.Len() > 0 {
		h.wakeLocked(nil, 0)
	}
}

func (h *Hub) wakeLocked(skip *Ticket, budget int) {
	e := h.waiters.Front()
	if e != nil && e.Value == skip {
		e = e.Next()
	}
	if e == nil {
		h.owing = false // no one left to try
		return
	}
	t := h.waiters.Remove(e).(*Ticket)
	t.elem = nil
	h.looking++
	t.C <- max(budget, 0) // never blocks: a ticket is woken at most once
}

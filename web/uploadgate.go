package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/vault"
)

// Uploads stream their body to the store while it arrives; on S3 each
// holds a 16 MiB part buffer for as long as it lasts. So that a few
// people (or one) cannot hold a node's memory with uploads that send a
// byte and then nothing:
//   - one account has at most UploadsPerAccount uploads in progress on a
//     node (429 past it);
//   - a node has at most UploadsPerNode (503 busy past it);
//   - an upload whose body sends less than uploadProgressBytes within
//     the idle timeout, at any point, ends (408; nothing of it becomes
//     visible): a byte now and then does not keep it;
//   - so does one that, after its first idle timeout, has sent less than
//     uploadFloorBytes per idle timeout on average: 64 KiB a minute does
//     not keep it for days.
const (
	UploadsPerAccount        = 4
	UploadsPerNode           = 16
	DefaultUploadIdleTimeout = 60 * time.Second
)

// errUploadIdle: an upload's body sent nothing for the idle timeout.
var errUploadIdle = errors.New("upload idle")

type uploadGate struct {
	mu        sync.Mutex
	byAccount map[string]int
	total     int
}

// startUpload takes a place for an upload by account, or answers the
// refusal and returns ok false. release gives the place back.
func (a *API) startUpload(w http.ResponseWriter, r *http.Request, accountID string) (release func(), ok bool) {
	g := &a.uploads
	g.mu.Lock()
	var err error
	switch {
	case g.byAccount[accountID] >= UploadsPerAccount:
		err = &fault.RateLimitedError{RetryAfter: 10 * time.Second,
			Reason: fmt.Sprintf("you already have %d uploads in progress, the most one person may have at once; wait for one to finish", UploadsPerAccount)}
	case g.total >= UploadsPerNode:
		err = &fault.BusyError{RetryAfter: 10 * time.Second,
			Detail: "Too many uploads are in progress on the server right now. Try again in a few seconds."}
	default:
		if g.byAccount == nil {
			g.byAccount = map[string]int{}
		}
		g.byAccount[accountID]++
		g.total++
	}
	g.mu.Unlock()
	if err != nil {
		// The body is not read: the connection is not kept for it.
		w.Header().Set("Connection", "close")
		a.writeError(w, r, err)
		return nil, false
	}
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.total--
		if g.byAccount[accountID]--; g.byAccount[accountID] <= 0 {
			delete(g.byAccount, accountID)
		}
	}, true
}

// uploadProgressBytes is how much of an upload must arrive within each
// idle timeout: a body that sends less (a trickle of a byte now and then
// keeps a connection "active") would otherwise hold its upload's place,
// and on S3 its part buffer, for as long as it likes.
const uploadProgressBytes = 64 << 10

// uploadFloorBytes is how much of an upload must arrive, on average, in
// each idle timeout after its first: 1 MiB a minute (about 17 KiB/s,
// 140 kbit/s) by default, a third of a slow 3G uplink (384 kbit/s), so a
// phone on a poor connection meets it with margin. The first idle
// timeout is an allowance (connection setup, slow start, a short loss of
// signal) in which nothing is asked, and anything shorter than it passes
// whatever its speed. Without this floor, 64 KiB a minute kept an upload
// going without end (a 2 GiB body: about 22 days), and 16 such uploads
// held a node's places, and on S3 their 16 MiB part buffers, for weeks.
// With it an upload of n declared bytes (Content-Length, or at most the
// largest document allowed) waits for its client at most one idle
// timeout plus n at 1 MiB a minute: 11 minutes for 10 MiB, about 34
// hours for 2 GiB, and only an upload that sends that much lasts that
// long.
const uploadFloorBytes = 1 << 20

// idleBody is an upload's body that ends with errUploadIdle when less than
// uploadProgressBytes arrives within idle of waiting for the client, or
// when, after the first idle of waiting, less than uploadFloorBytes per
// idle has arrived on average. Only the time spent blocked inside Read
// counts (waited, total), not the time the store spends between reads (on
// S3 the sealing goroutine stops reading while a 16 MiB part uploads,
// which a stalled store can stretch past the idle timeout). Before each
// read the connection's deadline is set to what is left under both rules;
// waited starts again each time uploadProgressBytes has arrived, not at
// every read.
type idleBody struct {
	r      io.Reader
	rc     *http.ResponseController
	idle   time.Duration
	timed  bool          // ended by either rule
	slow   bool          // ended by the floor (uploadFloorBytes)
	waited time.Duration // time blocked in Read since the last mark
	since  int64         // bytes read since the last mark
	total  time.Duration // time blocked in Read in all
	got    int64         // bytes read in all
}

func (a *API) idleBody(w http.ResponseWriter, r *http.Request) *idleBody {
	d := a.uploadIdle
	if d <= 0 {
		d = DefaultUploadIdleTimeout
	}
	return &idleBody{r: r.Body, rc: http.NewResponseController(w), idle: d}
}

func (b *idleBody) Read(p []byte) (int, error) {
	left, byFloor := b.idle-b.waited, false
	// The floor: by total, got must be at least
	// uploadFloorBytes*(total-idle)/idle.
	if f := b.idle + time.Duration(float64(b.got)/uploadFloorBytes*float64(b.idle)) - b.total; f < left {
		left, byFloor = f, true
	}
	if left <= 0 {
		return 0, b.idleError(byFloor)
	}
	start := time.Now()
	set := b.rc.SetReadDeadline(start.Add(left)) == nil
	n, err := b.r.Read(p)
	if set {
		b.rc.SetReadDeadline(time.Time{})
	}
	d := time.Since(start)
	b.waited += d
	b.total += d
	b.got += int64(n)
	if b.since += int64(n); b.since >= uploadProgressBytes {
		b.since, b.waited = 0, 0
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, b.idleError(byFloor)
	}
	return n, err
}

func (b *idleBody) idleError(byFloor bool) error {
	b.timed, b.slow = true, byFloor
	if byFloor {
		return fmt.Errorf("less than %d MiB per %s arrived on average: %w", uploadFloorBytes>>20, b.idle, errUploadIdle)
	}
	return fmt.Errorf("less than %d KiB arrived in %s: %w", uploadProgressBytes>>10, b.idle, errUploadIdle)
}

// uploadIdleFailed answers an upload that ended because its body went
// idle, whatever error the store reported for it.
func (a *API) uploadIdleFailed(w http.ResponseWriter, r *http.Request, b *idleBody) {
	w.Header().Set("Connection", "close")
	if b.slow {
		writeProblem(w, r, problem{Type: api.ProblemRequestTimeout, Title: "The upload arrived too slowly", Status: http.StatusRequestTimeout,
			Detail: fmt.Sprintf("The upload arrived too slowly (less than %d MiB in %s on average), so it was stopped and nothing of it was kept. Send it again from a faster connection, such as Wi-Fi.", uploadFloorBytes>>20, inWordsSeconds(b.idle))})
		return
	}
	writeProblem(w, r, problem{Type: api.ProblemRequestTimeout, Title: "The upload stopped arriving", Status: http.StatusRequestTimeout,
		Detail: fmt.Sprintf("The upload stopped arriving, or arrived too slowly (less than %d KiB in %s), so it was stopped and nothing of it was kept. Send it again.", uploadProgressBytes>>10, inWordsSeconds(b.idle))})
}

func inWordsSeconds(d time.Duration) string {
	if d%time.Minute == 0 && d >= time.Minute {
		if d == time.Minute {
			return "a minute"
		}
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return fmt.Sprintf("%d seconds", int((d+time.Second-1)/time.Second))
}

// receiveUpload runs store with the request's body within an upload's
// place (startUpload) and idle bound, and answers a failure; ok is false
// when it answered.
func (a *API) receiveUpload(w http.ResponseWriter, r *http.Request, store func(body io.Reader) (vault.Document, error)) (d vault.Document, ok bool) {
	actor, _ := actorFrom(r.Context())
	release, ok := a.startUpload(w, r, actor.ID)
	if !ok {
		return vault.Document{}, false
	}
	defer release()
	body := a.idleBody(w, r)
	d, err := store(body)
	if err != nil {
		if body.timed {
			a.uploadIdleFailed(w, r, body)
		} else {
			a.uploadFailed(w, r, err)
		}
		return vault.Document{}, false
	}
	return d, true
}

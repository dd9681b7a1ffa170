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
//     visible): a byte now and then does not keep it.
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

// idleBody is an upload's body that ends with errUploadIdle when less than
// uploadProgressBytes arrives within idle of waiting for the client: only
// the time spent blocked inside Read counts (waited), not the time the
// store spends between reads (on S3 the sealing goroutine stops reading
// while a 16 MiB part uploads, which a stalled store can stretch past the
// idle timeout). Before each read the connection's deadline is set to
// what is left of idle; waited starts again each time that much has
// arrived, not at every read.
type idleBody struct {
	r      io.Reader
	rc     *http.ResponseController
	idle   time.Duration
	timed  bool
	waited time.Duration // time blocked in Read since the last mark
	since  int64         // bytes read since the last mark
}

func (a *API) idleBody(w http.ResponseWriter, r *http.Request) *idleBody {
	d := a.uploadIdle
	if d <= 0 {
		d = DefaultUploadIdleTimeout
	}
	return &idleBody{r: r.Body, rc: http.NewResponseController(w), idle: d}
}

func (b *idleBody) Read(p []byte) (int, error) {
	left := b.idle - b.waited
	if left <= 0 {
		return 0, b.idleError()
	}
	start := time.Now()
	set := b.rc.SetReadDeadline(start.Add(left)) == nil
	n, err := b.r.Read(p)
	if set {
		b.rc.SetReadDeadline(time.Time{})
	}
	b.waited += time.Since(start)
	if b.since += int64(n); b.since >= uploadProgressBytes {
		b.since, b.waited = 0, 0
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, b.idleError()
	}
	return n, err
}

func (b *idleBody) idleError() error {
	b.timed = true
	return fmt.Errorf("less than %d KiB arrived in %s: %w", uploadProgressBytes>>10, b.idle, errUploadIdle)
}

// uploadIdleFailed answers an upload that ended because its body went
// idle, whatever error the store reported for it.
func (a *API) uploadIdleFailed(w http.ResponseWriter, r *http.Request, b *idleBody) {
	w.Header().Set("Connection", "close")
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

package web

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// An upload's idle timeout counts only the time spent waiting for the
// client, not the store's pauses between reads: on S3 the sealing
// goroutine stops reading while a 16 MiB part uploads, and a part upload
// or a stalled MinIO can take longer than the idle timeout. Here the
// client sends 3 MiB at once; the consumer reads 1 MiB, pauses one and a
// half idle timeouts as the store would, and reads on: the upload
// completes. Before, the read deadline was fixed from the last 64 KiB
// mark, so the read after the pause began past it and the upload ended
// "arrived too slowly" (408) although the client had sent everything.
func TestUploadIdleCountsOnlyWaitsForTheClient(t *testing.T) {
	const idle = time.Second
	a := &API{uploadIdle: idle}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := a.idleBody(w, r)
		n, err := io.CopyN(io.Discard, b, 1<<20)
		if err == nil {
			time.Sleep(idle * 3 / 2) // the store, not reading
			var m int64
			m, err = io.Copy(io.Discard, b)
			n += m
		}
		if err != nil {
			w.Header().Set("Connection", "close")
			http.Error(w, fmt.Sprintf("after %d bytes (timed %v): %v", n, b.timed, err), http.StatusRequestTimeout)
			return
		}
		fmt.Fprint(w, n)
	}))
	defer srv.Close()
	const size = 3 << 20
	res, err := http.Post(srv.URL, "application/octet-stream", bytes.NewReader(make([]byte, size)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(got) != fmt.Sprint(size) {
		t.Fatalf("an upload sent at once, read with a pause of the store's: %d %s", res.StatusCode, got)
	}
}
